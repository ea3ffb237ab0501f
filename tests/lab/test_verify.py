"""`site.yml --tags verify` on lab clusters: healthy a2x2, a3x2 and gcux4 pass; every fault the
lab can inject fails the gate with a message naming node, device and check, and nothing is
started; check mode, skipped checks, the bypass and the summary artifacts."""
import ipaddress
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import why

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


def verify(lab, tmp_path, *extra, **kwargs):
    """`verify` through the API; extra: more `-e` values; the fabric report in tmp_path."""
    return lab.run("verify", extra_vars=["fabric_artifacts_dir=%s" % tmp_path] + list(extra),
                   **kwargs)


def verify_with_faults(lab, tmp_path, *faults):
    """Inject each fault (node, kind, args...), verify, and reset the lab whatever happened."""
    for fault in faults:
        lab.npu_lab("fault", *fault)
    try:
        return verify(lab, tmp_path)
    finally:
        lab.npu_lab("reset")


def nothing_started(lab):
    for i in range(len(lab.nodes)):
        assert lab.exec(i, "docker", "ps", "-q", check=True).stdout.strip() == ""


@pytest.mark.parametrize("lab_name,devices", [("a2", 8), ("a3", 16), ("gcu", 8)])
def test_healthy_cluster_passes(request, tmp_path, lab_name, devices):
    lab = request.getfixturevalue(lab_name)
    res = verify(lab, tmp_path)
    assert res.ok, why(res, 4000)
    assert "verdict: PASS" in res.output()
    report = json.loads((tmp_path / "fabric-report.json").read_text())
    assert report["verdict"] == "PASS" and report["devices"] == devices
    assert set(report["hosts"]) == {"%s-node-%d" % ("gcu" if lab_name == "gcu" else lab_name, i)
                                    for i in range(len(lab.nodes))}
    html = (tmp_path / "fabric-report.html").read_text()
    assert '<table id="grid">' in html and 'id="verdict">PASS' in html


def state(lab, node):
    return json.loads(lab.exec(node, "cat", "/etc/npu-lab/state.json", check=True).stdout)


def dev(st, phy):
    return next(d for d in st["devices"] if d["phy_id"] == phy)


HCCN = "/usr/local/Ascend/driver/tools/hccn_tool"
DRIVER_WARNING = ("[WARNING]The driver package may not be completely installed, which may cause "
                  "function abnormal. Please reinstall it.")

# (node index, fault args, the exact problem line the gate prints, given both nodes' healthy
# lab state: the values come from the lab, the wording from the collection)
A3_FAULTS = [
    (1, ["link-down", "3"], lambda s: "a3-node-1 device 3: link is not UP (check link, value DOWN)"),
    (0, ["net-health", "5", "Socket fail"],
     lambda s: "a3-node-0 device 5: net health status is not Success (check net_health, value "
               "Socket fail)"),
    (1, ["net-health", "6", "Init"],
     lambda s: "a3-node-1 device 6: net health status is not Success (check net_health, value "
               "Init)"),
    (0, ["no-ip", "2"], lambda s: "a3-node-0 device 2: no IP address configured (check ip, value "
                                  "None)"),
    (1, ["stale-conf", "7"],
     lambda s: "a3-node-1 device 7: /etc/hccn.conf address_7=%s differs from the live address %s "
               "(check hccn_conf, value %s)" % (
                   str(ipaddress.ip_address(dev(s[1], 7)["ip"]) + 100), dev(s[1], 7)["ip"],
                   str(ipaddress.ip_address(dev(s[1], 7)["ip"]) + 100))),
    (0, ["tls", "4", "1"], lambda s: "a3-node-0 device 4: TLS switch differs from the node's other "
                                     "devices (0) (check tls, value 1)"),
    (1, ["unreachable", "9"],
     lambda s: "a3-node-1 device 9: ping to a3-node-0 device 9 (%s) lost 20 of 20 packets in the "
               "confirm round (100.0%% loss, more than the 5.0%% allowed) after 0/5 received in "
               "the first round (check ping, value 100.0%% loss)" % dev(s[0], 9)["vnic"]["ip"]),
    (1, ["vnic-down", "11"], lambda s: "a3-node-1 device 11: vNIC link is not UP (check vnic, "
                                       "value DOWN)"),
    (0, ["lldp-missing", "12"],
     lambda s: "a3-node-0 device 12: hccn_tool -lldp -g failed (check lldp, value device "
               "query failed (exit 1: Command execute failed!))"),
    (0, ["lldp-dup", "13", "12"],
     lambda s: "a3-node-0 device 13: devices 12, 13 share switch port %s on %s (check lldp, value "
               "%s)" % (dev(s[0], 12)["lldp"]["port"], dev(s[0], 12)["lldp"]["switch"],
                        dev(s[0], 12)["lldp"]["port"])),
    (1, ["process", "1", "31337"],
     lambda s: "a3-node-1 device 1: process 31337 (python3) holds 3312 MB on NPU 0 chip 1 (check "
               "leftover_process, value 31337)"),
    (0, ["alarm", "14"], lambda s: "a3-node-0 device 14: npu-smi reports chip health Alarm (check "
                                   "chip_health, value Alarm)"),
    (1, ["no-hccn-tool"],
     lambda s: "a3-node-1: hccn_tool not found or not executable at %s; install the Ascend driver "
               "or set hccn_tool (check tool_output, value %s)" % (HCCN, HCCN)),
    # The checks that had no lab fault before.
    (0, ["netdetect", "4"],
     lambda s: "a3-node-0 device 4: netdetect %s is outside the device subnet %s/%s (check "
               "netdetect_gateway, value %s)" % (
                   s[0]["networks"]["hccs"]["gateway"], dev(s[0], 4)["ip"],
                   dev(s[0], 4)["netmask"], s[0]["networks"]["hccs"]["gateway"])),
    (1, ["gateway", "5", "none"],
     lambda s: "a3-node-1 device 5: no gateway address set (check netdetect_gateway, value None)"),
    (1, ["device-missing", "7"],
     lambda s: "a3-node-1: 15 devices found, the inventory expects 16 (check device_count, value "
               "15)"),
    (1, ["sdid", "3", "DUP"],
     lambda s: "a3-node-1 device 3: SDID %d is also a3-node-0 device 3's (check sdid, value %d)"
               % (dev(s[0], 3)["sdid"], dev(s[0], 3)["sdid"])),
    (1, ["super-pod", "7"], lambda s: "a3-node-1: super pod 7, expected 0 (check sdid, value 7)"),
    (1, ["version", "driver=24.1.rc2"],
     lambda s: "a3-node-1: driver version 24.1.rc2 differs from the cluster's %s (check versions, "
               "value 24.1.rc2)" % s[0]["versions"]["driver"]),
    (0, ["driver-incomplete"],
     lambda s: "a3-node-0: the driver install is not recorded as complete "
               "(Driver_Install_Status=complete missing from the install record); reinstall the "
               "driver package (check driver_install, value %s)" % DRIVER_WARNING),
]


@pytest.mark.parametrize("node,fault,message", A3_FAULTS,
                         ids=[f[1][0] + ("-" + f[1][2] if len(f[1]) > 2 else "")
                              for f in A3_FAULTS])
def test_each_fault_fails_the_gate_with_its_exact_message(a3, tmp_path, node, fault, message):
    healthy = [state(a3, 0), state(a3, 1)]
    if fault[-1] == "DUP":  # report node 0's SDID of the same device: a duplicate
        fault = fault[:-1] + [str(dev(healthy[0], int(fault[1]))["sdid"])]
    res = verify_with_faults(a3, tmp_path, [str(node)] + fault)
    out = res.output()
    assert not res.ok, out[-3000:]
    assert "Fabric verification FAILED" in out and "nothing will be started" in out
    expected = message(healthy)
    gate = out[out.find("Fabric verification FAILED"):]
    assert "- %s\n" % expected in gate, gate[:3000]
    report = json.loads((tmp_path / "fabric-report.json").read_text())
    problems = report["hosts"]["a3-node-%d" % node]["problems"]
    assert expected in problems, problems
    # the summary groups it under its check
    check = re.search(r"\(check (\w+), value", expected).group(1)
    assert re.search(r'\n\s+"%s: \d+ problems? on \d+ nodes? \(' % check, out)
    cell = report["hosts"]["a3-node-%d" % node]["cells"]
    device = re.match(r"a3-node-\d+ device (\d+):", expected)
    assert check in cell["node" if device is None else device.group(1)]
    nothing_started(a3)


def test_packet_loss_on_roce_a2(a2, tmp_path):
    res = verify_with_faults(a2, tmp_path, ["a2-node-0", "loss", "5", "100"])
    assert not res.ok
    # the ring: node 1 pings node 0's device 5 (and node 0's device 5 pings node 1); RoCE
    # -ping sends 3 packets a call, so the confirm round calls it 7 times
    assert re.search(r"a2-node-1 device 5: ping to a2-node-0 device 5 \(10\.\d+\.65\.16\) lost "
                     r"21 of 21 packets in the confirm round \(100\.0% loss, more than the 5\.0% "
                     r"allowed\) after 0/3 received in the first round \(check ping, value "
                     r"100\.0% loss\)", res.output())


def test_a_node_with_another_driver_fails_the_version_table(a2, tmp_path):
    a2.npu_lab("fault", "a2-node-1", "version", "driver=25.2.0")
    try:
        res = a2.deploy(tags=["drivers"], extra_vars="preflight_artifacts_dir=%s" % tmp_path)
        allowed = a2.deploy(tags=["drivers"], extra_vars=[
            "preflight_artifacts_dir=%s" % tmp_path, "preflight_allow_version_skew=true"])
    finally:
        a2.npu_lab("reset")
    assert not res.ok
    # two nodes, two drivers: no majority, so both are named
    assert ("- driver differs between the nodes and no version is the majority: a2-node-0 "
            "25.3.rc1, a2-node-1 25.2.0") in res.output(), res.output()[-3000:]
    assert re.search(r'"a2-node-1  25\.2\.0 \*\s+7\.7\.0\.6\.236  8\.3\.RC1"', res.output())
    table = json.loads((tmp_path / "versions.json").read_text())
    assert table["skew"] == [{"component": "driver", "common": None,
                              "hosts": {"a2-node-0": "25.3.rc1", "a2-node-1": "25.2.0"}}]
    assert allowed.ok, why(allowed, 3000)
    # nothing was installed or rebooted: no packages are named on this lab
    assert a2.exec(1, "test", "-e", "/var/log/ascend_seclog/ascend_install.log").returncode != 0


@pytest.fixture(scope="module")
def a3x16(lab_factory):
    return lab_factory("a3x16", latency=FAST)


def test_a3x16_down_link_fails_and_partial_loss_is_reported_with_its_rate(a3x16, tmp_path):
    res = verify_with_faults(a3x16, tmp_path, ["a3-node-3", "link-down", "6"],
                             ["a3-node-10", "loss", "2", "60"])
    out = res.output()
    assert not res.ok, out[-3000:]
    assert "- a3-node-3 device 6: link is not UP (check link, value DOWN)\n" in out
    # node 9 pings node 10's device 2 and node 10's device 2 pings node 11: both lossy. A
    # lossy pair can pass a first round by luck (all 5 packets back: 1 % at 60 % loss); every
    # pair that did not is judged on 20 confirm packets (60 % loss per packet: far above the
    # 5 % allowed) and reported with its measured rate.
    rates = {}
    for src, dst in (("a3-node-9", "a3-node-10"), ("a3-node-10", "a3-node-11")):
        m = re.search(r"- %s device 2: ping to %s device 2 \(192\.\d+\.2\.197\) lost (\d+) of 20 "
                      r"packets in the confirm round \((\d+\.\d)%% loss, more than the 5\.0%% "
                      r"allowed\) after [0-4]/5 received in the first round \(check ping, value "
                      r"\2%% loss\)\n" % (src, dst), out)
        if m:
            assert float(m.group(2)) == int(m.group(1)) * 5.0
            rates[src] = float(m.group(2))
    assert rates, out[out.find("Fabric verification FAILED"):][:3000]
    assert all(20.0 <= r <= 95.0 for r in rates.values()), rates
    report = json.loads((tmp_path / "fabric-report.json").read_text())
    assert set(report["failing_hosts"]) == {"a3-node-3"} | set(rates)
    assert report["devices"] == 16 and len(report["hosts"]) == 16


def eccl_avg(peak):
    """The average bus bandwidth the simulated ECCL test prints for the fabric role's default
    shape (8 ranks, 1K to 128M by 2) at a given peak: the lab's own formula."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location(
        "npulab_sim", Path(__file__).resolve().parents[2] / "lab" / "sim" / "npulab_sim.py")
    sim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sim)
    table = sim.eccl_table("h", ["Enflame S60"], 8, 1024, 128 * 1024 ** 2, 2, peak)
    return float(table.splitlines()[-2].split(":")[1])


@pytest.mark.parametrize("fault,message", [
    (["gcu-unhealthy", "6"],
     lambda: "gcu-node-2 device 6: efsmi -q reports the GCU unhealthy (check gcu_health, value "
             "False)"),
    (["eccl-slow", "2.0"],
     lambda: "gcu-node-2: ECCL all-to-all average bus bandwidth %.2f GB/s is below the minimum "
             "10.00 GB/s (check eccl_bandwidth, value %.2f GB/s)" % ((eccl_avg(2.0),) * 2)),
    (["eccl-wrong", "3"],
     lambda: "gcu-node-2: ECCL all-to-all returned wrong values (check eccl_bandwidth, value 3)"),
], ids=["gcu-unhealthy", "eccl-slow", "eccl-wrong"])
def test_enflame_faults(gcu, tmp_path, fault, message):
    res = verify_with_faults(gcu, tmp_path, ["gcu-node-2"] + fault)
    assert not res.ok
    assert "- %s\n" % message() in res.output(), \
        res.output()[res.output().find("Fabric verification FAILED"):][:3000]


def test_check_mode_runs_fully_and_changes_nothing(a3, tmp_path):
    before = [a3.exec(i, "sh", "-c", "md5sum /etc/npu-lab/state.json /etc/hccn.conf",
                      check=True).stdout for i in range(2)]
    res = verify(a3, tmp_path, check=True)
    assert res.ok, why(res, 3000)
    assert "verdict: PASS" in res.output()
    # the nodes: the controller (localhost) writes this run's reports into its artifacts
    assert not any(h.changed for n, h in res.hosts.items() if n != "localhost"), res.hosts
    after = [a3.exec(i, "sh", "-c", "md5sum /etc/npu-lab/state.json /etc/hccn.conf",
                     check=True).stdout for i in range(2)]
    assert before == after


def test_skipped_check_warns_and_bypass_lets_run_continue(a3, tmp_path):
    a3.npu_lab("fault", "0", "tls", "2", "1")
    try:
        skipped = verify(a3, tmp_path, '{"fabric_skip_checks": ["tls"]}')
        bypass = a3.run("gate-reader", playbook="tests/lab/gate_reader.yml", extra_vars=[
            "fabric_gate_bypass=true", "fabric_artifacts_dir=%s" % tmp_path])
    finally:
        a3.npu_lab("reset")
    assert skipped.ok, why(skipped, 3000)
    assert "WARNING: check tls was turned off" in skipped.output()
    assert bypass.ok, why(bypass, 3000)
    assert "fabric_gate_bypass=true lets serving continue anyway" in bypass.output()
    assert "a3-node-0 device 2: TLS switch" in bypass.output()
    assert "gate seen by a3-node-1: passed=True bypassed=True" in bypass.output()


def test_gate_facts_on_every_node_when_healthy(a3, tmp_path):
    res = a3.run("gate-reader", playbook="tests/lab/gate_reader.yml",
                 extra_vars="fabric_artifacts_dir=%s" % tmp_path)
    assert res.ok, why(res, 3000)
    for node in ("a3-node-0", "a3-node-1"):
        assert "gate seen by %s: passed=True bypassed=False" % node in res.output()


# ------------------------------------------------------------------ the API and its HTML pages


def chromium():
    path = shutil.which("chromium")
    assert path, "chromium is not installed: `make setup` (scripts/setup.sh) installs it"
    return path


def render(page, tmp_path):
    """(DOM after load, browser log) of a local page in headless chromium, no network."""
    res = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                          "--no-first-run", "--user-data-dir=%s" % (tmp_path / "profile"),
                          "--enable-logging=stderr", "--v=0", "--proxy-server=127.0.0.1:9",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    bad = [line for line in res.stderr.splitlines()
           if "CONSOLE" in line or "Uncaught" in line or "ERR_FILE_NOT_FOUND" in line]
    assert not bad, bad
    return res.stdout


def self_contained(text):
    """Nothing is loaded from anywhere else (links to the run's own files are fine)."""
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", text), text[:2000]
    assert "@import" not in text and "url(" not in text


def test_a_red_verify_through_the_api_and_its_pages_in_a_browser(a3, tmp_path):
    import npu_cluster
    a3.npu_lab("fault", "a3-node-1", "link-down", "3")
    try:
        res = npu_cluster.verify(str(a3.inventory), artifacts_dir=str(tmp_path / "run"))
    finally:
        a3.npu_lab("reset")
    assert not res.ok and res.fabric["verdict"] == "FAIL"
    assert res.hosts["a3-node-1"].fabric_passed is False
    assert "a3-node-1 device 3: link is not UP (check link, value DOWN)" in \
        res.hosts["a3-node-1"].problems
    assert [f.task for f in res.failures] == ["Stop unless every node passed"]
    folder = Path(res.artifacts)
    index = folder / "index.html"
    self_contained(index.read_text())
    dom = render(index, tmp_path)
    assert '<span id="verdict" class="verdict bad">FAILED (failed)</span>' in dom
    assert '<b id="fabric-verdict">FAIL</b>' in dom
    assert "<li>a3-node-1 device 3: link is not UP (check link, value DOWN)</li>" in dom
    assert re.search(r'<tr class="fail"><td>a3-node-1</td>', dom)
    assert '<a href="fabric/fabric-report.html">' in dom and '<a href="result.json">' in dom
    report = folder / "fabric" / "fabric-report.html"
    self_contained(report.read_text())
    dom = render(report, tmp_path)
    row = re.search(r'<tr class="fail"><th class="bad">a3-node-1</th>(.*?)</tr>', dom, re.S)
    assert row, dom[:3000]
    cells = re.findall(r'<td class="(ok|bad)"[^>]*>([^<]*)</td>', row.group(1))
    assert cells[3][0] == "bad" and "link" in cells[3][1], cells
    assert [c for c in cells if c[0] == "bad"] == [cells[3]]
    assert re.search(r'<tr class="pass"><th class="ok">a3-node-0</th>', dom)
