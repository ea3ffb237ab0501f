"""Fabric rules (plugins/module_utils/fabric.py, on nodes) and the ping planner, cluster rules
and report (plugins/plugin_utils/fabric_report.py, on the controller)."""
import pytest

from ansible_collections.npu.cluster.plugins.module_utils import fabric
from ansible_collections.npu.cluster.plugins.plugin_utils import fabric_report


def dev(i, **kw):
    base = {"id": i, "errors": {}, "link": "UP", "net_health": "Success",
            "ipaddr": "10.0.0.%d" % (10 + i), "netmask": "255.255.255.0",
            "netdetect": "10.0.0.1", "gateway": "10.0.0.1", "lldp_ifname": "400GE1/1/%d" % i,
            "lldp_system_name": "LEAF", "tls_switch": 0,
            "vnic_link": "UP", "vnic_ipaddr": fabric.vnic_address_for_sdid(fabric_sdid(i))}
    base.update(kw)
    return base


def fabric_sdid(d, server=0):
    return (server << 22) | ((d // 2) << 18) | ((d % 2) << 16) | d


def conf_for(devices):
    return {d["id"]: {"address": d["ipaddr"]} for d in devices if d.get("ipaddr")}


def checks(problems):
    return sorted(((p["device"], p["check"]) for p in problems), key=lambda t: (
        t[0] is None, t[0] if t[0] is not None else 0, t[1]))


def test_healthy_node_has_no_problems():
    devices = [dev(i) for i in range(16)]
    sdids = {i: fabric_sdid(i) for i in range(16)}
    assert fabric.hccn_problems("n0", "a3", devices, conf_for(devices), sdids) == []


@pytest.mark.parametrize("change,expect", [
    ({"link": "DOWN"}, [(2, "link")]),
    ({"net_health": "Socket fail"}, [(2, "net_health")]),
    ({"ipaddr": None}, [(2, "ip")]),
    ({"vnic_link": "DOWN"}, [(2, "vnic")]),
    ({"vnic_ipaddr": "192.0.2.199"}, [(2, "vnic")]),
    ({"netdetect": None}, [(2, "netdetect_gateway")]),
    ({"gateway": "10.9.9.1"}, [(2, "netdetect_gateway")]),
    ({"lldp_ifname": None}, [(2, "lldp")]),
    ({"lldp_ifname": "400GE1/1/3"}, [(2, "lldp"), (3, "lldp")]),
    ({"tls_switch": 1}, [(2, "tls")]),
    ({"errors": {"link": "device query failed (exit 1)"}, "link": None}, [(2, "link")]),
], ids=["link", "net-health", "no-ip", "vnic-down", "vnic-wrong-address", "no-netdetect",
        "gateway-outside-subnet", "no-lldp", "same-switch-port", "tls-mismatch",
        "query-error"])
def test_each_rule(change, expect):
    devices = [dev(i) for i in range(4)]
    conf = conf_for(devices)
    devices[2].update(change)
    sdids = {i: fabric_sdid(i) for i in range(4)}
    assert checks(fabric.hccn_problems("n0", "a3", devices, conf, sdids)) == expect


def test_stale_conf_and_message_names_host_device_check_value():
    devices = [dev(i) for i in range(2)]
    conf = conf_for(devices)
    conf[1]["address"] = "10.0.0.99"
    (p,) = fabric.hccn_problems("node-7", "a2", devices, conf)
    assert (p["check"], p["device"], p["value"]) == ("hccn_conf", 1, "10.0.0.99")
    assert p["message"] == ("node-7 device 1: /etc/hccn.conf address_1=10.0.0.99 differs from "
                            "the live address 10.0.0.11 (check hccn_conf, value 10.0.0.99)")


def test_a2_ignores_vnic_and_skip_drops_checks():
    devices = [dev(0, vnic_link=None, vnic_ipaddr=None, link="DOWN")]
    probs = fabric.hccn_problems("n0", "a2", devices, conf_for(devices))
    assert checks(probs) == [(0, "link")]
    assert fabric.hccn_problems("n0", "a2", devices, conf_for(devices), skip=["link"]) == []


def test_npu_rules():
    facts = {"devices": [{"phy_id": 0, "health": "OK"}, {"phy_id": 1, "health": "Alarm"}],
             "processes": [{"npu_id": 0, "chip_id": 0, "device": 0, "pid": 77, "name": "python3",
                            "memory_mb": 3312}],
             "device_count": 2, "errors": ["npu-smi info -l failed (exit 215): x"]}
    got = checks(fabric.npu_problems("n0", facts, expected_devices=16))
    assert got == [(0, "leftover_process"), (1, "chip_health"), (None, "device_count"),
                   (None, "tool_output")]
    assert checks(fabric.npu_problems("n0", facts, allow_processes=True,
                                      skip=["tool_output"])) == [(1, "chip_health")]


def test_ring_plan_is_linear_in_nodes():
    hosts = ["n%d" % i for i in range(8)]
    addrs = {h: {d: "%s-%d" % (h, d) for d in range(16)} for h in hosts}
    plan = fabric_report.ping_plan(hosts, addrs, "ring")
    assert all(len(plan[h]) == 16 for h in hosts)
    assert plan["n7"][3] == {"device": 3, "address": "n0-3", "peer": "n0", "peer_device": 3}
    full = fabric_report.ping_plan(hosts, addrs, "full")
    assert all(len(full[h]) == 16 * 7 for h in hosts)
    small = hosts[:3]
    matrix = fabric_report.ping_plan(small, addrs, "matrix")
    assert len(matrix["n0"]) == 16 * 16 * 2
    with pytest.raises(ValueError, match="at most 4 nodes"):
        fabric_report.ping_plan(hosts, addrs, "matrix")
    with pytest.raises(ValueError):
        fabric_report.ping_plan(hosts, addrs, "star")
    assert fabric_report.ping_plan(["solo"], addrs, "ring") == {"solo": []}


def test_ring_plan_skips_devices_without_address():
    addrs = {"a": {0: "a0", 1: "a1"}, "b": {0: "b0"}}
    plan = fabric_report.ping_plan(["a", "b"], addrs, "ring")
    assert plan["a"] == [{"device": 0, "address": "b0", "peer": "b", "peer_device": 0}]


def test_ping_problems():
    res = [{"device": 0, "ok": True}, {"device": 1, "ok": False, "peer": "n1", "peer_device": 1,
                                       "address": "192.1.3.198", "received": 1,
                                       "transmitted": 3, "loss_pct": 66.67, "error": None}]
    (p,) = fabric.ping_problems("n0", res)
    assert p["message"] == ("n0 device 1: ping to n1 device 1 (192.1.3.198) lost packets: 1/3 "
                            "received (check ping, value 66.67% loss)")


def test_cluster_rules():
    nodes = {
        "n0": {"tls": {0: 0, 1: 0}, "versions": {"driver": "25.3.rc1", "cann": "8.3.RC1"},
               "sdids": {0: 10, 1: 11}, "super_pod_id": 0},
        "n1": {"tls": {0: 0, 1: 0}, "versions": {"driver": "25.3.rc1", "cann": "8.3.RC1"},
               "sdids": {0: 20, 1: 21}, "super_pod_id": 0},
        "n2": {"tls": {0: 1, 1: 0}, "versions": {"driver": "24.1.0", "cann": "8.3.RC1"},
               "sdids": {0: 10, 1: 31}, "super_pod_id": 1},
    }
    got = sorted((p["host"], str(p["device"]), p["check"])
                 for p in fabric_report.cluster_problems(nodes))
    assert got == [("n2", "0", "sdid"), ("n2", "0", "tls"), ("n2", "None", "sdid"),
                   ("n2", "None", "versions")]
    assert [p["check"] for p in fabric_report.cluster_problems(nodes, skip=["tls", "sdid",
                                                                            "versions"])] == []


def test_report_grid_text_and_html():
    probs = {"n0": [], "n1": [fabric.problem("n1", 3, "link", "DOWN", "link is not UP"),
                              fabric.problem("n1", None, "versions", "x", "driver differs")]}
    rep = fabric_report.report(["n0", "n1"], probs, {"n0": 4, "n1": 4}, skipped_checks=["lldp"])
    assert rep["verdict"] == "FAIL" and rep["gate_passed"] is False
    assert rep["hosts"]["n1"]["cells"] == {"0": "OK", "1": "OK", "2": "OK", "3": "link",
                                           "node": "versions"}
    lines = fabric_report.render_text(rep)
    assert lines[0].split() == ["NODE", "0", "1", "2", "3", "node"]
    assert lines[2].split() == ["n1", "OK", "OK", "OK", "link", "versions"]
    assert lines[3:] == [
        "verdict: FAIL on 1 of 2 nodes",
        "link: 1 problem on 1 node (device link UP (hccn_tool -link -g))",
        "  n1 device 3: link is not UP (check link, value DOWN)",
        "versions: 1 problem on 1 node (driver, firmware and CANN versions identical on "
        "every node)",
        "  n1: driver differs (check versions, value x)",
        "WARNING: check lldp was turned off (LLDP neighbour present; no two devices of a node "
        "on one switch port)"]
    html = fabric_report.render_html(rep)
    assert html.startswith("<!DOCTYPE html>") and '<td class="bad" title="link">link</td>' in html
    assert "<script" not in html and "http" not in html  # self-contained
    bypass = fabric_report.report(["n0", "n1"], probs, {"n0": 4, "n1": 4}, bypass=True)
    assert bypass["gate_passed"] is True and bypass["bypassed"] is True
    ok = fabric_report.report(["n0"], {"n0": []}, {"n0": 2}, bypass=True)
    assert (ok["verdict"], ok["bypassed"]) == ("PASS", False)


def test_driver_install_rule():
    facts = {"devices": [], "processes": [], "device_count": 0, "errors": [],
             "driver_install_complete": False, "warnings": []}
    (p,) = fabric.npu_problems("n0", facts)
    assert p["check"] == "driver_install" and p["value"] == "status not complete"
    facts["driver_install_complete"] = None  # no install record at all (e.g. containers)
    assert fabric.npu_problems("n0", facts) == []


def _big_report(nodes=60, devices=16, bad=None):
    hosts = ["a3-node-%d" % i for i in range(nodes)]
    probs = dict((h, []) for h in hosts)
    for host, dev, check in bad or []:
        probs[host].append(fabric.problem(host, dev, check, "DOWN", "%s is bad" % check))
    return fabric_report.report(hosts, probs, dict((h, devices) for h in hosts),
                                recovered_by_host={"a3-node-7": ["a3-node-7 device 2: ping ..."]})


def test_text_groups_problems_by_check_then_node_and_caps_each_check():
    bad = [("a3-node-%d" % n, d, "link") for n in (3, 9) for d in range(16)]
    bad += [("a3-node-40", 5, "ping"), ("a3-node-2", None, "versions")]
    rep = _big_report(bad=bad)
    lines = fabric_report.render_text(rep, max_lines_per_check=20)
    assert len(lines) == 61 + 1 + (1 + 20 + 1) + 2 + 2 + 2
    start = lines.index("verdict: FAIL on 4 of 60 nodes")
    assert lines[start + 1] == "link: 32 problems on 2 nodes (device link UP (hccn_tool -link -g))"
    assert lines[start + 2] == "  a3-node-3 device 0: link is bad (check link, value DOWN)"
    assert lines[start + 18] == "  a3-node-9 device 0: link is bad (check link, value DOWN)"
    assert lines[start + 22] == "  ... and 12 more link problems (all of them in the report files)"
    assert lines[start + 23].startswith("ping: 1 problem on 1 node")
    assert lines[start + 25].startswith("versions: 1 problem on 1 node")
    assert lines[-2:] == ["recovered: 1 ping lost packets in the first round and passed the "
                          "confirm round (not failures)", "  a3-node-7 device 2: ping ..."]


def test_html_at_960_devices_scrolls_with_sticky_headers_and_a_failing_filter():
    rep = _big_report(bad=[("a3-node-3", 4, "link")])
    html = fabric_report.render_html(rep)
    assert html.count('<tr class="pass">') == 59 and html.count('<tr class="fail">') == 1
    assert html.count('<td class="') == 60 * 17
    assert ".grid{max-height:75vh" in html and "overflow:auto" in html
    assert "thead th{position:sticky;top:0" in html and "tbody th{position:sticky;left:0" in html
    assert '<input type="checkbox" id="only-failing">' in html
    assert "#only-failing:checked ~ .grid tr.pass{display:none}" in html
    assert "#only-failing:checked ~ .grid td.ok{background:#fff;color:#bbb}" in html
    assert "<summary><b>link</b>: 1 problem on 1 node" in html
    assert "<li>a3-node-7 device 2: ping ...</li>" in html
    assert "<script" not in html and "http" not in html and "src=" not in html


def test_confirm_round_verdicts():
    first = {"device": 1, "peer": "n1", "peer_device": 1, "address": "192.1.3.198",
             "transmitted": 3, "received": 0, "loss_pct": 100.0, "ok": False, "error": None}
    # lost in the crowd, all 20 back in the confirm round: recovered, not a problem
    ok = fabric.merge_ping(first, [{"transmitted": 20, "received": 20, "error": None}], 5.0)
    assert (ok["ok"], ok["recovered"], ok["confirm"]["loss_pct"]) == (True, True, 0.0)
    assert fabric.ping_problems("n0", [ok]) == []
    assert fabric.ping_notes("n0", [ok]) == [
        "n0 device 1: ping to n1 device 1 (192.1.3.198) lost packets in the first round (0/3 "
        "received) and recovered: 20/20 received in the confirm round (0.0% loss, at most 5.0% "
        "allowed)"]
    # one lost packet of 20 is within 5 %
    assert fabric.merge_ping(first, [{"transmitted": 20, "received": 19}], 5.0)["ok"] is True
    # partial loss: judged on the confirm round, reported with its rate
    lossy = fabric.merge_ping(dict(first, received=1, loss_pct=66.67),
                              [{"transmitted": 20, "received": 8, "error": None}], 5.0)
    (p,) = fabric.ping_problems("n0", [lossy])
    assert p["message"] == (
        "n0 device 1: ping to n1 device 1 (192.1.3.198) lost 12 of 20 packets in the confirm "
        "round (60.0% loss, more than the 5.0% allowed) after 1/3 received in the first round "
        "(check ping, value 60.0% loss)")
    # RoCE confirm: 7 calls of 3 packets
    roce = fabric.merge_ping(first, [{"transmitted": 3, "received": 3}] * 7, 5.0)
    assert roce["confirm"]["transmitted"] == 21 and roce["ok"] is True
    # a down link errors again: the tool's error is the value
    err = "Execute failed: Link status is down. (exit 22)"
    down = fabric.merge_ping(dict(first, error=err, transmitted=0),
                             [{"transmitted": 0, "received": 0, "error": err}], 5.0)
    (p,) = fabric.ping_problems("n0", [down])
    assert p["value"] == err and p["message"].endswith("; %s (check ping, value %s)" % (err, err))
    # not confirmed (confirm_count 0): the first round decides
    assert fabric.merge_ping(first, None, 5.0)["ok"] is False
    assert fabric.confirm_calls("hccs", 20) == (1, 20)
    assert fabric.confirm_calls("roce", 20) == (7, None)
    assert fabric.ping_argv("/t", "hccs", {"device": 2, "address": "a"}, 20) == [
        "/t", "-i", "2", "-hccs_ping", "-g", "address", "a", "cnt", "20"]
    assert fabric.ping_argv("/t", "roce", {"device": 2, "address": "a"}, None) == [
        "/t", "-i", "2", "-ping", "-g", "address", "a"]
