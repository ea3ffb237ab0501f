"""Runbook 003 end to end on an a3x8 lab (prefill = nodes 0-3, decode = nodes 4-7): `site.yml`
with the prefill/decode profile verifies, starts 8 prefill ranks (each prefill node its own DP
group of 2 x TP 8) and 64 decode ranks (one DP group of 64 x TP 1, mastered by node 4), each
its own `vllm serve`, then the vendor's example proxy on node 0 with the runbook's v0.9.1
arguments, and ends with a completion that was prefilled on one side and decoded on the other;
a second run changes nothing; a rank that dies stops its node's other ranks (the node's
supervisor); the same ranks behind the real vllm-router (current vllm-ascend form) serve too;
teardown leaves nothing.  A decode rank crashing during start, decode nodes
that cannot reach their DP master and a kv port already taken each fail naming node, side and
rank, and leave nothing running.  Tests in a module run in order."""
import json
import re
import time

import pytest
import yaml

from conftest import REPO, why
from test_serve import FAST, completion, containers, changed
from test_serve import nothing_runs as serving_nothing_runs, statuses as serving_statuses

PROFILE = "003-a3-dsr1-w8a8-pd-d64"
LOAD = '{"npu_cluster_extra_env": {"NPU_LAB_VLLM_LOAD_SECONDS": "1"%s}}'


@pytest.fixture(scope="module")
def pd(lab_factory, tmp_path_factory):
    lab = lab_factory("a3x8", latency=FAST)
    lab.vars = tmp_path_factory.mktemp("pd") / "pd.json"
    lab.vars.write_text(lab.npu_lab_json("image-vars", "--variant", "pd"))
    return lab


def deploy(lab, *extra, profile=PROFILE):
    """`deploy` of the PD profile with the PD image; extra: more `-e` values."""
    return lab.deploy(extra_vars=["npu_cluster_profile=" + str(profile), "@%s" % lab.vars] +
                      list(extra))


def statuses(lab):
    return serving_statuses(lab, "vllm")


def nothing_runs(lab):
    serving_nothing_runs(lab, "vllm")


def script_of(lab, node, name):
    """A launch script with its continued lines joined (one argument per line as written)."""
    text = lab.exec(node, "cat", "/etc/npu-cluster/serving/%s.sh" % name, check=True).stdout
    return re.sub(r"\s*\\\n\s*", " ", text)


def log_time(line):
    """Seconds of a simulated engine's or the proxy's log line time stamp (MM-DD HH:MM:SS)."""
    m = re.search(r"(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)", line)
    return time.mktime((2026, int(m.group(1)), int(m.group(2)), int(m.group(3)),
                        int(m.group(4)), int(m.group(5)), 0, 0, -1))


def test_runbook_003_serves_through_the_example_proxy(pd):
    res = deploy(pd, LOAD % "")
    assert res.ok, why(res, 6000)
    m = re.search(r"deepseek_r1 is served at (http://([\d.]+):8000) \(%s, 8 nodes\); test "
                  r"completion" % PROFILE, res.output())
    assert m, res.output()[-4000:]
    endpoint = m.group(1)
    # 2 ranks on every prefill node, 16 on every decode node, a supervisor on every node, the
    # proxy on node 0: all running
    states = statuses(pd)
    assert sorted(states[0]) == ["proxy", "supervisor", "vllm-p-dp0", "vllm-p-dp1"]
    assert sorted(states[5]) == sorted(["supervisor"] + ["vllm-d-dp%d" % r
                                                         for r in range(16, 32)])
    assert sum(len(s) for s in states.values()) == 8 + 64 + 8 + 1
    assert all(v == "running" for s in states.values() for v in s.values()), states
    # the runbook's environment and arguments, rank by rank
    script = script_of(pd, 6, "vllm-d-dp37")
    master = script_of(pd, 4, "vllm-d-dp0")
    master_ip = re.search(r"export HCCL_IF_IP=([\d.]+)", master).group(1)
    for line in ("export VLLM_DP_SIZE=64", "export VLLM_DP_RANK=37", "export VLLM_DP_RANK_LOCAL=5",
                 "export VLLM_DP_SIZE_LOCAL=16", "export VLLM_DP_MASTER_IP=%s" % master_ip,
                 "export VLLM_DP_MASTER_PORT=13395", "export HCCL_BUFFSIZE=1024", "--port 9005",
                 '"kv_role":"kv_consumer"'):
        assert line in script, line
    prefill = script_of(pd, 2, "vllm-p-dp1")
    own_ip = re.search(r"export HCCL_IF_IP=([\d.]+)", prefill).group(1)
    assert "export VLLM_DP_MASTER_IP=%s" % own_ip in prefill     # each prefill node its master
    assert "export HCCL_BUFFSIZE=256" in prefill and "--enforce-eager" in prefill
    proxy = script_of(pd, 0, "proxy")
    assert "--prefiller-hosts-num 2 2 2 2" in proxy and "--decoder-ports-inc 16 16 16 16" in proxy
    # a client on a decode node, through the proxy: prefilled on one side, decoded on the other
    answer = completion(pd, 7, endpoint, "deepseek_r1", prompt="Which one is larger?")
    assert answer["usage"]["completion_tokens"] == 12
    prefills = sum(int(pd.exec(i, "sh", "-c", "cat /var/log/npu-cluster/vllm-p-dp*.log | grep -c "
                               "'POST /v1/completions HTTP/1.1\" 200' || true").stdout or 0)
                   for i in range(4))
    decodes = sum(int(pd.exec(i, "sh", "-c", "cat /var/log/npu-cluster/vllm-d-dp*.log | grep -c "
                              "'POST /v1/completions HTTP/1.1\" 200' || true").stdout or 0)
                  for i in range(4, 8))
    assert prefills == decodes == 2      # the launch's test completion and this one
    # the stage order holds: the proxy started after every decode rank was up
    proxy_log = pd.exec(0, "cat", "/var/log/npu-cluster/proxy.log", check=True).stdout
    started = log_time(proxy_log.splitlines()[0])
    up = [log_time(line) for i in range(4, 8) for line in pd.exec(i, "sh", "-c", (
        "grep -h 'all 64 data-parallel ranks up' /var/log/npu-cluster/vllm-d-dp*.log"),
        check=True).stdout.splitlines()]
    assert len(up) == 64 and started >= max(up), (started, max(up))


def test_runbook_003s_aisbench_through_the_proxy(pd, tmp_path):
    """Runbook 003's benchmark: AISBench (installed at its pinned version), profile 003's model
    config -- request rate 28, batch size 1536, max output length 10, seed 1024, ignore_eos
    False -- after the FAQ's warm-up, through the example proxy: every request is prefilled on
    one side and decoded on the other.  Fewer prompts than the profile's 1319."""
    image = tmp_path / "aisbench-vars.json"
    image.write_text(pd.npu_lab_json("image-vars", "--variant", "bench-aisbench"))
    small = {"client": "aisbench", "num_prompts": 16, "warmup_prompts": 4}
    res = pd.run("bench", extra_vars=["npu_cluster_profile=" + PROFILE, "@%s" % pd.vars,
                                      "@%s" % image, json.dumps({"npu_cluster_bench": small})])
    assert res.ok, why(res, 5000)
    rec, = res.bench
    assert rec["client"] == {"name": "ais_bench", "version": "3.1.20260630"}
    assert (rec["completed"], rec["failed"]) == (16, 0), rec
    assert (rec["run"]["request_rate"], rec["run"]["max_concurrency"]) == (28, 1536)
    assert rec["run"]["total_output_tokens"] == 16 * 10
    assert rec["metrics"]["ttft_ms"]["mean"] > 0 and rec["metrics"]["tpot_ms"]["mean"] > 0
    assert rec["deployment"]["profile"] == PROFILE
    # the config the role wrote on the proxy's node is the runbook's
    config = pd.exec(0, "sh", "-c", "cat /var/lib/npu-cluster/bench/*/%s.py" % rec["name"],
                     check=True).stdout
    for value in ("'request_rate': 28.0", "'batch_size': 1536", "'max_out_len': 10", "'retry': 2",
                  "'model': 'deepseek_r1'", "'host_port': 8000", "'ignore_eos': False",
                  "'seed': 1024", "'trust_remote_code': True"):
        assert value in config, value
    # warm-up and run went through the proxy: prefilled and decoded, 4 + 16 chat requests
    decodes = sum(int(pd.exec(i, "sh", "-c", "cat /var/log/npu-cluster/vllm-d-dp*.log | grep -c "
                              "'POST /v1/chat/completions HTTP/1.1\" 200' || true").stdout or 0)
                  for i in range(4, 8))
    assert decodes == 4 + 16, decodes


def test_second_run_changes_nothing(pd):
    res = deploy(pd, LOAD % "")
    assert res.ok, why(res, 4000)
    counts = changed(res)
    assert not any(counts.values()), counts


def test_a_rank_that_dies_stops_its_node_group(pd):
    """Rank 37's engine dies (its launch wrapper records the exit): the node's supervisor stops
    a3-node-6's other 15 ranks instead of leaving a silent half-group, and says why."""
    pd.exec(6, "docker", "exec", "vllm", "sh", "-c",
            "read -r p _ </var/log/npu-cluster/vllm-d-dp37.pid; "
            "kill -9 $(cat /proc/$p/task/$p/children)", check=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        node6 = statuses(pd)[6]
        if not [p for p, st in node6.items() if st == "running"]:
            break
        time.sleep(1)
    assert node6["vllm-d-dp37"] == "exited 137" and node6["supervisor"] == "exited 1", node6
    assert not [p for p, st in node6.items() if st == "running"], node6
    log = pd.exec(6, "cat", "/var/log/npu-cluster/supervisor.log", check=True).stdout
    assert "ERROR vllm-d-dp37 is exited 137: stopping this node's other ranks" in log
    assert "vllm-d-dp32: stopped" in log
    # the other nodes' processes are left to the next run, which restarts the deployment
    assert statuses(pd)[5]["vllm-d-dp16"] == "running"


def test_vllm_router_serves_the_current_form(pd, tmp_path):
    """The same layout on a current vllm-ascend (vLLM 0.11.0 here: --data-parallel-rank, one
    device slice per rank, the kv config with both sides' sizes, kv ports from 36000) behind the
    real vllm-router from PyPI in PD mode."""
    prof = yaml.safe_load(open(pd_profile_path()).read())
    prof.update(name="pd-router", engine=dict(prof["engine"], version="0.11.0"),
                kv_transfer={"connector": "MooncakeConnectorV1"},
                proxy={"kind": "vllm_router", "policy": "round_robin"})
    prof.pop("external_dp")
    prof["ports"]["kv"] = 36000
    del prof["env"]["VLLM_ASCEND_EXTERNAL_DP_LB_ENABLED"]
    path = tmp_path / "pd-router.yml"
    path.write_text(yaml.safe_dump(prof, sort_keys=False))
    res = deploy(pd, LOAD % ', "NPU_LAB_VLLM_VERSION": "0.11.0"', profile=path)
    assert res.ok, why(res, 6000)
    assert re.search(r"deepseek_r1 is served at http://[\d.]+:8000 \(pd-router, 8 nodes\); test "
                     r"completion", res.output()), res.output()[-4000:]
    script = script_of(pd, 5, "vllm-d-dp17")
    assert "export ASCEND_RT_VISIBLE_DEVICES=1" in script and "VLLM_DP_" not in script
    assert "--data-parallel-rank 17" in script and '"kv_port":"36000"' in script
    router = pd.exec(0, "cat", "/var/log/npu-cluster/proxy.log", check=True).stdout
    assert "VllmPDRouter::new called in direct URL mode with 8 prefill, 64 decode workers" in \
        router
    assert statuses(pd)[0]["proxy"] == "running"
    # and again: nothing changes
    res = deploy(pd, LOAD % ', "NPU_LAB_VLLM_VERSION": "0.11.0"', profile=path)
    assert res.ok, why(res, 4000)
    counts = changed(res)
    assert not any(counts.values()), counts


def pd_profile_path():
    return REPO / "profiles" / (PROFILE + ".yml")


def test_teardown_leaves_nothing(pd):
    res = pd.teardown()
    assert res.ok, why(res, 4000)
    assert containers(pd) == [""] * 8


def test_a_decode_rank_crashing_during_start_is_named_with_its_side_and_rank(pd):
    # DP rank 37 of the decode group: a3-node-6's sixth rank
    res = deploy(pd, LOAD % ', "NPU_LAB_VLLM_FAULT": "crash-on-start:37"')
    assert not res.ok
    failures = res.output().split("The deployment did not come up", 1)[1]
    assert re.search(r"- a3-node-6: vllm-d-dp37 \(decode\) exited with code 1 after \d+s",
                     failures), failures[:4000]
    assert "Engine core proc EngineCore_DP37 died unexpectedly" in failures
    nothing_runs(pd)


def test_decode_nodes_that_cannot_reach_their_dp_master_are_named(pd):
    """The decode master's DP port is blocked on node 4 (for every client, node 4's own ranks
    too): the decode ranks give up on it and are named; every node stops waiting and nothing is
    left running."""
    pd.npu_lab("fault", "a3-node-4", "port-block", "13395")
    try:
        res = deploy(pd, LOAD % ', "NPU_LAB_VLLM_CONNECT_TIMEOUT": "5"')
    finally:
        pd.npu_lab("reset")
    assert not res.ok
    failures = res.output().split("The deployment did not come up", 1)[1]
    named = [line for line in failures.split("\n(")[0].splitlines() if line.startswith("- ")]
    assert named and all(re.match(r"- a3-node-[4567]: vllm-d-dp\d+ \(decode\) exited with code 1 "
                                  r"after \d+s$", line) for line in named), failures[:3000]
    assert re.search(r"TimeoutError: no data-parallel master \(VLLM_DP_MASTER_IP:"
                     r"VLLM_DP_MASTER_PORT\) at [\d.]+:13395", failures), failures[:4000]
    nothing_runs(pd)
    assert pd.teardown().ok


def test_a_kv_port_already_taken_on_a_node_is_refused_before_anything_starts(pd):
    # decode rank 19 (a3-node-5's fourth) takes kv port 20001 + 19 x 1; no serving container
    # runs, so the plan reads the node's listening ports
    assert pd.teardown().ok
    pd.exec(5, "sh", "-c", "nohup python3 -c 'import socket,time; s=socket.socket(); "
            "s.bind((\"0.0.0.0\", 20020)); s.listen(1); time.sleep(600)' >/dev/null 2>&1 &",
            check=True)
    try:
        res = deploy(pd, LOAD % "")
    finally:
        pd.exec(5, "pkill", "-f", "s.bind")
    assert not res.ok
    assert re.search(r"a3-node-5: port 20020 is in the kv port range 20020-20020 of vllm-d-dp19 "
                     r"and already in use by python3 \(pid \d+\)", res.output()), res.output()[-4000:]
    assert "The deployment plan has errors; no host was changed" in res.output()
    assert containers(pd) == [""] * 8
