"""Readiness verdicts (serve_wait's pure core) and the fabric gate the serving plays read."""
import pytest

from ansible_collections.npu.cluster.plugins.module_utils import serving

BASE = {"host": "n1", "role": "headless", "served_name": "m", "started": True, "elapsed": 12}


@pytest.mark.parametrize("obs,state,text", [
    ({"started": False}, "failed", "n1: the engine was not started"),
    ({"exit_code": 1}, "failed", "n1: the headless engine exited with code 1 after 12s"),
    ({"health": (None, "")}, "waiting", "head API not answering yet (12s)"),
    ({"health": (503, '{"status": "starting: 2/4 data-parallel ranks"}')}, "waiting",
     "head /health 503: starting: 2/4 data-parallel ranks (12s)"),
    ({"health": (200, ""), "models": (200, '{"data": [{"id": "other"}]}')}, "failed",
     "the head is healthy but /v1/models lists other, not m"),
    ({"health": (200, ""), "models": (500, "oops")}, "failed", "lists nothing, not m"),
    ({"health": (200, ""), "models": (200, '{"data": [{"id": "m"}]}')}, "ready",
     "n1: ready, /health 200, serving m (12s)"),
])
def test_classify(obs, state, text):
    verdict = serving.classify(dict(BASE, **obs))
    assert verdict["state"] == state
    assert text in (verdict["problem"] or verdict["progress"])


def test_log_tail():
    assert serving.log_tail("a\nb\nc\n", 2) == ["b", "c"]
    assert serving.log_tail(b"", 5) == []
    log = ('INFO loading\nINFO 10.0.0.1 - "GET /health HTTP/1.1" 503 -\n'
           'INFO:     10.0.0.2:5312 - "GET /v1/models HTTP/1.1" 200 OK\nERROR died\n')
    assert serving.log_tail(log, 5) == ["INFO loading", "ERROR died"]


GOOD = {"passed": True, "node_passed": True, "problems": [], "bypassed": False}
BAD = {"passed": False, "node_passed": False, "bypassed": False,
       "problems": ["n2 device 3: link is not UP (check link, value DOWN)"]}


def test_gate_passes_only_when_every_node_passed():
    assert serving.gate_verdict({"n1": GOOD, "n2": GOOD})["passed"] is True
    v = serving.gate_verdict({"n1": GOOD, "n2": BAD})
    assert v["passed"] is False and v["failing"] == ["n2"]
    assert v["message"] == ("the fabric check failed on n2:\n"
                            "  - n2 device 3: link is not UP (check link, value DOWN)")


def test_gate_missing_and_bypass():
    v = serving.gate_verdict({"n1": None, "n2": GOOD})
    assert v["passed"] is False and v["missing"] == ["n1"]
    assert "did not run on n1 in this play run" in v["message"]
    assert serving.gate_verdict({"n1": None}, allow_missing=True)["bypassed"] is True
    assert serving.gate_verdict({"n2": BAD}, bypass=True)["passed"] is True
    # the verify play's own bypass is honoured (gate facts say bypassed)
    assert serving.gate_verdict({"n2": dict(BAD, bypassed="True")})["passed"] is True
    assert serving.gate_verdict({"n2": dict(BAD, node_passed="False")})["passed"] is False
