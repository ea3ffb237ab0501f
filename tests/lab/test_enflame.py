"""Runbook 004 end to end on a gcux4 lab (4 nodes x 8 GCU): `site.yml` verifies (with the ECCL
gate), starts the runbook's container on every node, installs its Python packages from the
workspace's wheels, starts two engines per node (one DP rank each, on GCUs 0-3 and 4-7, joined
through VLLM_DP_*), then the router on the master, and ends with a completion through the
router; a client on another node gets one too; a second run changes nothing; teardown leaves
nothing. An engine crashing during start, a node that cannot reach the DP master and a red ECCL
gate each fail naming node and rank and leave nothing running, without waiting out the stage's
timeout on the other nodes.  Tests in a module run in order."""
import json
import re

import pytest

from conftest import why
from test_serve import FAST, completion, containers, changed
from test_serve import nothing_runs as serving_nothing_runs, statuses as serving_statuses

MODEL = "/home/workspace/models/DeepSeek-R1-awq"
LOAD = '{"npu_cluster_extra_env": {"NPU_LAB_VLLM_LOAD_SECONDS": "1"%s}}'


@pytest.fixture(scope="module")
def gcu(lab_factory):
    return lab_factory("gcux4", latency=FAST)


def statuses(lab):
    return serving_statuses(lab, "test_env")


def nothing_runs(lab):
    serving_nothing_runs(lab, "test_env")


def test_runbook_004_serves_through_the_router(gcu):
    res = gcu.deploy(extra_vars=LOAD % "")
    assert res.ok, why(res, 6000)
    m = re.search(r"%s is served at (http://([\d.]+):8002) \(004-gcu-dsr1-awq-dp8-tp4, 4 nodes\); "
                  r"test completion" % re.escape(MODEL), res.output())
    assert m, res.output()[-4000:]
    endpoint, master = m.group(1), m.group(2)
    # the plan shows the driver each node runs, as the fabric check read it (efsmi)
    assert re.search(r"== gcu-node-1: rank, serving IP [\d.]+ on eth0, 8 GCUs, driver 1\.4\.4\.501, "
                     r"vLLM 0\.9\.2", res.output()), res.output()[-3000:]
    # a client on another node, through the router
    answer = completion(gcu, 3, endpoint, MODEL, prompt="Which one is larger? 3.8 or 3.11")
    assert answer["usage"]["completion_tokens"] == 12
    # two engines per node, each its DP rank on its GCU slice and port; the router on node 0
    for node in range(4):
        for slot in range(2):
            rank = node * 2 + slot
            script = gcu.exec(node, "cat", "/etc/npu-cluster/serving/vllm-dp%d.sh" % rank,
                              check=True).stdout
            assert "export TOPS_VISIBLE_DEVICES=%s" % ("0,1,2,3", "4,5,6,7")[slot] in script
            assert "export VLLM_DP_RANK=%d" % rank in script
            assert "export VLLM_DP_MASTER_IP=%s" % master in script
            assert "export VLLM_DP_SIZE=8" in script
            assert "export ECCL_ALLTOALLV_MAXSIZE=235929600" in script
            assert "--port %d" % (7555 + slot) in script
    assert statuses(gcu)[0]["router"] == "running"
    log = gcu.exec(0, "cat", "/var/log/npu-cluster/vllm-dp0.log", check=True).stdout
    assert "(8/8)" in log and "all 8 data-parallel ranks up" in log
    # the runbook's container
    info = json.loads(gcu.exec(1, "docker", "inspect", "test_env", check=True).stdout)[0]
    host = info["HostConfig"]
    assert host["Privileged"] is True and host["NetworkMode"] == "host"
    assert host["IpcMode"] == "host" and info["Config"]["User"] == "root"
    assert "seccomp=unconfined" in host["SecurityOpt"]
    assert [(u["Name"], u["Soft"], u["Hard"]) for u in host["Ulimits"]] == [("core", -1, -1)]
    env = dict(e.split("=", 1) for e in info["Config"]["Env"])
    assert env["ENFLAME_VISIBLE_DEVICES"] == "all" and env["TZ"] == "Asia/Shanghai"
    binds = ["%s:%s" % (b["Source"], b["Target"]) for b in host["Mounts"]]
    assert "/data/test:/home/workspace" in binds and "/sys/kernel:/sys/kernel" in binds
    # the runbook's Python packages, from the workspace's wheels (the lab's nodes have no index)
    versions = gcu.exec(2, "docker", "exec", "test_env", "python3", "-m", "pip", "list",
                        "--format", "json", check=True).stdout
    installed = dict((p["name"].lower(), p["version"]) for p in json.loads(versions))
    assert installed["datasets"] == "3.2.0" and installed["triton"] == "3.2.0"
    assert installed["opencv-python"] == installed["opencv-python-headless"] == "4.10.0.84"


def test_bench_through_the_router_with_the_forks_client(gcu, tmp_path):
    """`--tags bench` with profile 004's client, `python3 -m vllm_utils.benchmark_serving` (in
    the lab client image that module name runs vLLM's own serving benchmark, the code the
    fork's script came from), on the router's node against the router: every request takes
    the path clients take, through the router to the eight engines."""
    image = tmp_path / "bench-vars.json"
    image.write_text(gcu.npu_lab_json("image-vars", "--variant", "bench"))
    small = {"input_len": 32, "output_len": 16, "num_prompts": 16, "max_concurrency": 4,
             "warmup_prompts": 4}
    res = gcu.run("bench", extra_vars=["@%s" % image, json.dumps({"npu_cluster_bench": small})])
    assert res.ok, why(res, 5000)
    rec, = res.bench
    assert rec["client"] == {"name": "vllm_utils.benchmark_serving", "version": "0.32.0"}
    assert (rec["completed"], rec["failed"]) == (16, 0), rec
    assert rec["run"]["model"] == MODEL and rec["run"]["max_concurrency"] == 4
    assert rec["metrics"]["tpot_ms"]["mean"] > 0 and rec["metrics"]["ttft_ms"]["p99"] > 0
    dep = rec["deployment"]
    assert dep["profile"] == "004-gcu-dsr1-awq-dp8-tp4" and dep["engine_version"] == "0.9.2"
    assert dep["endpoint"]["url"].endswith(":8002")
    # the client ran on the router's node, and the engines behind it answered
    ps = gcu.exec(0, "docker", "ps", "--format", "{{.Names}}", check=True).stdout.split()
    assert "npu-bench" in ps
    served = sum(int(gcu.exec(n, "sh", "-c", "grep -c 'POST /v1/completions' "
                                 "/var/log/npu-cluster/vllm-dp%d.log || true" % r,
                              check=True).stdout.strip() or 0)
                 for n in range(4) for r in (2 * n, 2 * n + 1))
    assert served >= 16 + 4, served


def test_second_run_changes_nothing(gcu):
    res = gcu.deploy(extra_vars=LOAD % "")
    assert res.ok, why(res, 4000)
    counts = changed(res)
    assert not any(counts.values()), counts


def test_teardown_leaves_nothing(gcu):
    res = gcu.teardown()
    assert res.ok, why(res, 4000)
    assert containers(gcu) == ["", "", "", ""]


def test_an_engine_crashing_during_start_is_named_with_its_rank(gcu):
    # VLLM_DP_RANK 5 (gcu-node-2's second engine) dies while loading
    res = gcu.deploy(extra_vars=LOAD % ', "NPU_LAB_VLLM_FAULT": "crash-on-start:5"')
    assert not res.ok
    assert re.search(r"- gcu-node-2: vllm-dp5 \(rank\) exited with code 1 after \d+s",
                     res.output()), res.output()[res.output().find("did not come up"):][:4000]
    assert "Engine core proc EngineCore_DP5 died unexpectedly" in res.output()
    nothing_runs(gcu)


def test_a_node_that_cannot_reach_the_dp_master_is_named(gcu):
    """The ranks of gcu-node-3 give up on the master; the other nodes' engines keep waiting for
    the group, and the other nodes stop waiting for them at their next round once gcu-node-3
    failed (not at the stage's 900 s timeout); everything stops and the verdict names the
    node whose process died."""
    gcu.npu_lab("fault", "gcu-node-3", "port-block", "54999")
    try:
        res = gcu.deploy(extra_vars=LOAD % ', "NPU_LAB_VLLM_CONNECT_TIMEOUT": "5"')
    finally:
        gcu.npu_lab("reset")
    assert not res.ok
    failures = res.output().split("The deployment did not come up", 1)[1]
    named = [line for line in failures.split("\n(")[0].splitlines() if line.startswith("- ")]
    assert named and all(re.match(r"- gcu-node-3: vllm-dp[67] \(rank\) exited with code 1 "
                                  r"after \d+s$", line) for line in named), failures[:3000]
    assert "last lines of its log (/var/log/npu-cluster/vllm-dp6.log on gcu-node-3)" in failures \
        or "last lines of its log (/var/log/npu-cluster/vllm-dp7.log on gcu-node-3)" in failures
    assert re.search(r"TimeoutError: no data-parallel master \(VLLM_DP_MASTER_IP:"
                     r"VLLM_DP_MASTER_PORT\) at [\d.]+:54999", res.output()), res.output()[-4000:]
    # the master, still waiting for the group, stopped at its next round
    stopped = re.search(r"\(((?:gcu-node-\d, )*gcu-node-\d) stopped waiting when the stage "
                        r"failed on another node\.\)", failures)
    assert stopped and "gcu-node-0" in stopped.group(1).split(", "), failures[-2000:]
    assert "gcu-node-3" not in stopped.group(1)
    nothing_runs(gcu)
    assert gcu.teardown().ok


def test_a_red_eccl_gate_starts_nothing(gcu):
    gcu.npu_lab("fault", "gcu-node-1", "eccl-slow", "1.0")
    try:
        res = gcu.deploy()
    finally:
        gcu.npu_lab("reset")
    assert not res.ok
    assert "Fabric verification FAILED" in res.output()
    assert "gcu-node-1" in res.output().split("Fabric verification FAILED", 1)[1][:2000]
    assert "Start the serving containers" not in res.output()
    assert containers(gcu) == ["", "", "", ""]
