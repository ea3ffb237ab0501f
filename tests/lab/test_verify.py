"""`site.yml --tags verify` on lab clusters: healthy a2x2, a3x2 and gcux4 pass; every fault the
lab can inject fails the gate with a message naming node, device and check, and nothing is
started; check mode, skipped checks, the bypass and the summary artifacts."""
import json
import re

import pytest

FAST = "query_ms=50,ping_ms=300"


@pytest.fixture(scope="module")
def a3(lab_factory):
    return lab_factory("a3x2", latency=FAST)


@pytest.fixture(scope="module")
def a2(lab_factory):
    return lab_factory("a2x2", latency=FAST)


@pytest.fixture(scope="module")
def gcu(lab_factory):
    return lab_factory("gcux4", latency=FAST)


def verify(lab, tmp_path, *extra):
    return lab.playbook("site.yml", "--tags", "verify",
                        "-e", "fabric_artifacts_dir=%s" % tmp_path, *extra)


def nothing_started(lab):
    for i in range(len(lab.nodes)):
        assert lab.exec(i, "docker", "ps", "-q", check=True).stdout.strip() == ""


@pytest.mark.parametrize("lab_name,devices", [("a2", 8), ("a3", 16), ("gcu", 8)])
def test_healthy_cluster_passes(request, tmp_path, lab_name, devices):
    lab = request.getfixturevalue(lab_name)
    res = verify(lab, tmp_path)
    assert res.returncode == 0, res.stdout[-4000:]
    assert "verdict: PASS" in res.stdout
    report = json.loads((tmp_path / "fabric-report.json").read_text())
    assert report["verdict"] == "PASS" and report["devices"] == devices
    assert set(report["hosts"]) == {"%s-node-%d" % ("gcu" if lab_name == "gcu" else lab_name, i)
                                    for i in range(len(lab.nodes))}
    html = (tmp_path / "fabric-report.html").read_text()
    assert "<table>" in html and "PASS" in html


# (node index, fault args, device in the message, check)
A3_FAULTS = [
    (1, ["link-down", "3"], 3, "link"),
    (0, ["net-health", "5", "Socket fail"], 5, "net_health"),
    (1, ["net-health", "6", "Init"], 6, "net_health"),
    (0, ["no-ip", "2"], 2, "ip"),
    (1, ["stale-conf", "7"], 7, "hccn_conf"),
    (0, ["tls", "4", "1"], 4, "tls"),
    (1, ["unreachable", "9"], 9, "ping"),
    (1, ["vnic-down", "11"], 11, "vnic"),
    (0, ["lldp-missing", "12"], 12, "lldp"),
    (0, ["lldp-dup", "13", "12"], 13, "lldp"),
    (1, ["process", "1", "31337"], 1, "leftover_process"),
    (0, ["alarm", "14"], 14, "chip_health"),
    (1, ["no-hccn-tool"], None, "tool_output"),
]


@pytest.mark.parametrize("node,fault,device,check", A3_FAULTS,
                         ids=[f[1][0] + ("-" + f[1][2] if len(f[1]) > 2 else "")
                              for f in A3_FAULTS])
def test_each_fault_fails_the_gate_naming_node_device_check(a3, tmp_path, node, fault, device,
                                                            check):
    a3.npu_lab("fault", str(node), *fault)
    try:
        res = verify(a3, tmp_path)
    finally:
        a3.npu_lab("reset")
    out = res.stdout
    assert res.returncode != 0, out[-3000:]
    assert "Fabric verification FAILED" in out and "nothing will be started" in out
    where = "a3-node-%d" % node + ("" if device is None else " device %d" % device)
    assert re.search(r"- %s: [^\n]*\(check %s, value" % (re.escape(where), check), out), \
        out[out.find("Fabric verification FAILED"):][:3000]
    report = json.loads((tmp_path / "fabric-report.json").read_text())
    cell = report["hosts"]["a3-node-%d" % node]["cells"]["node" if device is None
                                                         else str(device)]
    assert check in cell
    nothing_started(a3)


def test_packet_loss_on_roce_a2(a2, tmp_path):
    a2.npu_lab("fault", "a2-node-0", "loss", "5", "100")
    try:
        res = verify(a2, tmp_path)
    finally:
        a2.npu_lab("reset")
    assert res.returncode != 0
    # the ring: node 1 pings node 0's device 5 (and node 0's device 5 pings node 1)
    assert re.search(r"a2-node-1 device 5: ping to a2-node-0 device 5 \(10\.\d+\.65\.16\) lost "
                     r"packets: 0/3 received \(check ping", res.stdout)


@pytest.mark.parametrize("fault,check,device", [(["gcu-unhealthy", "6"], "gcu_health", 6),
                                                (["eccl-slow", "2.0"], "eccl_bandwidth", None)])
def test_enflame_faults(gcu, tmp_path, fault, check, device):
    gcu.npu_lab("fault", "gcu-node-2", *fault)
    try:
        res = verify(gcu, tmp_path)
    finally:
        gcu.npu_lab("reset")
    assert res.returncode != 0
    where = "gcu-node-2" + ("" if device is None else " device %d" % device)
    assert re.search(r"- %s: [^\n]*\(check %s" % (re.escape(where), check), res.stdout)


def test_check_mode_runs_fully_and_changes_nothing(a3, tmp_path):
    before = [a3.exec(i, "sh", "-c", "md5sum /etc/npu-lab/state.json /etc/hccn.conf",
                      check=True).stdout for i in range(2)]
    res = verify(a3, tmp_path, "--check")
    assert res.returncode == 0, res.stdout[-3000:]
    assert "verdict: PASS" in res.stdout
    assert re.search(r"a3-node-0\s+:\s+ok=\d+\s+changed=0", res.stdout)
    after = [a3.exec(i, "sh", "-c", "md5sum /etc/npu-lab/state.json /etc/hccn.conf",
                     check=True).stdout for i in range(2)]
    assert before == after


def test_skipped_check_warns_and_bypass_lets_run_continue(a3, tmp_path):
    a3.npu_lab("fault", "0", "tls", "2", "1")
    try:
        skipped = verify(a3, tmp_path, "-e", '{"fabric_skip_checks": ["tls"]}')
        bypass = a3.playbook("tests/lab/gate_reader.yml", "-e", "fabric_gate_bypass=true",
                             "-e", "fabric_artifacts_dir=%s" % tmp_path)
    finally:
        a3.npu_lab("reset")
    assert skipped.returncode == 0, skipped.stdout[-3000:]
    assert "WARNING: check tls was turned off" in skipped.stdout
    assert bypass.returncode == 0, bypass.stdout[-3000:]
    assert "fabric_gate_bypass=true lets serving continue anyway" in bypass.stdout
    assert "a3-node-0 device 2: TLS switch" in bypass.stdout
    assert "gate seen by a3-node-1: passed=True bypassed=True" in bypass.stdout


def test_gate_facts_on_every_node_when_healthy(a3, tmp_path):
    res = a3.playbook("tests/lab/gate_reader.yml", "-e", "fabric_artifacts_dir=%s" % tmp_path)
    assert res.returncode == 0, res.stdout[-3000:]
    for node in ("a3-node-0", "a3-node-1"):
        assert "gate seen by %s: passed=True bypassed=False" % node in res.stdout
