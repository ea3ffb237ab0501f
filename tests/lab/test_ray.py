"""Runbook 001 end to end on lab clusters with real Ray (the lab's serving-ray image): `site.yml`
on a fresh a2x2 starts Ray on the head, joins the worker, checks Ray's view of every node and
serves both of the runbook's layouts with a completion; a second run changes nothing; a changed
environment restarts Ray; the runbook's `--num-gpus` form, a worker that cannot reach the head
and an A3 node whose NPUs Ray counts itself each fail naming the node and the cause, and leave
nothing running.  Tests in a module run in order."""
import json
import re

import pytest
import yaml

from conftest import REPO, why
from test_serve import FAST, completion, changed, containers, engines

PROFILE = "001-a2-dsv2lite-ray-tp8pp2"
FAST_LOAD = '{"npu_cluster_extra_env": {"NPU_LAB_VLLM_LOAD_SECONDS": "1"}}'


@pytest.fixture(scope="module")
def a2(lab_factory):
    return lab_factory("a2x2", latency=FAST)


@pytest.fixture(scope="module")
def ray_image(a2, tmp_path_factory):
    path = tmp_path_factory.mktemp("ray") / "image.json"
    path.write_text(a2.npu_lab_json("image-vars", "--variant", "ray"))
    return "@%s" % path


def profile_file(tmp_path, base, name, change):
    prof = yaml.safe_load((REPO / "profiles" / (base + ".yml")).read_text())
    prof["name"] = name
    change(prof)
    path = tmp_path / (name + ".yml")
    path.write_text(yaml.safe_dump(prof, sort_keys=False))
    return str(path)


def ray(lab, node, *argv):
    return lab.exec(node, "docker", "exec", "vllm-ascend", *argv)


def ray_nodes(lab, node, address):
    """Ray's nodes as the collection reads them (its NODES_SCRIPT in the container)."""
    src = (REPO / "plugins" / "module_utils" / "ray.py").read_text()
    script = re.search(r"NODES_SCRIPT = r'''(.*?)'''", src, re.S).group(1)
    res = ray(lab, node, "python3", "-c", script, address)
    return json.loads(res.stdout)


def raylet_env(lab, node):
    out = ray(lab, node, "sh", "-c", 'for p in /proc/[0-9]*; do [ "$(cat $p/comm)" = raylet ] '
                                     '&& tr "\\0" "\\n" < $p/environ; done').stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def session(lab, node):
    return ray(lab, node, "readlink", "/tmp/ray/session_latest").stdout.strip()


def nothing_runs(lab):
    """No engine, no raylet in any container (the containers stay for the next run)."""
    for i in range(len(lab.nodes)):
        assert not raylet_env(lab, i), "a raylet still runs on node %d" % i
    assert all(not e.startswith("running") for e in engines(lab)), engines(lab)


def test_tp8_pp2_over_ray_serves(a2, ray_image):
    res = a2.deploy(extra_vars=["npu_cluster_profile=" + PROFILE, ray_image, FAST_LOAD])
    assert res.ok, why(res, 6000)
    m = re.search(r"Deepseek/DeepSeek-V2-Lite-Chat is served at (http://([\d.]+):8000) "
                  r"\(001-a2-dsv2lite-ray-tp8pp2, 2 nodes\); test completion", res.output())
    assert m, res.output()[-4000:]
    endpoint, head_ip = m.group(1), m.group(2)
    answer = completion(a2, 1, endpoint, "Deepseek/DeepSeek-V2-Lite-Chat")
    assert answer["usage"]["completion_tokens"] == 12
    # Ray, as the collection reads it: both nodes alive with their serving IPs and 8 NPU each
    nodes = ray_nodes(a2, 1, "%s:6379" % head_ip)["nodes"]
    alive = sorted((n["ip"], n["resources"].get("NPU"), "GPU" in n["resources"])
                   for n in nodes if n["alive"])
    worker_ip = [n["ip"] for n in nodes if n["ip"] != head_ip][0]
    assert alive == sorted([(head_ip, 8.0, False), (worker_ip, 8.0, False)])
    # the runbook's environment was set before `ray start`: the raylets run with it
    for node, ip in ((0, head_ip), (1, worker_ip)):
        env = raylet_env(a2, node)
        assert env["HCCL_IF_IP"] == ip
        assert env["GLOO_SOCKET_IFNAME"] == env["TP_SOCKET_IFNAME"] == "eth0"
        assert env["RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES"] == "1"
        assert env["ASCEND_RT_VISIBLE_DEVICES"] == "0,1,2,3,4,5,6,7"
    script = a2.exec(1, "cat", "/etc/npu-cluster/serving/ray-worker.sh", check=True).stdout
    assert "exec ray start \\\n  --address=%s:6379 \\\n  --node-ip-address=%s" % (
        head_ip, worker_ip) in script
    assert "'--resources={\"NPU\":8}'" in script
    # the engine: the runbook's entry point and flags; its workers are Ray actors on both nodes
    log = a2.exec(0, "cat", "/var/log/npu-cluster/vllm-serve.log", check=True).stdout
    assert "tp 8, pp 2, Ray executor" in log
    assert "Ray placement group of 16 NPU bundles over 2 nodes" in log
    assert "RayWorkerWrapper pid=" in log and "on %s: 8 NPU bundles" % worker_ip in log
    engine = a2.exec(0, "cat", "/etc/npu-cluster/serving/vllm-serve.sh", check=True).stdout
    assert "exec python -m vllm.entrypoints.openai.api_server \\\n  --model " \
           "Deepseek/DeepSeek-V2-Lite-Chat" in engine
    for flag in ("--distributed-executor-backend ray", "--tensor-parallel-size 8",
                 "--pipeline-parallel-size 2", "--disable-frontend-multiprocessing",
                 "--trust-remote-code", "--enforce-eager", "--port 8000"):
        assert flag in engine
    assert "ray-worker" not in a2.exec(0, "ls", "/etc/npu-cluster/serving").stdout


def test_second_run_changes_nothing(a2, ray_image):
    before = [session(a2, 0), session(a2, 1)]
    res = a2.deploy(extra_vars=["npu_cluster_profile=" + PROFILE, ray_image, FAST_LOAD])
    assert res.ok, why(res, 4000)
    assert not any(changed(res).values()), changed(res)
    assert [session(a2, 0), session(a2, 1)] == before


def test_a_changed_environment_restarts_ray(a2, ray_image):
    before = [session(a2, 0), session(a2, 1)]
    res = a2.deploy(extra_vars=["npu_cluster_profile=" + PROFILE, ray_image,
                                '{"npu_cluster_extra_env": {"NPU_LAB_VLLM_LOAD_SECONDS": "1", '
                                '"ASCEND_PROCESS_LOG_PATH": "/root/ascend/plog"}}'])
    assert res.ok, why(res, 4000)
    after = [session(a2, 0), session(a2, 1)]
    assert after[0] != before[0] and after[1] != before[1]
    for node in (0, 1):
        assert raylet_env(a2, node)["ASCEND_PROCESS_LOG_PATH"] == "/root/ascend/plog"


def test_tp16_layout_serves(a2, ray_image):
    res = a2.deploy(extra_vars=["npu_cluster_profile=001-a2-dsv2lite-ray-tp16", ray_image,
                                FAST_LOAD])
    assert res.ok, why(res, 4000)
    assert "(001-a2-dsv2lite-ray-tp16, 2 nodes); test completion" in res.output()
    log = a2.exec(0, "cat", "/var/log/npu-cluster/vllm-serve.log", check=True).stdout
    assert "tp 16, pp 1, Ray executor" in log
    engine = a2.exec(0, "cat", "/etc/npu-cluster/serving/vllm-serve.sh", check=True).stdout
    assert "--tensor-parallel-size 16" in engine
    assert "--pipeline-parallel-size" not in engine
    assert "--disable-frontend-multiprocessing" not in engine


def second_engine(lab, *args, env=""):
    """Another engine on the head, beside the running one, with the head's own environment."""
    script = lab.exec(0, "cat", "/etc/npu-cluster/serving/vllm-serve.sh", check=True).stdout
    exports = "\n".join(line for line in script.splitlines() if line.startswith("export "))
    cmd = "%s\n%s exec timeout 60 python -m vllm.entrypoints.openai.api_server --model m " \
          "--port 8100 --distributed-executor-backend ray %s" % (exports, env, " ".join(args))
    return ray(lab, 0, "sh", "-c", cmd)


def test_the_simulated_engine_refuses_like_vllm_over_ray(a2):
    """The lab engine's Ray executor fails where vLLM's does: no NPU left on the driver node
    (the running engine holds all 16), a placement group Ray cannot give, and a Ray address
    that is not the one the engine was told to use."""
    res = second_engine(a2, "--tensor-parallel-size", "2")
    assert res.returncode == 1
    assert re.search(r"ValueError: Current node has no NPU available\. current_node_resource="
                     r".*vLLM engine cannot start without NPU\. Make sure you have at least 1 NPU "
                     r"available in a node current_ip=[\d.]+ placement_group_specs=", res.stderr)
    assert ray(a2, 0, "sh", "/etc/npu-cluster/serving/vllm-serve.sh", "stop").returncode == 0
    res = second_engine(a2, "--tensor-parallel-size", "32", env="NPU_LAB_VLLM_PG_TIMEOUT=3")
    assert res.returncode == 1
    assert re.search(r"ValueError: Cannot provide a placement group of placement_group_specs=\["
                     r".*\] within 3 seconds\. See `ray status` and `ray list nodes` to make "
                     r"sure the cluster has enough resources\.", res.stderr), res.stderr[-2000:]
    res = second_engine(a2, "--tensor-parallel-size", "2", env="VLLM_HOST_IP=10.9.9.9")
    assert res.returncode == 1
    assert re.search(r"RuntimeError: this node is [\d.]+ in Ray but VLLM_HOST_IP=10\.9\.9\.9: the "
                     r"IP addresses used by ray cluster must be the same as VLLM_HOST_IP/HCCL_IF_IP "
                     r"on each node", res.stderr), res.stderr[-2000:]


def test_teardown_stops_ray_everywhere(a2):
    res = a2.teardown()
    assert res.ok, why(res, 4000)
    assert containers(a2) == ["", ""]


def test_the_runbooks_num_gpus_form_is_refused_naming_the_node(a2, ray_image, tmp_path):
    prof = profile_file(tmp_path, PROFILE, "ray-num-gpus",
                        lambda p: p["ray"].update(npus="num_gpus"))
    res = a2.deploy(extra_vars=["npu_cluster_profile=" + prof, ray_image])
    assert not res.ok
    assert re.search(r"- a2-node-0: a2-node-0 \([\d.]+\) registered 8 GPU with Ray \(and \d+ "
                     r"NPU\): `ray start --num-gpus` declares the NPUs as GPUs -- the runbook's "
                     r"form for old images; current vllm-ascend then reports no NPU available. "
                     r"Start Ray with --resources='\{\"NPU\": 8\}' \(ray.npus: resources\)",
                     res.output()), res.output()[-4000:]
    assert "last lines of its log (/var/log/npu-cluster/ray-head.log on a2-node-0)" in res.output()
    assert "--- /tmp/ray/session_latest/logs/raylet.out (in the container)" in res.output()
    # the worker never started; nothing runs
    assert "ray-worker" not in res.output().split("The deployment did not come up")[1]
    nothing_runs(a2)


def test_a_worker_that_cannot_reach_the_head_is_named(a2, ray_image, tmp_path):
    prof = profile_file(tmp_path, PROFILE, "ray-short-start",
                        lambda p: p["ray"].update(start_timeout=10))
    a2.npu_lab("fault", "a2-node-1", "port-block", "6379")
    try:
        res = a2.deploy(extra_vars=["npu_cluster_profile=" + prof, ray_image])
    finally:
        a2.npu_lab("reset")
    assert not res.ok
    assert re.search(r"- a2-node-1: ray-worker \(ray_worker\): its start command did not finish "
                     r"within 10s and was stopped \(exit 124\); the node never joined the Ray "
                     r"cluster at ([\d.]+):6379 \(is that port reachable from a2-node-1\?\)",
                     res.output()), res.output()[-4000:]
    assert "last lines of its log (/var/log/npu-cluster/ray-worker.log on a2-node-1)" in res.output()
    nothing_runs(a2)
    assert a2.teardown().ok
    assert containers(a2) == ["", ""]


def test_an_a3_node_whose_npus_ray_counts_itself_is_short(lab_factory, tmp_path):
    """Runbook 001's A2 environment copied onto an A3 (ASCEND_RT_VISIBLE_DEVICES=0,...,7 before
    `ray start`) with Ray left to count the NPUs itself: Ray 2.48 counts the /dev/davinciN
    nodes capped by that variable, 8 of the node's 16."""
    a3 = lab_factory("a3x1", latency=FAST)
    image = tmp_path / "image.json"
    image.write_text(a3.npu_lab_json("image-vars", "--variant", "ray"))

    def a3_auto(prof):
        prof.update(hardware="ascend_a3", nodes=1)
        prof["parallel"].update(tp=16, pp=1)
        prof["ray"].update(npus="auto", env={"ASCEND_RT_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7"})
    prof = profile_file(tmp_path, PROFILE, "ray-a3-auto", a3_auto)
    res = a3.deploy(extra_vars=["npu_cluster_profile=" + prof, "@%s" % image])
    assert not res.ok
    assert re.search(r"- a3-node-0: a3-node-0 \([\d.]+\) registered 8 NPU with Ray, the plan "
                     r"needs 16: Ray counted them itself \(the /dev/davinciN it sees, or CANN's "
                     r"acl, capped by ASCEND_RT_VISIBLE_DEVICES in `ray start`'s environment\); "
                     r"register them explicitly \(ray.npus: resources\)",
                     res.output()), res.output()[-4000:]
    nothing_runs(a3)
