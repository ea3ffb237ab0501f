"""The serving filters turn hostvars (ansible_facts from serving_facts and npu_facts)
into the planner's view of a node."""
from pathlib import Path

import yaml

from ansible_collections.npu.cluster.plugins.filter import serving

REPO = Path(__file__).resolve().parents[4]


def hostvars():
    def facts(ip, dev_count, running):
        return {"serving": {
            "interfaces": {
                "lo": {"ipv4": ["127.0.0.1"], "kind": None, "link_type": "loopback",
                       "up": True},
                "eth0": {"ipv4": [ip, "10.9.9.9"], "kind": None, "link_type": "ether",
                         "up": True},
                "docker0": {"ipv4": ["172.30.250.1"], "kind": "bridge",
                            "link_type": "ether", "up": True},
                "br-1a2b": {"ipv4": ["172.18.0.1"], "kind": "bridge",
                            "link_type": "ether", "up": True}},
            "default_ipv4": {"address": ip, "interface": "eth0", "gateway": "10.0.0.254"},
            "tcp_listen": [{"port": 7399, "address": "127.0.0.1", "name": "python3",
                            "pid": 12}],
            "container": {"name": "vllm", "exists": running, "running": running,
                          "owned": running},
            "healthy": True, "problems": []},
            "npu": {"device_count": dev_count}}
    return {"a": {"ansible_facts": facts("10.0.0.1", 8, False),
                  "npu_cluster_serving_ip": "10.0.0.1"},
            "b": {"ansible_facts": facts("10.0.0.2", 8, True)}}


def test_node_facts():
    f = serving.node_facts(hostvars(), "a")
    assert f["interfaces"]["eth0"]["ipv4"] == ["10.0.0.1", "10.9.9.9"]
    assert f["interfaces"]["br-1a2b"] == {"ipv4": ["172.18.0.1"], "type": "bridge"}
    assert f["device_count"] == 8 and f["default_ipv4"] == "10.0.0.1"
    assert f["listening"] == [{"port": 7399, "address": "127.0.0.1", "name": "python3",
                               "pid": 12}]
    assert f["serving_running"] is False
    assert serving.node_facts(hostvars(), "b")["serving_running"] is True
    assert serving.node_facts({"x": {"ansible_facts": {}}}, "x") is None


def test_plan_from_hostvars_uses_facts_for_nic_and_ip():
    prof = yaml.safe_load((REPO / "profiles" / "000-a2-dsv31-w8a8-dp4.yml").read_text())
    plan = serving.serving_plan(hostvars(), prof, ["a", "b"])
    assert plan["errors"] == [] and plan["unknowns"] == []
    env = plan["hosts"]["b"]["processes"][0]["env"]
    assert env["HCCL_IF_IP"] == "10.0.0.2" and env["GLOO_SOCKET_IFNAME"] == "eth0"
    assert "== a: head" in serving.serving_plan_text(plan)


def test_serving_ip_on_a_docker_bridge_is_refused():
    hv = hostvars()
    hv["a"]["npu_cluster_serving_ip"] = "172.30.250.1"
    prof = yaml.safe_load((REPO / "profiles" / "000-a2-dsv31-w8a8-dp4.yml").read_text())
    errs = serving.serving_plan(hv, prof, ["a", "b"])["errors"]
    assert any("a: npu_cluster_serving_ip 172.30.250.1 belongs to the docker bridge docker0" in e
               for e in errs), errs


def test_gate_filter():
    rep = {"hosts": {"a": {"passed": True, "problems": []}}, "bypassed": False}
    v = serving.serving_gate(rep, ["a", "b"])
    assert v["passed"] is False and v["missing"] == ["b"]
    assert serving.serving_gate(rep, ["a"])["passed"] is True
    # verify did not run: hostvars['localhost'].fabric_report is undefined -> none
    assert serving.serving_gate(None, ["a"])["missing"] == ["a"]


def test_every_inventory_variable_the_planner_reads_reaches_it():
    """The filter passes the planner a fixed list of host variables; one the planner reads but
    the list lacks would be silently ignored in a real run (npu_cluster_pip_wheel_dir was)."""
    import re
    source = (REPO / "plugins" / "plugin_utils" / "planner.py").read_text()
    read = set(re.findall(r'hv\.get\("(npu_cluster_\w+)"\)', source))
    read |= set(re.findall(r'\("(npu_cluster_\w+)", "\w+"\)', source))
    read |= set(re.findall(r'for var in \(([^)]*)\)', source) and
                re.findall(r'"(npu_cluster_(?:extra_env|secret_env|extra_engine_args))"', source))
    assert read - set(serving.HOST_VARS) == set()
    assert {"npu_cluster_pip_wheel_dir", "npu_cluster_pd_role"} <= read
