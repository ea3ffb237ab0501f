"""The simulated vLLM engine, run on this machine over loopback (no Docker): option checks,
environment checks, the data-parallel group, the OpenAI API, faults and SIGTERM."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SIM = REPO / "lab" / "sim" / "vllm_sim.py"
LIB = REPO / "plugins" / "plugin_utils"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def root(tmp_path):
    """A fake container root: 8 davinci device files, hccn.conf and hccn_tool."""
    (tmp_path / "dev").mkdir()
    for i in range(8):
        (tmp_path / "dev" / ("davinci%d" % i)).write_text("")
    (tmp_path / "dev" / "davinci_manager").write_text("")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hccn.conf").write_text("address_0=10.0.0.1\n")
    tool = tmp_path / "usr/local/Ascend/driver/tools/hccn_tool"
    tool.parent.mkdir(parents=True)
    tool.write_text("")
    return tmp_path


def env(root, **extra):
    e = dict(os.environ, NPU_LAB_VLLM_ROOT=str(root), NPU_LAB_VLLM_LIB=str(LIB),
             NPU_LAB_VLLM_VERSION="0.11.0", NPU_LAB_VLLM_LOAD_SECONDS="0.5",
             NPU_LAB_VLLM_TOKEN_MS="1", NPU_LAB_VLLM_CONNECT_TIMEOUT="20",
             HCCL_IF_IP="127.0.0.1", GLOO_SOCKET_IFNAME="lo", TP_SOCKET_IFNAME="lo",
             HCCL_SOCKET_IFNAME="lo")
    e.update(extra)
    return e


def run(root, *args, **extra):
    return subprocess.run([sys.executable, str(SIM), "serve"] + list(args), env=env(root, **extra),
                          capture_output=True, text=True, timeout=60, check=False)


def start(root, *args, **extra):
    return subprocess.Popen([sys.executable, str(SIM), "serve"] + list(args),
                            env=env(root, **extra), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def refused(url):
    """The API port is bound but not listening (vLLM before its engines are ready)."""
    try:
        get(url)
    except urllib.error.URLError as exc:
        return isinstance(exc.reason, ConnectionRefusedError)
    return False


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def busy(port):
    """Something holds the port (bind fails)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def post(url, body, timeout=10):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for(pred, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if pred():
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out = proc.communicate(timeout=15)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        out = proc.communicate()[0]
    return proc.returncode, out


def dp_args(http, rpc, dp=2, local=1, headless_start=None):
    args = ["m/Model", "--host", "127.0.0.1", "--port", str(http), "--data-parallel-size", str(dp),
            "--data-parallel-size-local", str(local), "--data-parallel-address", "127.0.0.1",
            "--data-parallel-rpc-port", str(rpc), "--tensor-parallel-size", "4",
            "--served-model-name", "served", "--enable-expert-parallel"]
    if headless_start is not None:
        args += ["--headless", "--data-parallel-start-rank", str(headless_start)]
    return args


def test_unknown_option_fails_like_vllm(root):
    res = run(root, "m", "--disable-frontend-multiprocessing", NPU_LAB_VLLM_VERSION="0.33.0")
    assert res.returncode == 2
    assert res.stderr.endswith("vllm serve: error: unrecognized arguments: "
                               "--disable-frontend-multiprocessing\n")
    res = run(root, "m", "--port", "eighty")
    assert res.returncode == 2 and "argument --port: invalid int value: 'eighty'" in res.stderr


@pytest.mark.parametrize("extra,args,message", [
    ({"HCCL_IF_IP": "192.0.2.99"}, [], "HCCL_IF_IP=192.0.2.99 is not an address of this node"),
    ({"GLOO_SOCKET_IFNAME": "eth99"}, [], "Unable to find interface for: [eth99] "
                                          "(GLOO_SOCKET_IFNAME)"),
    ({"TP_SOCKET_IFNAME": ""}, [], "TP_SOCKET_IFNAME is not set"),
    ({"ASCEND_RT_VISIBLE_DEVICES": "0,1,2"}, [], "needs 8 NPUs, but only 3 are visible"),
])
def test_environment_checks(root, extra, args, message):
    res = run(root, *(dp_args(free_port(), free_port(), dp=4, local=2) + args), **extra)
    assert res.returncode == 1
    assert message in res.stderr


def test_hccn_conf_must_be_mounted(root):
    (root / "etc" / "hccn.conf").unlink()
    res = run(root, "m", "--tensor-parallel-size", "2")
    assert res.returncode == 1 and "/etc/hccn.conf not found in the container" in res.stderr


def test_group_forms_serves_and_stops_cleanly(root):
    http, rpc = free_port(), free_port()
    head = start(root, *dp_args(http, rpc), NPU_LAB_VLLM_LOAD_SECONDS="0.3")
    base = "http://127.0.0.1:%d" % http
    try:
        # the port is taken at once (a second server cannot bind it) but not answered
        assert wait_for(lambda: busy(http))
        assert refused(base + "/health")
        time.sleep(0.6)
        assert refused(base + "/health")        # an incomplete group never answers
        worker = start(root, *dp_args(free_port(), rpc, headless_start=1))
        assert wait_for(lambda: get(base + "/health")[0] == 200)
        code, body = get(base + "/v1/models")
        assert code == 200 and [m["id"] for m in json.loads(body)["data"]] == ["served"]
        code, body = post(base + "/v1/completions", {"model": "served", "prompt":
                                                     "The future of AI is", "max_tokens": 7,
                                                     "temperature": 0})
        first = json.loads(body)
        assert code == 200 and len(first["choices"][0]["text"].split()) == 7
        assert first["usage"] == {"prompt_tokens": 6, "completion_tokens": 7, "total_tokens": 13}
        again = json.loads(post(base + "/v1/completions", {"model": "served", "prompt":
                                                           "The future of AI is",
                                                           "max_tokens": 7})[1])
        assert again["choices"][0]["text"] == first["choices"][0]["text"]   # deterministic
        code, body = post(base + "/v1/chat/completions", {
            "model": "served", "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 3, "stream": True})
        events = [line[6:] for line in body.splitlines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]" and len(events) == 4
        assert json.loads(events[0])["choices"][0]["delta"]["role"] == "assistant"
        code, body = post(base + "/v1/completions", {"model": "other", "prompt": "x"})
        assert code == 404 and "The model `other` does not exist." in body
        code, body = get(base + "/metrics")
        assert 'vllm:generation_tokens_total{model_name="served",engine="0"} 17' in body
        assert "vllm:num_requests_running" in body
        # a rank that goes away after start: as vLLM 0.32.0, the head's /health stays 200 and
        # a request it routes to that rank gets no answer
        wcode, wout = stop(worker)
        assert wcode == 0, wout
        time.sleep(0.5)
        assert get(base + "/health")[0] == 200
        answers = []
        for _attempt in range(2):
            try:
                answers.append(post(base + "/v1/completions", {"model": "served", "prompt": "x",
                                                               "max_tokens": 2}, timeout=2)[0])
            except OSError:
                answers.append("no answer")
        assert sorted(answers, key=str) == [200, "no answer"], answers
    finally:
        code, out = stop(head)
    assert code == 0, out
    assert "shut down (exit 0)" in out


def test_crash_during_start_takes_the_group_down(root):
    http, rpc = free_port(), free_port()
    head = start(root, *dp_args(http, rpc, dp=3, local=1), NPU_LAB_VLLM_LOAD_SECONDS="3")
    worker = start(root, *dp_args(free_port(), rpc, dp=3, local=2, headless_start=1),
                   NPU_LAB_VLLM_LOAD_SECONDS="3", NPU_LAB_VLLM_FAULT="crash-on-start:2")
    try:
        worker.wait(timeout=20)
        head.wait(timeout=20)
    finally:
        wcode, wout = stop(worker)
        hcode, hout = stop(head)
    # a headless node whose engine dies shuts down with 0, as vLLM 0.32.0 does; the head fails
    assert wcode == 0 and "Engine core proc EngineCore_DP2 died unexpectedly" in wout
    assert hcode == 1 and "went away during startup" in hout


def test_headless_exits_when_the_head_goes_away(root):
    http, rpc = free_port(), free_port()
    head = start(root, *dp_args(http, rpc))
    worker = start(root, *dp_args(free_port(), rpc, headless_start=1))
    try:
        assert wait_for(lambda: get("http://127.0.0.1:%d/health" % http)[0] == 200)
        os.kill(head.pid, signal.SIGKILL)
        worker.wait(timeout=15)
    finally:
        wcode, wout = stop(worker)
        stop(head)
    assert wcode == 1 and "head at 127.0.0.1:%d went away" % rpc in wout


def test_head_refuses_a_mismatched_rank(root):
    http, rpc = free_port(), free_port()
    head = start(root, *dp_args(http, rpc))
    try:
        res = run(root, *dp_args(free_port(), rpc, headless_start=0))
        assert res.returncode == 1
        assert "refused ranks [0]: rank 0 is already registered by local" in res.stderr
    finally:
        stop(head)


def _swap(args, flag, value):
    out = list(args)
    if value is None:
        out.remove(flag)
    else:
        out[out.index(flag) + 1] = value
    return out


@pytest.mark.parametrize("change,env_extra,message", [
    (lambda a: _swap(a, "--tensor-parallel-size", "8"), {},
     "tensor-parallel-size 8 differs from the head's 4"),
    (lambda a: a + ["--pipeline-parallel-size", "2"], {},
     "pipeline-parallel-size 2 differs from the head's 1"),
    (lambda a: _swap(a, "--enable-expert-parallel", None), {},
     "enable-expert-parallel False differs from the head's True"),
    (lambda a: a, {"NPU_LAB_VLLM_VERSION": "0.9.2"},
     "vLLM version '0.9.2' differs from the head's '0.11.0'"),
    (lambda a: _swap(a, "--data-parallel-size", "3"), {},
     "data-parallel-size 3 differs from the head's 2"),
    (lambda a: ["other/Model"] + a[1:], {},
     "model 'other/Model' differs from the head's 'm/Model'"),
])
def test_head_refuses_a_rank_of_another_layout(root, change, env_extra, message):
    """As the real stack fails: a headless rank whose model, DP size, TP, PP, EP or engine
    version differs from the head's is refused and exits; the head keeps waiting."""
    http, rpc = free_port(), free_port()
    head = start(root, *dp_args(http, rpc))
    try:
        res = run(root, *change(dp_args(free_port(), rpc, headless_start=1)), **env_extra)
        assert res.returncode == 1, res.stderr
        assert "the data-parallel head at 127.0.0.1:%d refused ranks [1]: %s" % (
            rpc, message) in res.stderr
        assert refused("http://127.0.0.1:%d/health" % http) and head.poll() is None
    finally:
        stop(head)


def test_port_in_use_fails_with_the_address(root):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        res = run(root, "m", "--host", "127.0.0.1", "--port", str(port))
    assert res.returncode == 1
    assert "error while attempting to bind on address ('127.0.0.1', %d)" % port in res.stderr


def test_api_key_guards_the_v1_routes_as_vllm_does(root):
    http = free_port()
    proc = start(root, "m", "--host", "127.0.0.1", "--port", str(http), "--served-model-name",
                 "served", VLLM_API_KEY="sk-test")
    try:
        base = "http://127.0.0.1:%d" % http
        assert wait_for(lambda: get(base + "/health")[0] == 200)
        assert get(base + "/v1/models")[0] == 401
        assert post(base + "/v1/completions", {"model": "served", "prompt": "x"})[0] == 401
        req = urllib.request.Request(base + "/v1/models",
                                     headers={"Authorization": "Bearer sk-test"})
        with urllib.request.urlopen(req, timeout=5) as res:
            assert res.status == 200
    finally:
        stop(proc)


# ---------------------------------------------------------------- Enflame (runbook 004)

ROUTER = REPO / "lab" / "images" / "serving-gcu" / "router.py"


@pytest.fixture
def gcu_root(tmp_path):
    """A fake Enflame container root: /dev/gcu0..7, and a private lock directory."""
    (tmp_path / "dev").mkdir()
    for i in range(8):
        (tmp_path / "dev" / ("gcu%d" % i)).write_text("")
    (tmp_path / "locks").mkdir()
    return tmp_path


def gcu_env(root, rank, size, master_port, devices):
    return dict(NPU_LAB_VLLM_VERSION="0.9.2", NPU_LAB_VLLM_LOCK_DIR=str(root / "locks"),
                TOPS_VISIBLE_DEVICES=devices, VLLM_DP_MASTER_IP="127.0.0.1",
                VLLM_DP_MASTER_PORT=str(master_port), VLLM_DP_SIZE=str(size),
                VLLM_DP_RANK=str(rank), GLOO_SOCKET_IFNAME="lo")


def gcu_args(port):
    return ["--model=/home/workspace/models/m", "--host", "127.0.0.1", "--port", str(port),
            "--tensor-parallel-size=4", "--enable-expert-parallel", "--num-scheduler-steps", "8"]


def test_enflame_ranks_join_the_master_through_the_environment_behind_the_router(gcu_root):
    master, ports = free_port(), [free_port(), free_port()]
    procs = [start(gcu_root, *gcu_args(ports[r]), **gcu_env(gcu_root, r, 2, master, devs))
             for r, devs in ((0, "0,1,2,3"), (1, "4,5,6,7"))]
    router_port = free_port()
    router = subprocess.Popen([sys.executable, str(ROUTER), "--server-urls"] +
                              ["http://127.0.0.1:%d" % p for p in ports] +
                              ["--host", "127.0.0.1", "--port", str(router_port), "--model",
                               "/home/workspace/models/m"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        for port in ports:
            assert wait_for(lambda p=port: get("http://127.0.0.1:%d/health" % p)[0] == 200)
        # the router takes the engines in turn; every completion goes through
        for _i in range(4):
            code, body = post("http://127.0.0.1:%d/v1/completions" % router_port, {
                "model": "/home/workspace/models/m", "prompt": "3.8 or 3.11", "max_tokens": 4})
            assert code == 200 and json.loads(body)["usage"]["completion_tokens"] == 4
    finally:
        router.terminate()
        routed = router.communicate(timeout=10)[0]
        outs = [stop(proc)[1] for proc in procs]
    assert "DP ranks [1] registered from 127.0.0.1" in outs[0]
    assert "all 2 data-parallel ranks up" in outs[1]
    assert "routing /home/workspace/models/m on http://127.0.0.1:%d to 2 servers" % router_port \
        in routed
    # both engines answered through the router
    assert all('"POST /v1/completions HTTP/1.1" 200' in out for out in outs)


@pytest.mark.parametrize("extra,message", [
    (dict(TOPS_VISIBLE_DEVICES="6,7,8,9"),
     "RuntimeError: TOPS_VISIBLE_DEVICES=6,7,8,9 names GCU 8,9, which this container does not "
     "have (/dev/gcuN: 0,1,2,3,4,5,6,7)"),
    (dict(TOPS_VISIBLE_DEVICES="0,1"),
     "RuntimeError: tensor-parallel-size 4 needs 4 GCUs, but only 2 are visible (gcu0,gcu1)"),
    (dict(GLOO_SOCKET_IFNAME="ib9"),
     "Unable to find interface for: [ib9] (GLOO_SOCKET_IFNAME)"),
    (dict(VLLM_DP_MASTER_IP="192.0.2.77", VLLM_DP_RANK="0"),
     "cannot bind data-parallel RPC 192.0.2.77:"),
])
def test_enflame_environment_checks(gcu_root, extra, message):
    env_extra = dict(gcu_env(gcu_root, 0, 2, free_port(), "0,1,2,3"), **extra)
    res = run(gcu_root, *gcu_args(free_port()), **env_extra)
    assert res.returncode == 1
    assert message in res.stderr, res.stderr


def test_two_engines_of_a_node_cannot_share_a_gcu(gcu_root):
    master = free_port()
    first = start(gcu_root, *gcu_args(free_port()), **gcu_env(gcu_root, 0, 2, master, "0,1,2,3"))
    try:
        assert wait_for(lambda: any(gcu_root.joinpath("locks").glob("*.lock")))
        time.sleep(0.5)
        res = run(gcu_root, *gcu_args(free_port()), **gcu_env(gcu_root, 1, 2, master, "2,3,4,5"))
        assert res.returncode == 1
        assert "RuntimeError: GCU 2 is already in use by another engine on this node (pid %d): " \
               "two engines share a device" % first.pid in res.stderr, res.stderr
    finally:
        stop(first)


def test_a_rank_without_its_master_gives_up_naming_it(gcu_root):
    res = run(gcu_root, *gcu_args(free_port()), NPU_LAB_VLLM_CONNECT_TIMEOUT="1",
              **gcu_env(gcu_root, 3, 4, free_port(), "4,5,6,7"))
    assert res.returncode == 1
    assert "TimeoutError: no data-parallel master (VLLM_DP_MASTER_IP:VLLM_DP_MASTER_PORT) at " \
           "127.0.0.1:" in res.stderr, res.stderr


# ------------------------------------------------------------------ prefill/decode (runbook 003)

PD_PROXY = REPO / "lab" / "images" / "serving-pd" / "load_balance_proxy_server_example.py"


def kv_config(role, port, engine_id="0", current=False):
    if current:
        return json.dumps({"kv_connector": "MooncakeConnectorV1", "kv_role": role,
                           "kv_port": str(port), "engine_id": engine_id,
                           "kv_connector_extra_config": {"prefill": {"dp_size": 1, "tp_size": 2},
                                                         "decode": {"dp_size": 2,
                                                                    "tp_size": 1}}})
    return json.dumps({"kv_connector": "MooncakeConnectorV1", "kv_buffer_device": "npu",
                       "kv_role": role, "kv_parallel_size": "1", "kv_port": str(port),
                       "engine_id": engine_id})


def pd_rank(root, side, rank, size, http, master, kv, version="0.9.1", engine_id="0"):
    """One rank of runbook 003's env form (VLLM_DP_*), or of the current flags form."""
    tp = "2" if side == "prefill" else "1"
    role = "kv_producer" if side == "prefill" else "kv_consumer"
    args = ["m/Model", "--host", "127.0.0.1", "--port", str(http), "--tensor-parallel-size", tp,
            "--enable-expert-parallel", "--served-model-name", "served",
            "--kv-transfer-config", kv_config(role, kv, engine_id, version != "0.9.1")]
    extra = {"NPU_LAB_VLLM_VERSION": version}
    if version == "0.9.1":
        extra.update(VLLM_DP_SIZE=str(size), VLLM_DP_MASTER_IP="127.0.0.1",
                     VLLM_DP_MASTER_PORT=str(master), VLLM_DP_RANK=str(rank),
                     VLLM_DP_RANK_LOCAL=str(rank), VLLM_DP_SIZE_LOCAL=str(size))
    else:
        args += ["--data-parallel-size", str(size), "--data-parallel-rank", str(rank),
                 "--data-parallel-address", "127.0.0.1", "--data-parallel-rpc-port", str(master)]
    return start(root, *args, **extra)


def pd_proxy(port, prefill, decode, version="0.9.1", form="current"):
    args = [sys.executable, str(PD_PROXY), "--port", str(port), "--host", "127.0.0.1"]
    for side, urls in (("prefiller", prefill), ("decoder", decode)):
        if form == "v0.9.1":   # one host, its rank count, its first port and the increment
            args += ["--%s-hosts" % side, "127.0.0.1", "--%s-hosts-num" % side, str(len(urls)),
                     "--%s-ports" % side, str(urls[0]), "--%s-ports-inc" % side,
                     str(len(urls))]
        else:
            args += ["--%s-hosts" % side] + ["127.0.0.1"] * len(urls)
            args += ["--%s-ports" % side] + [str(u) for u in urls]
    return subprocess.Popen(args, env=dict(os.environ, NPU_LAB_VLLM_VERSION=version),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def consecutive_ports(count):
    while True:
        base = free_port()
        ports = list(range(base, base + count))
        try:
            for p in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return ports
        except OSError:
            continue


@pytest.mark.parametrize("version,form", [("0.9.1", "v0.9.1"), ("0.11.0", "current")])
def test_prefill_and_decode_exchange_kv_through_the_proxy(root, version, form):
    """One prefill group (DP 1, TP 2) and one decode group (DP 2, TP 1) behind the example
    proxy: a completion is prefilled on one side and decoded on the other; the decode rank
    fetched the prefill's blocks through its side channel."""
    p_http, d_http = consecutive_ports(1), consecutive_ports(2)
    p_master, d_master, kv_p, kv_d = free_port(), free_port(), free_port(), free_port()
    procs = [pd_rank(root, "prefill", 0, 1, p_http[0], p_master, kv_p, version,
                     engine_id="prefill-0")]
    procs += [pd_rank(root, "decode", r, 2, d_http[r], d_master, kv_d, version,
                      engine_id="decode-0") for r in range(2)]
    port = free_port()
    proxy = pd_proxy(port, p_http, d_http, version, form)
    try:
        for p in p_http + d_http:
            assert wait_for(lambda p=p: get("http://127.0.0.1:%d/health" % p)[0] == 200)
        assert wait_for(lambda: get("http://127.0.0.1:%d/healthcheck" % port)[0] == 200)
        for _i in range(2):    # the least busy decode rank (the first on a tie, as the example)
            code, body = post("http://127.0.0.1:%d/v1/completions" % port, {
                "model": "served", "prompt": "The future of AI is", "max_tokens": 5})
            assert code == 200, body
            assert json.loads(body)["usage"]["completion_tokens"] == 5
        health = json.loads(get("http://127.0.0.1:%d/healthcheck" % port)[1])
        assert health == {"status": "ok", "prefill_instances": 1, "decode_instances": 2,
                          "request_num": 2}
        # a request straight to a decode rank (a proxy that skips prefill) is refused
        code, body = post("http://127.0.0.1:%d/v1/completions" % d_http[0], {
            "model": "served", "prompt": "x", "max_tokens": 2})
        assert code == 400 and "the proxy skipped prefill" in body
        # a prefill result sent back to the prefill side is refused
        code, body = post("http://127.0.0.1:%d/v1/completions" % p_http[0], {
            "model": "served", "prompt": "x", "max_tokens": 2,
            "kv_transfer_params": {"do_remote_prefill": True}})
        assert code == 400 and "sent a prefill result to the prefill side" in body
        # parameters that do not come from a live prefill rank: wrong engine id, dead port
        code, body = post("http://127.0.0.1:%d/v1/completions" % p_http[0], {
            "model": "served", "prompt": "x", "max_tokens": 1,
            "kv_transfer_params": {"do_remote_decode": True}})
        params = json.loads(body)["kv_transfer_params"]
        assert params["remote_port"] == kv_p and params["remote_engine_id"] == "prefill-0"
        wrong = dict(params, remote_engine_id="prefill-9")
        code, body = post("http://127.0.0.1:%d/v1/completions" % d_http[1], {
            "model": "served", "prompt": "x", "max_tokens": 2, "kv_transfer_params": wrong})
        assert code == 500 and "engine id 'prefill-9' is not this prefill rank's" in body
        dead = dict(params, remote_port=free_port())
        code, body = post("http://127.0.0.1:%d/v1/completions" % d_http[1], {
            "model": "served", "prompt": "x", "max_tokens": 2, "kv_transfer_params": dead})
        assert code == 500 and "cannot reach it" in body
    finally:
        proxy.terminate()
        routed = proxy.communicate(timeout=10)[0]
        outs = [stop(proc)[1] for proc in procs]
    assert "1 prefill instances (http://127.0.0.1:%d), 2 decode instances" % p_http[0] in routed
    assert "MooncakeConnectorV1 kv_producer: engine_id prefill-0, side channel 127.0.0.1:%d" % (
        kv_p) in outs[0]
    # decode rank 1's side channel: kv_port + rank x tp
    assert "side channel 127.0.0.1:%d" % (kv_d + 1) in outs[2]
    assert all('"POST /v1/completions HTTP/1.1" 200' in out for out in outs[:2])


def test_the_current_proxy_has_no_v091_options_and_pairs_hosts_with_ports():
    res = subprocess.run([sys.executable, str(PD_PROXY), "--prefiller-hosts", "a", "b",
                          "--prefiller-hosts-num", "2", "2"], capture_output=True, text=True,
                         env=dict(os.environ, NPU_LAB_VLLM_VERSION="0.11.0"), check=False)
    assert res.returncode == 2
    assert "unrecognized arguments: --prefiller-hosts-num 2 2" in res.stderr
    res = subprocess.run([sys.executable, str(PD_PROXY), "--prefiller-hosts", "a", "b",
                          "--prefiller-ports", "9000"], capture_output=True, text=True,
                         env=dict(os.environ, NPU_LAB_VLLM_VERSION="0.11.0"), check=False)
    assert res.returncode == 2
    assert "Number of prefiller hosts must match number of prefiller ports" in res.stderr


@pytest.mark.parametrize("change,message", [
    (lambda c: c.pop("kv_connector_extra_config"),
     "AssertionError: kv_connector_extra_config must give prefill and decode dp_size and "
     "tp_size (MooncakeConnectorV1)"),
    (lambda c: c["kv_connector_extra_config"]["prefill"].update(tp_size=1) or
     c["kv_connector_extra_config"]["decode"].update(tp_size=2),
     "ValueError: prefill tp_size 1 < decode tp_size 2 is not supported"),
])
def test_the_current_kv_config_is_checked_at_start(root, change, message):
    config = json.loads(kv_config("kv_producer", free_port(), current=True))
    change(config)
    res = run(root, "m/Model", "--port", str(free_port()), "--kv-transfer-config",
              json.dumps(config))
    assert res.returncode == 1 and message in res.stderr


def test_kv_parallel_size_is_refused_by_033_and_a_taken_kv_port_fails_like_zmq(root):
    res = run(root, "m/Model", "--port", str(free_port()), "--kv-transfer-config",
              kv_config("kv_producer", free_port()), NPU_LAB_VLLM_VERSION="0.33.0")
    assert res.returncode == 1 and "kv_parallel_size\n  Extra inputs are not permitted" in \
        res.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        res = run(root, "m/Model", "--port", str(free_port()), "--kv-transfer-config",
                  kv_config("kv_consumer", port), NPU_LAB_VLLM_VERSION="0.9.1")
    assert res.returncode == 1
    assert "zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:%d')" % port \
        in res.stderr
