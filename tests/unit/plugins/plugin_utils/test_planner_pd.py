"""Topology pd_disaggregated (runbook 003): the plan equals what the runbook's own launcher and
template start on each of the eight nodes, rank for rank and flag for flag, and the proxy's
command line equals the runbook's; the current vllm-ascend form (CLI DP flags, the kv config
with both sides' sizes, one proxy host and port per rank, vllm-router) and every PD rule."""
import copy
import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from ansible_collections.npu.cluster.plugins.plugin_utils import planner, render, vllm_args

REPO = Path(__file__).resolve().parents[4]
GOLDEN = REPO / "tests" / "unit" / "golden"
PLAN_SCHEMA = json.loads((REPO / "plugins" / "plugin_utils" / "schemas" /
                          "plan.schema.json").read_text())
NAME = "003-a3-dsr1-w8a8-pd-d64"
# the runbook's addresses: 192.0.0.1-4 prefill, 192.0.0.5-8 decode
NODES = [("a3-node-%d" % i, "192.0.0.%d" % (i + 1), "enp%ds0" % i) for i in range(8)]


def profile():
    return yaml.safe_load((REPO / "profiles" / (NAME + ".yml")).read_text())


def pd_hosts(nodes=NODES, prefill=4):
    return [{"name": n, "vars": {"npu_cluster_serving_ip": ip, "npu_cluster_serving_nic": nic,
                                 "npu_cluster_pd_role": "prefill" if i < prefill else "decode"},
             "facts": None} for i, (n, ip, nic) in enumerate(nodes)]


def plan(prof, specs=None):
    result = planner.plan(prof, specs or pd_hosts(), {"profile_file": prof["name"]})
    jsonschema.Draft202012Validator(PLAN_SCHEMA).validate(result)
    return result


def run_runbook_node(tmp_path, index):
    """Runbook 003's launcher and template for one node, run as written (python, then bash per
    rank) with the node's NIC and IP filled in where the runbook says "xxxx", the node's DP
    master (prefill: itself) and start rank (decode: 0/16/32/48) where its comments say so, and
    a `vllm` on PATH that records each rank's environment and argv instead of serving."""
    _name, ip, nic = NODES[index]
    side = "prefill" if index < 4 else "decode"
    work = tmp_path / ("node%d" % index)
    (work / "bin").mkdir(parents=True)
    template = (GOLDEN / ("003-%s-run_dp_template.txt" % side)).read_text()
    template = template.replace('nic_name="xxxx"', 'nic_name="%s"' % nic)
    template = template.replace('local_ip="xxxx"', 'local_ip="%s"' % ip)
    (work / "run_dp_template.sh").write_text(template)
    launcher = (GOLDEN / ("003-%s-launcher.txt" % side)).read_text()
    if side == "prefill":
        launcher = re.sub(r'^dp_ip = "192\.0\.0\.1"', 'dp_ip = "%s"' % ip, launcher, flags=re.M)
    else:
        launcher = re.sub(r"^dp_rank_start = 0 ", "dp_rank_start = %d " % ((index - 4) * 16),
                          launcher, flags=re.M)
    (work / "launcher.py").write_text(launcher)
    fake = work / "bin" / "vllm"
    fake.write_text("#!%s\nimport json, os, sys\nwith open('rank%%s.json' %% "
                    "os.environ['VLLM_DP_RANK'], 'w') as f:\n    json.dump({'env': dict("
                    "os.environ), 'argv': ['vllm'] + sys.argv[1:]}, f)\n" % sys.executable)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    base = {"PATH": "%s:%s" % (work / "bin", os.environ["PATH"]), "HOME": str(work)}
    subprocess.run([sys.executable, "launcher.py"], cwd=work, env=base, check=True)
    out = {}
    for rec in work.glob("rank*.json"):
        data = json.loads(rec.read_text())
        env = dict((k, v) for k, v in data["env"].items()
                   if k not in base and k not in ("PWD", "SHLVL", "_", "OLDPWD", "LC_CTYPE"))
        out[int(env["VLLM_DP_RANK"])] = (env, data["argv"])
    return out


def normalised(version, argv):
    """parse() values of a `vllm serve` argv with its JSON options compared as JSON."""
    parsed = vllm_args.parse(version, argv[2:])
    assert parsed["errors"] == [], parsed["errors"]
    values = {}
    for key, value in parsed["values"].items():
        try:
            loaded = json.loads(value) if isinstance(value, str) and value[:1] == "{" else value
        except ValueError:
            loaded = value
        values[key] = loaded
    return parsed["model"], values


def test_golden_plan_equals_runbook_003_node_for_node_and_rank_for_rank(tmp_path):
    prof = profile()
    result = plan(prof)
    assert result["errors"] == [] and result["unknowns"] == []
    for index, (host, ip, _nic) in enumerate(NODES):
        ran = run_runbook_node(tmp_path, index)
        mine = [p for p in result["hosts"][host]["processes"] if p["kind"] == "vllm_serve"]
        assert sorted(ran) == [p["dp_ranks"][0] for p in mine], host
        assert len(mine) == (2 if index < 4 else 16)
        for proc in mine:
            env, argv = ran[proc["dp_ranks"][0]]
            assert proc["env"] == env, (host, proc["name"])
            assert normalised("0.9.1", proc["argv"]) == normalised("0.9.1", argv), proc["name"]
            assert len(proc["argv"]) == len(argv)   # nothing extra, nothing dropped
            assert proc["argv"][:3] == argv[:3] == ["vllm", "serve", prof["model"]]
    # the proxy, on the head (the first prefill node), with the runbook's arguments
    text = (GOLDEN / "003-proxy.txt").read_text().split("\n", 1)[1]
    theirs = shlex.split(text.replace("\\\n", " "))
    proxy = [p for p in result["hosts"]["a3-node-0"]["processes"] if p["kind"] == "proxy"][0]
    assert proxy["argv"][0] == theirs[0] == "python"
    assert os.path.basename(proxy["argv"][1]) == theirs[1]
    assert proxy["argv"][2:] == theirs[2:]


def test_the_plan_shape_stages_ports_groups_and_probes():
    result = plan(profile())
    assert [s["name"] for s in result["stages"]] == ["prefill and decode ranks",
                                                     "rank supervisors", "proxy"]
    assert len(result["stages"][0]["processes"]) == 4 * 2 + 4 * 16
    assert result["stages"][1] == {"name": "rank supervisors", "wait": "started", "processes": [
        {"host": h, "name": "supervisor"} for h, _ip, _nic in NODES]}
    assert result["stages"][2]["processes"] == [{"host": "a3-node-0", "name": "proxy"}]
    supervisor = [p for p in result["hosts"]["a3-node-6"]["processes"]
                  if p["kind"] == "supervisor"][0]
    assert supervisor["argv"][-16:] == ["vllm-d-dp%d" % r for r in range(32, 48)]
    assert supervisor["argv"][4] == "/etc/npu-cluster/serving"
    assert result["endpoint"] == {"url": "http://192.0.0.1:8000", "host": "a3-node-0",
                                  "process": "proxy"}
    # each prefill node its own DP master; the decode nodes share the first decode node
    assert [(g, v["master"]["address"], v["size"]) for g, v in result["groups"].items()] == [
        ("prefill-0", "192.0.0.1", 2), ("prefill-1", "192.0.0.2", 2),
        ("prefill-2", "192.0.0.3", 2), ("prefill-3", "192.0.0.4", 2),
        ("decode", "192.0.0.5", 64)]
    node5 = [p for p in result["hosts"]["a3-node-5"]["processes"] if p["kind"] == "vllm_serve"]
    assert [p["dp_ranks"][0] for p in node5] == list(range(16, 32))
    assert [p["ports"]["http"] for p in node5] == list(range(9000, 9016))
    assert [p["devices"] for p in node5][:2] == [[0], [1]]
    # kv ports: kv_port + rank x tp, one per TP rank
    assert node5[0]["port_ranges"] == {"kv": [20017, 20017]}
    node1 = result["hosts"]["a3-node-1"]["processes"]
    assert [p["port_ranges"]["kv"] for p in node1 if p["kind"] == "vllm_serve"] == [
        [20001, 20008], [20009, 20016]]
    assert node1[0]["ports"] == {"http": 9000, "dp_master": 13395}
    # every rank answers on its own address; only the proxy is asked for a completion
    assert node5[3]["probe"]["url"] == "http://192.0.0.6:9003"
    assert node5[3]["probe"]["completion"] is False
    proxy = result["hosts"]["a3-node-0"]["processes"][-1]
    assert proxy["probe"]["completion"] is True and proxy["probe"]["health"] == "/healthcheck"
    text = render.render_text(result)
    assert "start order: a3-node-0 x2, a3-node-1 x2, a3-node-2 x2, a3-node-3 x2, a3-node-4 x16" \
        in text


def current(prof=None):
    """The same deployment on a current vllm-ascend image (vLLM 0.11.0 here)."""
    prof = copy.deepcopy(prof or profile())
    prof["engine"]["version"] = "0.11.0"
    prof["image"] = "quay.io/ascend/vllm-ascend:v0.11.0rc0-a3"
    del prof["external_dp"]
    prof["kv_transfer"] = {"connector": "MooncakeConnectorV1"}
    prof["ports"]["kv"] = 36000
    del prof["env"]["VLLM_ASCEND_EXTERNAL_DP_LB_ENABLED"]
    return prof


def test_current_vllm_ascend_gets_dp_flags_device_slices_and_the_current_kv_config():
    result = plan(current())
    assert result["errors"] == []
    rank = result["hosts"]["a3-node-1"]["processes"][1]
    argv = rank["argv"]
    at = argv.index("--data-parallel-size")
    assert argv[at:at + 8] == ["--data-parallel-size", "2", "--data-parallel-rank", "1",
                               "--data-parallel-address", "192.0.0.2",
                               "--data-parallel-rpc-port", "13395"]
    assert not [k for k in rank["env"] if k.startswith("VLLM_DP_")]
    assert rank["env"]["ASCEND_RT_VISIBLE_DEVICES"] == "8,9,10,11,12,13,14,15"
    kv = json.loads(argv[argv.index("--kv-transfer-config") + 1])
    assert kv == {"kv_connector": "MooncakeConnectorV1", "kv_role": "kv_producer",
                  "kv_port": "36000", "engine_id": "prefill-1",
                  "kv_connector_extra_config": {"prefill": {"dp_size": 2, "tp_size": 8},
                                                "decode": {"dp_size": 64, "tp_size": 1}}}
    decode = result["hosts"]["a3-node-7"]["processes"][15]
    assert decode["env"]["ASCEND_RT_VISIBLE_DEVICES"] == "15"
    assert "--data-parallel-address" in decode["argv"]
    assert decode["argv"][decode["argv"].index("--data-parallel-address") + 1] == "192.0.0.5"
    assert json.loads(decode["argv"][decode["argv"].index("--kv-transfer-config") + 1])[
        "engine_id"] == "decode-0"
    assert decode["port_ranges"] == {"kv": [36063, 36063]}
    # the example proxy's current form: one host and one port per rank, no -num / -inc
    proxy = result["hosts"]["a3-node-0"]["processes"][-1]["argv"]
    hosts = proxy[proxy.index("--prefiller-hosts") + 1:proxy.index("--prefiller-ports")]
    ports = proxy[proxy.index("--prefiller-ports") + 1:proxy.index("--decoder-hosts")]
    assert hosts == ["192.0.0.1", "192.0.0.1", "192.0.0.2", "192.0.0.2", "192.0.0.3",
                     "192.0.0.3", "192.0.0.4", "192.0.0.4"]
    assert ports == ["9000", "9001"] * 4
    assert len(proxy[proxy.index("--decoder-hosts") + 1:proxy.index("--decoder-ports")]) == 64
    assert not [a for a in proxy if a.endswith(("-num", "-inc"))]


def test_vllm_router_in_pd_mode_gets_one_url_per_rank_and_its_policies():
    prof = current()
    prof["proxy"] = {"kind": "vllm_router", "policy": "round_robin",
                     "decode_policy": "power_of_two"}
    result = plan(prof)
    assert result["errors"] == []
    proxy = result["hosts"]["a3-node-0"]["processes"][-1]
    argv = proxy["argv"]
    assert argv[:2] == ["vllm-router", "--vllm-pd-disaggregation"]
    assert argv.count("--prefill") == 8 and argv.count("--decode") == 64
    assert argv[2:6] == ["--prefill", "http://192.0.0.1:9000", "--prefill",
                         "http://192.0.0.1:9001"]
    assert argv[-8:] == ["--host", "192.0.0.1", "--port", "8000", "--policy", "round_robin",
                         "--decode-policy", "power_of_two"]
    assert proxy["probe"]["health"] == "/health"


def test_the_head_host_moves_the_proxy_but_not_the_ranks():
    specs = pd_hosts()
    specs[5]["vars"]["npu_cluster_head"] = True
    result = plan(profile(), specs)
    assert result["errors"] == []
    assert result["endpoint"]["url"] == "http://192.0.0.6:8000"
    assert [p["dp_ranks"] for p in result["hosts"]["a3-node-4"]["processes"]][0] == [0]
    assert result["hosts"]["a3-node-5"]["processes"][-1]["kind"] == "proxy"


V = "profile %s: " % NAME


@pytest.mark.parametrize("change,message", [
    (lambda p: p["engine"].update(version="0.11.0"),
     V + "external_dp: env (VLLM_DP_*) is the vllm-ascend 0.9.x distributed DP server; vLLM "
     "0.11.0 reads it only for offline data parallel: use external_dp: flags"),
    (lambda p: p.update(external_dp="flags"),
     V + "external_dp: flags (--data-parallel-rank per process) needs vLLM 0.10 or later; "
     "engine.version 0.9.1 has only the VLLM_DP_* environment: use external_dp: env"),
    (lambda p: p.update(engine=dict(p["engine"], version="0.33.0"), external_dp="flags"),
     V + "kv_transfer.form: v0.9.1 sets kv_parallel_size, which vLLM 0.33.0 rejects (not a "
     "field of KVTransferConfig): use form: current"),
    (lambda p: p["decode"]["parallel"].update(dp=60),
     V + "decode.parallel: dp 60 != nodes 4 x dp_per_node 16; with master first_node the "
     "side's nodes form one DP group"),
    (lambda p: p["prefill"]["parallel"].update(dp=4),
     V + "prefill.parallel: dp 4 != dp_per_node 2; with master each_node every node is a DP "
     "group of its own"),
    (lambda p: p["parallel"].update(tp=8),
     V + "parallel.tp: topology pd_disaggregated sets it per side (prefill.parallel, "
     "decode.parallel); parallel holds only ep"),
    (lambda p: p.update(nodes=9), V + "nodes 9 != prefill.nodes 4 + decode.nodes 4"),
    (lambda p: p["proxy"].pop("script"),
     V + "proxy.script: required for kind vendor_example (the path of "
     "load_balance_proxy_server_example.py in the image)"),
    (lambda p: p["proxy"].update(policy="random"),
     V + "proxy.policy, prefill_policy, decode_policy: only for kind vllm_router"),
    (lambda p: p["prefill"]["engine_args"].update({"kv-transfer-config": "{}"}),
     V + "prefill.engine_args.kv-transfer-config: sets --kv-transfer-config, which the planner "
     "derives (from parallel, ports, model, served_model_name or a secret); remove it"),
    (lambda p: p["ports"].pop("kv"), V + "ports: 'kv' is a required property"),
    (lambda p: p.pop("proxy"), V + "(top level): 'proxy' is a required property"),
])
def test_pd_profile_rules(change, message):
    prof = profile()
    change(prof)
    result = plan(prof)
    assert message in result["errors"], result["errors"]


def test_prefill_tp_below_decode_tp_is_refused_in_the_current_form():
    prof = current()
    prof["decode"]["parallel"].update(tp=16, dp=4, dp_per_node=1)
    result = plan(prof)
    assert V + ("prefill.parallel.tp 8 < decode.parallel.tp 16: MooncakeConnectorV1 needs the "
                "prefill TP at least the decode TP") in result["errors"]


def test_kv_ports_inside_the_transports_random_range_are_refused():
    prof = current()
    prof["ports"]["kv"] = 20001
    result = plan(prof)
    assert "a3-node-0: kv ports 20001-20008 fall inside Mooncake AscendDirectTransport's random " \
        "port range 20000-35999 (16 NPUs); set ports.kv to 36000 or above" in result["errors"]


def test_kv_ports_must_not_meet_another_port_of_the_node():
    prof = profile()
    prof["ports"]["http"] = 20003
    result = plan(prof)
    assert "a3-node-0: port 20003 (http) is inside the kv port range 20001-20008 of vllm-p-dp0" in \
        result["errors"], result["errors"]


def test_every_host_names_its_side_and_the_sides_have_their_node_counts():
    specs = pd_hosts()
    del specs[6]["vars"]["npu_cluster_pd_role"]
    result = plan(profile(), specs)
    assert result["errors"] == [
        "a3-node-6: npu_cluster_pd_role is None; topology pd_disaggregated needs prefill or "
        "decode on every serving host (set it in the inventory's group_vars/prefill.yml and "
        "group_vars/decode.yml)"]
    result = plan(profile(), pd_hosts(prefill=3))
    assert result["errors"] == [
        "inventory: profile %s needs 4 prefill nodes, the inventory has 3 (a3-node-0, a3-node-1, "
        "a3-node-2)" % NAME,
        "inventory: profile %s needs 4 decode nodes, the inventory has 5 (a3-node-3, a3-node-4, "
        "a3-node-5, a3-node-6, a3-node-7)" % NAME]


def test_a_side_whose_ranks_do_not_fit_the_node_is_refused():
    prof = profile()
    prof["decode"]["parallel"].update(tp=2)
    result = plan(prof)
    assert result["errors"] == [
        "a3-node-%d: 16 engines x tensor-parallel-size 2 = 32 NPUs > 16 NPUs on a3-node-%d "
        "(vllm-d-dp%d and the engines after it have no devices)" % (n, n, (n - 4) * 16 + 8)
        for n in range(4, 8)]


def test_a_node_supervisor_stops_the_other_ranks_when_one_dies(tmp_path):
    """The supervisor's own loop, run against real launch scripts: one rank killed, the node's
    other rank stopped, the supervisor exits 1 naming the dead one."""
    import signal
    import time
    sdir, ldir = tmp_path / "s", tmp_path / "l"
    sdir.mkdir()
    ldir.mkdir()
    names = ["vllm-d-dp0", "vllm-d-dp1"]
    for name in names:
        proc = {"name": name, "host": "h", "env": {}, "argv": ["sleep", "60"]}
        (sdir / (name + ".sh")).write_text(render.launch_script(proc, str(sdir), str(ldir)))
        (sdir / (name + ".sh")).chmod(0o750)
        subprocess.run(["sh", str(sdir / (name + ".sh")), "start"], check=True,
                       capture_output=True)
    sup = planner.supervisor_process({"name": "h"}, {"name": "supervisor", "role": "decode",
                                                     "stage": 1, "watch": names}, str(sdir))
    watcher = subprocess.Popen(sup["argv"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        time.sleep(1)
        assert watcher.poll() is None        # both running: it keeps watching
        # the rank's process dies (its launch wrapper stays and records the exit code)
        leader = int((ldir / "vllm-d-dp1.pid").read_text().split()[0])
        child = int(Path("/proc/%d/task/%d/children" % (leader, leader)).read_text().split()[0])
        os.kill(child, signal.SIGKILL)
        out = watcher.communicate(timeout=20)[0]
    finally:
        if watcher.poll() is None:
            watcher.kill()
        for name in names:
            subprocess.run(["sh", str(sdir / (name + ".sh")), "stop"], check=False,
                           capture_output=True)
    assert watcher.returncode == 1
    assert "watching 2 ranks: vllm-d-dp0 vllm-d-dp1" in out
    assert "ERROR vllm-d-dp1 is exited 137: stopping this node's other ranks" in out
    assert "vllm-d-dp0: stopped" in out
    status = subprocess.run(["sh", str(sdir / "vllm-d-dp0.sh"), "status"], check=True,
                            capture_output=True, text=True).stdout.strip()
    assert status != "running"
