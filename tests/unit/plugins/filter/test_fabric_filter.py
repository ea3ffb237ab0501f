"""fabric_ping_plan / fabric_report filters over hostvars-shaped data."""
from ansible_collections.npu.cluster.plugins.filter.fabric import (
    fabric_ping_plan,
    fabric_report,
)


def node(series, ok=True, tls=0, driver="25.3.rc1", sdid_base=0, pod=0):
    devs = 16 if series == "a3" else 8
    hccn = {"series": series, "device_count": devs, "checks": [] if ok else [
        {"host": "x", "device": 3, "check": "link", "value": "DOWN", "message": "x: link"}],
        "devices": [{"id": d, "ipaddr": "10.0.%d.%d" % (sdid_base, d),
                     "vnic_ipaddr": "192.%d.%d.%d" % (sdid_base, 2 + d % 2, 199 - d),
                     "tls_switch": tls} for d in range(devs)]}
    npu = {"series": series, "device_count": devs, "checks": [],
           "versions": {"driver": driver}, "spod": [
               {"device": d, "sdid": (sdid_base << 22) | d, "super_pod_id": pod}
               for d in range(devs)] if series == "a3" else []}
    return {"group_names": ["npu_nodes", "ascend_%s" % series],
            "ansible_facts": {"npu": npu, "hccn": hccn}}


def test_ping_plan_uses_vnic_on_a3_and_roce_on_a2():
    hv = {"a": node("a3", sdid_base=0), "b": node("a3", sdid_base=1)}
    plan = fabric_ping_plan(hv, ["a", "b"])
    assert plan["a"][0] == {"device": 0, "address": "192.1.2.199", "peer": "b",
                            "peer_device": 0}
    hv2 = {"a": node("a2", sdid_base=0), "b": node("a2", sdid_base=1)}
    assert fabric_ping_plan(hv2, ["a", "b"])["b"][7]["address"] == "10.0.0.7"
    assert fabric_ping_plan(hv, ["a", "b"], method="roce")["a"][1]["address"] == "10.0.1.1"


def test_report_pass_and_cluster_rules():
    hv = {"a": node("a3", sdid_base=0), "b": node("a3", sdid_base=1)}
    rep = fabric_report(hv, ["a", "b"])
    assert rep["verdict"] == "PASS" and rep["devices"] == 16
    hv["b"] = node("a3", sdid_base=1, tls=1, driver="24.1.0")
    rep = fabric_report(hv, ["a", "b"], {"skip_checks": []})
    assert rep["verdict"] == "FAIL" and rep["failing_hosts"] == ["b"]
    assert rep["hosts"]["b"]["cells"]["node"] == "versions"
    rep = fabric_report(hv, ["a", "b"], {"skip_checks": ["tls", "versions"]})
    assert rep["verdict"] == "PASS" and rep["skipped_checks"] == ["tls", "versions"]


def test_report_flags_hosts_without_facts_and_ping_results():
    hv = {"a": node("a3"), "b": {"group_names": ["npu_nodes", "ascend_a3"]},
          "c": dict(node("a3", sdid_base=2))}
    hv["c"]["_fabric_ping"] = {"checks": [{"host": "c", "device": 2, "check": "ping",
                                           "value": "100.0% loss", "message": "c device 2: x"}]}
    rep = fabric_report(hv, ["a", "b", "c"])
    assert rep["hosts"]["b"]["cells"] == {"node": "tool_output"}
    assert "fabric facts (npu, hccn) were not gathered" in rep["hosts"]["b"]["problems"][0]
    assert rep["hosts"]["c"]["cells"]["2"] == "ping"
    # a skipped check is dropped from ping results too
    assert fabric_report(hv, ["a", "c"], {"skip_checks": ["ping"]})["verdict"] == "PASS"


def test_report_keeps_series_apart_for_cluster_rules():
    hv = {"a": node("a3", driver="25.3.rc1"), "g": {
        "group_names": ["npu_nodes", "enflame_gcu"],
        "ansible_facts": {"gcu": {"device_count": 8, "checks": [],
                                  "versions": {"driver": "1.4.4.501"}}}}}
    assert fabric_report(hv, ["a", "g"])["verdict"] == "PASS"
