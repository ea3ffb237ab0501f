"""The fabric gate serving reads: the verify play's one verdict, asked about the serving hosts."""
from ansible_collections.npu.cluster.plugins.plugin_utils.gate import gate_verdict

PROBLEM = "n2 device 3: link is not UP (check link, value DOWN)"


def report(n2_ok=True, bypassed=False, hosts=("n1", "n2")):
    verdicts = {"n1": {"passed": True, "problems": []},
                "n2": {"passed": n2_ok, "problems": [] if n2_ok else [PROBLEM]}}
    return {"verdict": "PASS" if n2_ok else "FAIL", "bypassed": bypassed,
            "hosts": {h: verdicts[h] for h in hosts}}


def test_passes_only_when_every_serving_host_passed():
    assert gate_verdict(report(), ["n1", "n2"]) == {
        "passed": True, "bypassed": False, "missing": [], "failing": [], "problems": [],
        "message": ""}
    v = gate_verdict(report(n2_ok=False), ["n1", "n2"])
    assert v["passed"] is False and v["failing"] == ["n2"] and v["problems"] == [PROBLEM]
    assert v["message"] == "the fabric check failed on n2:\n  - " + PROBLEM
    # a failing host that does not serve does not stop serving on the others
    assert gate_verdict(report(n2_ok=False), ["n1"])["passed"] is True


def test_missing_verdict_or_host():
    v = gate_verdict(None, ["n1", "n2"])
    assert v["passed"] is False and v["missing"] == ["n1", "n2"]
    assert v["message"] == ("the fabric check did not run on n1, n2 in this play run (run "
                            "site.yml, or add --tags verify)")
    v = gate_verdict(report(hosts=("n1",)), ["n1", "n2"])
    assert v["passed"] is False and v["missing"] == ["n2"]
    allowed = gate_verdict(None, ["n1"], allow_missing=True)
    assert allowed["passed"] is True and allowed["bypassed"] is True


def test_bypass_here_or_at_verify():
    assert gate_verdict(report(n2_ok=False), ["n2"], bypass=True)["bypassed"] is True
    # the verify play's own bypass is honoured
    assert gate_verdict(report(n2_ok=False, bypassed=True), ["n2"])["passed"] is True
    assert gate_verdict(report(n2_ok=False, bypassed="False"), ["n2"])["passed"] is False
