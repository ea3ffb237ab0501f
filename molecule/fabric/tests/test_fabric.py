"""After verify (check, converge, idempotence): on the nodes verify is read-only, so the
simulated hardware state and hccn.conf are byte for byte what they were and nothing is left
running; on the controller it wrote the verdict, which covers every device of both nodes.
(A broken link failing the verdict is the scenario's side effect.)"""
import json

import testinfra

CONTROLLER = testinfra.get_host("local://")
REPORT = "/tmp/molecule-fabric-artifacts/fabric-report.json"


def test_state_and_hccn_conf_untouched(host):
    # prepare recorded their checksums; check, converge and idempotence must not change them
    assert host.run("md5sum -c /root/prepare.md5").rc == 0


def test_no_tool_process_or_module_left(host):
    for tool in ("hccn_tool", "npu-smi"):
        assert host.run("pgrep -x %s" % tool).rc == 1, tool
    assert host.run("pgrep -f '[A]nsiballZ_'").rc == 1
    assert host.run("ls -A /root/.ansible/tmp 2>/dev/null").stdout.strip() == ""


def test_verdict_covers_every_device_of_this_node(host):
    report = json.loads(CONTROLLER.file(REPORT).content_string)
    name = host.backend.get_hostname()
    assert report["verdict"] == "PASS"
    assert report["devices"] == 16
    mine = report["hosts"][name]
    assert mine["passed"] is True and mine["problems"] == []
    assert [mine["cells"][str(d)] for d in range(16)] == ["OK"] * 16
