"""The launch planner: golden plans equal the runbooks' scripts node for node, flag for flag,
and every validation rule refuses a bad inventory/profile with a message naming host,
variable and rule."""
import copy
import re
import shlex
from pathlib import Path

import pytest
import yaml

from ansible_collections.npu.cluster.plugins.plugin_utils import planner, vllm_args

REPO = Path(__file__).resolve().parents[4]
GOLDEN = REPO / "tests" / "unit" / "golden"


def profile(name):
    return yaml.safe_load((REPO / "profiles" / (name + ".yml")).read_text())


def runbook_script(name, local_ip, nic, node0_ip=None):
    """(env, argv) of a runbook's node script with its placeholders filled in."""
    text = (GOLDEN / name).read_text()
    text = text.replace("{ node0 ip }", node0_ip or "")
    env, variables = {}, {}
    lines = text.replace("\\\n", " ").splitlines()
    argv = None
    for line in lines:
        line = line.strip()
        m = re.match(r'^(nic_name|local_ip|node0_ip)="[^"]*"$', line)
        if m:
            variables[m.group(1)] = {"nic_name": nic, "local_ip": local_ip,
                                     "node0_ip": node0_ip}[m.group(1)]
            continue
        m = re.match(r"^export (\w+)=(.*)$", line)
        if m:
            value = m.group(2)
            for var, val in variables.items():
                value = value.replace("$" + var, val)
            env[m.group(1)] = shlex.split(value)[0]
            continue
        if line.startswith("vllm serve"):
            for var, val in variables.items():
                line = line.replace("$" + var, val)
            argv = shlex.split(line)
    return env, argv


def hosts(*specs):
    return [{"name": n, "vars": {"npu_cluster_serving_ip": ip, "npu_cluster_serving_nic": nic},
             "facts": None} for n, ip, nic in specs]


def assert_same_command(plan_proc, env, argv, version):
    assert plan_proc["env"] == env
    ours = vllm_args.parse(version, plan_proc["argv"][2:])
    theirs = vllm_args.parse(version, argv[2:])
    assert ours["errors"] == [] and theirs["errors"] == []
    assert ours["model"] == theirs["model"]
    assert ours["values"] == theirs["values"]
    # and the same number of tokens: nothing extra, nothing dropped
    assert sorted(plan_proc["argv"]) == sorted(argv)


GOLDEN_CASES = [
    ("000-a2-dsv31-w8a8-dp4", ["000-a2-node0.sh", "000-a2-node1.sh"]),
    ("002-a3-dsv32-exp-dp2-tp16", ["002-a3-dp2-node0.sh", "002-a3-dp2-node1.sh"]),
    ("002-a2-dsv32-exp-w8a8-dp2-tp8", ["002-a2-w8a8-node0.sh", "002-a2-w8a8-node1.sh"]),
]


@pytest.mark.parametrize("name,scripts", GOLDEN_CASES)
def test_golden_two_node_plans_equal_the_runbook(name, scripts):
    prof = profile(name)
    result = planner.plan(prof, hosts(("node0", "192.168.1.10", "enp189s0f0"),
                                      ("node1", "192.168.1.11", "enp189s0f1")))
    assert result["errors"] == [] and result["unknowns"] == []
    assert result["head"] == "node0"
    assert result["stages"] == [["node1"], ["node0"]]
    assert result["endpoint"] == "http://192.168.1.10:%d" % prof["ports"]["http"]
    for host, script, ip, nic in (("node0", scripts[0], "192.168.1.10", "enp189s0f0"),
                                  ("node1", scripts[1], "192.168.1.11", "enp189s0f1")):
        env, argv = runbook_script(script, ip, nic, node0_ip="192.168.1.10")
        (proc,) = result["hosts"][host]["processes"]
        assert_same_command(proc, env, argv, prof["engine"]["version"])


def test_golden_single_node_w8a8():
    prof = profile("002-a3-dsv32-exp-w8a8-tp16")
    result = planner.plan(prof, hosts(("a3-0", "10.1.0.5", "eth0"), ("a3-1", "10.1.0.6", "eth0")))
    assert result["errors"] == []
    assert result["hosts"]["a3-1"] == {"role": "idle", "processes": []}
    assert "a3-1: not used by profile" in result["warnings"][0]
    env, argv = runbook_script("002-a3-w8a8-single.sh", "10.1.0.5", "eth0")
    (proc,) = result["hosts"]["a3-0"]["processes"]
    assert_same_command(proc, env, argv, "0.11.0")
    assert result["stages"] == [["a3-0"]]


def test_headless_start_ranks_and_devices_scale_to_many_nodes():
    prof = profile("002-a3-dsv32-exp-dp2-tp16")
    prof["parallel"].update(dp=8, dp_per_node=1)
    prof["nodes"] = 8
    result = planner.plan(prof, hosts(*[("n%d" % i, "10.0.0.%d" % (10 + i), "eth0")
                                        for i in range(8)]))
    assert result["errors"] == []
    ranks = [result["hosts"]["n%d" % i]["processes"][0]["dp_ranks"] for i in range(8)]
    assert ranks == [[i] for i in range(8)]
    argv = result["hosts"]["n7"]["processes"][0]["argv"]
    assert argv[argv.index("--data-parallel-start-rank") + 1] == "7"
    assert argv[argv.index("--data-parallel-address") + 1] == "10.0.0.10"
    assert result["stages"] == [["n%d" % i for i in range(1, 8)], ["n0"]]


def test_head_can_be_chosen_by_inventory():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(("a", "10.0.0.1", "eth0"), ("b", "10.0.0.2", "eth0"))
    hs[1]["vars"]["npu_cluster_head"] = True
    result = planner.plan(prof, hs)
    assert result["head"] == "b" and result["hosts"]["a"]["role"] == "headless"
    argv = result["hosts"]["a"]["processes"][0]["argv"]
    assert argv[argv.index("--data-parallel-address") + 1] == "10.0.0.2"


def test_launch_script_quotes_every_value():
    proc = {"name": "vllm-serve", "host": "h", "env": {"A": "x y", "B": "it's"},
            "argv": ["vllm", "serve", "m", "--additional-config", '{"a":[1, 2]}',
                     "--trust-remote-code", "--served-model-name", "$(reboot)"]}
    script = planner.launch_script(proc)
    assert "export A='x y'" in script
    assert "export B='it'\"'\"'s'" in script
    assert "--served-model-name '$(reboot)'" in script
    joined = script.split("exec ", 1)[1].replace("\\\n", " ")
    assert shlex.split(joined) == proc["argv"]


# ------------------------------------------------------------------ validation failures

def errors_of(prof, hs):
    return planner.plan(prof, hs)["errors"]


def test_dp_total_must_equal_the_sum_of_local_sizes():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    prof["parallel"]["dp"] = 6
    (err,) = errors_of(prof, hosts(("a", "10.0.0.1", "e"), ("b", "10.0.0.2", "e")))
    assert "parallel.dp = 6 but the per-node DP sizes sum to 4 (a=2, b=2)" in err


def test_local_dp_times_tp_must_fit_the_node():
    prof = profile("002-a3-dsv32-exp-dp2-tp16")
    hs = hosts(("a3-node-0", "10.0.0.1", "e"), ("a3-node-1", "10.0.0.2", "e"))
    hs[1]["vars"]["npu_cluster_dp_size_local"] = 2
    prof["parallel"]["dp"] = 3
    errs = errors_of(prof, hs)
    assert any("a3-node-1: data-parallel-size-local 2 x tensor-parallel-size 16 = 32 > 16 NPUs "
               "on a3-node-1" in e for e in errs), errs


def test_device_count_comes_from_facts_first():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(("a", "10.0.0.1", "eth0"), ("b", "10.0.0.2", "eth0"))
    hs[1]["facts"] = {"device_count": 4, "interfaces": {"eth0": {"ipv4": ["10.0.0.2"]}}}
    (err,) = errors_of(prof, hs)
    assert err.startswith("b: data-parallel-size-local 2 x tensor-parallel-size 4 = 8 > 4 NPUs")


def test_start_rank_plus_local_must_not_exceed_dp():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(("a", "10.0.0.1", "e"), ("b", "10.0.0.2", "e"))
    hs[1]["vars"]["npu_cluster_dp_size_local"] = 3
    errs = errors_of(prof, hs)
    assert any("b: data-parallel-start-rank 2 + data-parallel-size-local 3 > "
               "data-parallel-size 4" in e for e in errs), errs


def test_same_model_version_and_ep_on_every_node():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(("a", "10.0.0.1", "e"), ("b", "10.0.0.2", "e"))
    hs[1]["vars"]["npu_cluster_engine_version"] = "0.33.0"
    hs[1]["vars"]["npu_cluster_extra_engine_args"] = {"disable-expert-parallel": True}
    errs = errors_of(prof, hs)
    assert any(e.startswith("b: engine version is 0.33.0 but 0.11.0 on the head a") for e in errs)


def test_option_unknown_to_the_engine_version_is_refused():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    prof["engine_args"]["disable-frontend-multiprocessing"] = True
    assert errors_of(prof, hosts(("a", "10.0.0.1", "e"), ("b", "10.0.0.2", "e"))) == []
    prof["engine"]["version"] = "0.33.0"
    errs = errors_of(prof, hosts(("a", "10.0.0.1", "e"), ("b", "10.0.0.2", "e")))
    assert errs and all("vLLM 0.33.0 rejects the command line: unrecognized arguments: "
                        "--disable-frontend-multiprocessing" in e for e in errs)
    prof["engine_args"]["num-scheduler-steps"] = 8
    prof["engine"]["version"] = "0.9.2"
    assert errors_of(prof, hosts(("a", "10.0.0.1", "e"), ("b", "10.0.0.2", "e"))) == []


def test_unknown_engine_version():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    prof["engine"]["version"] = "0.1.0"
    errs = errors_of(prof, hosts(("a", "10.0.0.1", "e"), ("b", "10.0.0.2", "e")))
    assert "no option table for vLLM 0.1.0 (known: 0.9.2, 0.11.0, 0.33.0)" in errs[0]


def test_ports_distinct_and_free():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    prof["ports"]["dp_rpc"] = 8004
    errs = errors_of(prof, hosts(("a", "10.0.0.1", "e"), ("b", "10.0.0.2", "e")))
    assert "a: ports.http and ports.dp_rpc are both 8004; every port must be distinct" in errs
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(("a", "10.0.0.1", "eth0"), ("b", "10.0.0.2", "eth0"))
    hs[0]["facts"] = {"interfaces": {"eth0": {"ipv4": ["10.0.0.1"]}},
                      "listening": [{"port": 13389, "address": "0.0.0.0", "name": "python3",
                                     "pid": 4242}]}
    (err,) = errors_of(prof, hs)
    assert err == ("a: port 13389 (dp_rpc) is already in use by python3 (pid 4242); stop it "
                   "or choose another port")
    hs[0]["facts"]["serving_running"] = True   # our own engine holds it: a re-run is fine
    assert errors_of(prof, hs) == []


def test_wrong_nic_and_missing_address():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(("a", "10.0.0.1", "eth1"), ("b", "10.0.0.2", None))
    hs[0]["facts"] = {"interfaces": {"eth0": {"ipv4": ["10.0.0.1"]}, "eth1": {"ipv4": ["10.9.0.1"]}}}
    hs[1]["facts"] = {"interfaces": {"eth0": {"ipv4": ["10.0.0.3"]}}}
    errs = errors_of(prof, hs)
    assert errs[0].startswith("a: npu_cluster_serving_nic is eth1, but eth1 does not own the "
                              "serving IP 10.0.0.1 (it is on eth0)")
    assert errs[1] == ("b: npu_cluster_serving_ip 10.0.0.2 is not an address of any interface "
                       "on the node (interfaces: eth0)")


def test_nic_and_ip_come_from_facts():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = [{"name": n, "vars": {}, "facts": {"default_ipv4": ip,
                                            "interfaces": {"bond0": {"ipv4": [ip]}}}}
          for n, ip in (("a", "10.0.0.1"), ("b", "10.0.0.2"))]
    result = planner.plan(prof, hs)
    assert result["errors"] == [] and result["unknowns"] == []
    assert result["hosts"]["b"]["processes"][0]["env"]["HCCL_SOCKET_IFNAME"] == "bond0"


def test_loopback_and_docker_bridge_addresses_are_refused():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(("a", "127.0.0.1", None), ("b", "172.17.0.1", None))
    hs[1]["facts"] = {"interfaces": {"docker0": {"ipv4": ["172.17.0.1"], "type": "bridge"}}}
    errs = errors_of(prof, hs)
    assert any(e.startswith("a: npu_cluster_serving_ip 127.0.0.1 is a loopback address") for e in errs)
    assert any(e.startswith("b: npu_cluster_serving_ip 172.17.0.1 belongs to the docker bridge "
                            "docker0") for e in errs)


def test_unknowns_are_marked_without_facts():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    result = planner.plan(prof, [{"name": "a", "vars": {}}, {"name": "b", "vars": {}}])
    assert result["errors"] == []
    assert len(result["unknowns"]) == 4
    assert result["hosts"]["a"]["serving_ip"].startswith("<unknown")
    assert "<unknown" in planner.render_text(result)


@pytest.mark.parametrize("mutate,expected", [
    (lambda p: p.pop("model"), "profile 000-a2-dsv31-w8a8-dp4: model is required"),
    (lambda p: p.update(topology="ray"), "topology 'ray' is not one of dp_headless, single "
     "(planned for a later release)"),
    (lambda p: p["parallel"].update(tp=0), "parallel.tp must be a positive integer, got 0"),
    (lambda p: p["ports"].pop("dp_rpc"), "ports.dp_rpc is required for topology dp_headless"),
    (lambda p: p["engine_args"].update(port=1), "engine_args sets --port, which the planner"),
    (lambda p: p.update(env=["A=1"]), "env must be a mapping"),
])
def test_profile_schema_errors(mutate, expected):
    prof = copy.deepcopy(profile("000-a2-dsv31-w8a8-dp4"))
    mutate(prof)
    errs = errors_of(prof, hosts(("a", "10.0.0.1", "e"), ("b", "10.0.0.2", "e")))
    assert any(expected in e for e in errs), errs


def test_too_few_nodes_and_two_heads():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    assert errors_of(prof, hosts(("a", "10.0.0.1", "e"))) == [
        "inventory: profile 000-a2-dsv31-w8a8-dp4 needs 2 nodes, the serving group has 1 (a)"]
    hs = hosts(("a", "10.0.0.1", "e"), ("b", "10.0.0.2", "e"))
    for h in hs:
        h["vars"]["npu_cluster_head"] = True
    assert "exactly one host may be the head" in errors_of(prof, hs)[0]


def test_every_shipped_profile_plans_cleanly():
    for path in sorted((REPO / "profiles").glob("*.yml")):
        prof = yaml.safe_load(path.read_text())
        assert path.stem == prof["name"]
        hs = hosts(*[("n%d" % i, "10.0.0.%d" % (i + 1), "eth0") for i in range(prof["nodes"])])
        assert planner.plan(prof, hs)["errors"] == [], path.name
