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
    assert lines[3] == "verdict: FAIL"
    assert lines[4].startswith("WARNING: check lldp was turned off")
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
