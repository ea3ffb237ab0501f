"""Readiness verdicts of a launch stage on one node (process_wait's pure core): every process
state, every probe type, and how a node's processes combine; each case asserts the full
message."""
import pytest

from ansible_collections.npu.cluster.plugins.module_utils import serving

HEAD = {"name": "vllm-serve", "role": "head", "wait": "ready",
        "probe": {"type": "openai", "url": "http://10.0.0.1:8000", "model": "m",
                  "completion": True}}
MODELS_M = (200, '{"data": [{"id": "m"}]}')
COMPLETION = (200, '{"choices": [{"text": " is bright"}], "usage": {"completion_tokens": 3}}')


@pytest.mark.parametrize("obs,state,text", [
    ({"status": "absent"}, "failed", "n1: vllm-serve (head) was not started (no pid or exit-code "
     "file): re-run the play"),
    ({"status": "exited 1", "exit_code": 1}, "failed",
     "n1: vllm-serve (head) exited with code 1 after 12s"),
    ({"status": "stopped"}, "failed",
     "n1: vllm-serve (head) is stopped (its status command fails) after 12s"),
    ({"status": "running", "probe": {"health": (None, "")}}, "waiting",
     "n1: vllm-serve (head) running, API not answering yet (12s)"),
    ({"status": "running", "probe": {"health": (503, '{"status": "starting: 2/4 data-parallel '
                                                'ranks"}')}}, "waiting",
     "n1: /health 503: starting: 2/4 data-parallel ranks (12s)"),
    ({"status": "running", "probe": {"health": (200, ""), "models": (200, '{"data": [{"id": '
                                                                     '"other"}]}')}},
     "failed", "n1: vllm-serve (head) is healthy but /v1/models lists other, not m"),
    ({"status": "running", "probe": {"health": (200, ""), "models": (200, '{"data": []}')}},
     "failed", "n1: vllm-serve (head) is healthy but /v1/models lists nothing, not m"),
    ({"status": "running", "probe": {"health": (200, ""), "models": (502, '{"error": "no '
                                                                     'worker answered"}')}},
     "waiting", "n1: /health 200, /v1/models 502: no worker answered (12s)"),
    ({"status": "running", "probe": {"health": (200, ""), "models": (None, "")}}, "waiting",
     "n1: /health 200, /v1/models not answering (12s)"),
    ({"status": "running", "probe": {"health": (200, ""), "models": (401, '{"error": '
                                                                     '"Unauthorized"}')}},
     "failed", 'n1: vllm-serve (head) is healthy but refuses the API key: /v1/models answers '
     'HTTP 401 {"error": "Unauthorized"}'),
    ({"status": "running", "probe": {"health": (200, ""), "models": MODELS_M,
                                     "completion": (500, "engine dead")}}, "failed",
     "n1: the completion through http://10.0.0.1:8000 failed: HTTP 500 engine dead"),
    ({"status": "running", "probe": {"health": (200, ""), "models": MODELS_M,
                                     "completion": COMPLETION}}, "ready",
     "n1: ready, /health 200, serving m (12s)"),
])
def test_openai_process(obs, state, text):
    verdict = serving.judge_process("n1", HEAD, obs, 12)
    assert verdict["state"] == state
    assert (verdict["problem"] or verdict["progress"]) == text


def test_an_openai_probe_with_its_own_health_path_names_it():
    """The example PD proxy answers /healthcheck (without asking its backends), not /health."""
    proxy = dict(HEAD, name="proxy", probe=dict(HEAD["probe"], health="/healthcheck"))
    waiting = serving.judge_process("n1", proxy, {"status": "running", "probe": {
        "health": (404, '{"detail": "Not Found"}')}}, 3)
    assert waiting["progress"] == "n1: /healthcheck 404: Not Found (3s)"
    ready = serving.judge_process("n1", proxy, {"status": "running", "probe": {
        "health": (200, ""), "models": MODELS_M, "completion": COMPLETION}}, 4)
    assert ready["progress"] == "n1: ready, /healthcheck 200, serving m (4s)"
    watched = serving.watched("n2", {"state": "ready", "progress": "n2: nothing to run",
                                     "problem": None}, [proxy["probe"]],
                              [{"health": (None, "")}], 5)
    assert watched["progress"].startswith(
        "n2: watching the stage (http://10.0.0.1:8000/healthcheck not up yet)")


@pytest.mark.parametrize("probe,seen,state,text", [
    ({"type": "http", "url": "http://h:1/ok"}, {"get": (200, "")}, "ready",
     "n1: p ready, GET http://h:1/ok 200 (5s)"),
    ({"type": "http", "url": "http://h:1/ok", "expect_status": 204}, {"get": (200, "")},
     "waiting", "n1: p running, GET http://h:1/ok 200 (5s)"),
    ({"type": "http", "url": "http://h:1/ok"}, {"get": (None, "")}, "waiting",
     "n1: p running, GET http://h:1/ok not answering (5s)"),
    ({"type": "tcp", "host": "h", "port": 9}, {"connect": True}, "ready",
     "n1: p ready, h:9 accepts connections (5s)"),
    ({"type": "tcp", "host": "h", "port": 9}, {"connect": False}, "waiting",
     "n1: p running, h:9 not accepting yet (5s)"),
    ({"type": "cmd", "argv": ["true"]}, {"rc": 0}, "ready",
     "n1: p ready, its probe command exits 0 (5s)"),
    ({"type": "cmd", "argv": ["false"]}, {"rc": 1}, "waiting",
     "n1: p running, its probe command exits 1 (5s)"),
    ({"type": "smoke"}, {}, "failed", "n1: p has a probe of unknown type 'smoke'"),
])
def test_probe_types(probe, seen, state, text):
    proc = {"name": "p", "wait": "ready", "probe": probe}
    verdict = serving.judge_process("n1", proc, {"status": "running", "probe": seen}, 5)
    assert verdict["state"] == state
    assert (verdict["problem"] or verdict["progress"]) == text


def test_started_stages_need_only_a_running_process():
    proc = dict(HEAD, wait="started")
    assert serving.judge_process("n1", proc, {"status": "running"}, 3) == {
        "state": "ready", "progress": "n1: vllm-serve (head) running (3s)", "problem": None}


def test_a_node_fails_on_its_first_failed_process_and_waits_on_the_first_waiting():
    daemon = {"name": "ray", "role": "worker", "wait": "started", "probe": None}
    procs = [daemon, HEAD]
    obs = {"ray": {"status": "running"}, "vllm-serve": {"status": "running",
                                                        "probe": {"health": (None, "")}}}
    verdict = serving.judge("n1", procs, obs, 7)
    assert verdict == {"state": "waiting", "problem": None, "process": None,
                       "progress": "n1: vllm-serve (head) running, API not answering yet (7s)"}
    obs["ray"] = {"status": "stopped"}
    verdict = serving.judge("n1", procs, obs, 8)
    assert verdict["state"] == "failed" and verdict["process"] == "ray"
    assert verdict["problem"] == "n1: ray (worker) is stopped (its status command fails) after 8s"
    obs = {"ray": {"status": "running"},
           "vllm-serve": {"status": "running", "probe": {"health": (200, ""), "models": MODELS_M,
                                                         "completion": COMPLETION}}}
    verdict = serving.judge("n1", procs, obs, 9)
    assert verdict["state"] == "ready"
    assert verdict["progress"] == ("n1: ray (worker) running (9s); n1: ready, /health 200, "
                                   "serving m (9s)")


def test_log_tail():
    assert serving.log_tail("a\nb\nc\n", 2) == ["b", "c"]
    assert serving.log_tail(b"", 5) == []
    log = ('INFO loading\nINFO 10.0.0.1 - "GET /health HTTP/1.1" 503 -\n'
           'INFO:     10.0.0.2:5312 - "GET /v1/models HTTP/1.1" 200 OK\nERROR died\n')
    assert serving.log_tail(log, 5) == ["INFO loading", "ERROR died"]


RANK = {"name": "vllm-serve", "role": "headless", "wait": "started", "probe": None}
TCP = {"type": "tcp", "host": "10.0.0.1", "port": 6379}
HTTP = {"type": "http", "url": "http://10.0.0.1:9000/ready", "expect_status": 204}


@pytest.mark.parametrize("probes,seen,state,text", [
    ([HEAD["probe"]], [{"health": (None, "")}], "waiting",
     "n2: watching the stage (http://10.0.0.1:8000/health not up yet); vllm-serve (headless) "
     "running (7s)"),
    ([HEAD["probe"]], [{"health": (503, "starting")}], "waiting",
     "n2: watching the stage (http://10.0.0.1:8000/health not up yet); vllm-serve (headless) "
     "running (7s)"),
    ([HEAD["probe"]], [{"health": (200, "")}], "ready",
     "n2: the stage is up (http://10.0.0.1:8000); vllm-serve (headless) running (7s)"),
    ([HEAD["probe"], TCP], [{"health": (200, "")}, {"connect": False}], "waiting",
     "n2: watching the stage (10.0.0.1:6379 not up yet); vllm-serve (headless) running (7s)"),
    ([HTTP, TCP], [{"get": (204, "")}, {"connect": True}], "ready",
     "n2: the stage is up (http://10.0.0.1:9000/ready, 10.0.0.1:6379); vllm-serve (headless) "
     "running (7s)"),
    ([HTTP], [{"get": (200, "")}], "waiting",
     "n2: watching the stage (http://10.0.0.1:9000/ready not up yet); vllm-serve (headless) "
     "running (7s)"),
])
def test_a_node_outside_the_stage_watches_it_while_its_processes_run(probes, seen, state, text):
    own = serving.judge("n2", [RANK], {"vllm-serve": {"status": "running"}}, 7)
    verdict = serving.watched("n2", own, probes, seen, 7)
    assert (verdict["state"], verdict["progress"], verdict["problem"]) == (state, text, None)


def test_a_watching_node_fails_on_its_own_process_whatever_the_stage_shows():
    own = serving.judge("n2", [RANK], {"vllm-serve": {"status": "exited 137", "exit_code": 137}}, 7)
    verdict = serving.watched("n2", own, [HEAD["probe"]], [{"health": (200, "")}], 7)
    assert verdict["state"] == "failed"
    assert verdict["problem"] == "n2: vllm-serve (headless) exited with code 137 after 7s"
    assert verdict["process"] == "vllm-serve"


def test_of_several_failed_processes_a_node_names_the_one_that_exited_first():
    """Two engines of one node (runbook 004): rank 5 crashes, the master goes, rank 4 follows
    it; the node reports rank 5, whatever the order of its processes."""
    procs = [dict(RANK, name="vllm-dp4", role="rank"), dict(RANK, name="vllm-dp5", role="rank")]
    obs = {"vllm-dp4": {"status": "exited 1", "exit_code": 1, "exited_at": 1000.80},
           "vllm-dp5": {"status": "exited 1", "exit_code": 1, "exited_at": 1000.25}}
    verdict = serving.judge("gcu-node-2", procs, obs, 1)
    assert verdict["process"] == "vllm-dp5"
    assert verdict["problem"] == "gcu-node-2: vllm-dp5 (rank) exited with code 1 after 1s"
    # without exit times (a daemon), the first in the node's order
    obs = {"vllm-dp4": {"status": "stopped"}, "vllm-dp5": {"status": "exited 1", "exit_code": 1}}
    assert serving.judge("gcu-node-2", procs, obs, 1)["process"] == "vllm-dp4"
