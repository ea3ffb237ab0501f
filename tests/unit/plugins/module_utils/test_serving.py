"""Readiness verdicts (serve_wait's pure core)."""
import pytest

from ansible_collections.npu.cluster.plugins.module_utils import serving

BASE = {"host": "n1", "role": "headless", "served_name": "m", "started": True, "elapsed": 12}


@pytest.mark.parametrize("obs,state,text", [
    ({"started": False}, "failed", "n1: the engine was not started"),
    ({"exit_code": 1}, "failed", "n1: the headless engine exited with code 1 after 12s"),
    ({"health": (None, "")}, "waiting", "head API not answering yet (12s)"),
    ({"health": (503, '{"status": "starting: 2/4 data-parallel ranks"}')}, "waiting",
     "head /health 503: starting: 2/4 data-parallel ranks (12s)"),
    ({"health": (200, ""), "models": (200, '{"data": [{"id": "other"}]}')}, "failed",
     "the head is healthy but /v1/models lists other, not m"),
    ({"health": (200, ""), "models": (500, "oops")}, "failed", "lists nothing, not m"),
    ({"health": (200, ""), "models": (200, '{"data": [{"id": "m"}]}')}, "ready",
     "n1: ready, /health 200, serving m (12s)"),
])
def test_classify(obs, state, text):
    verdict = serving.classify(dict(BASE, **obs))
    assert verdict["state"] == state
    assert text in (verdict["problem"] or verdict["progress"])


def test_log_tail():
    assert serving.log_tail("a\nb\nc\n", 2) == ["b", "c"]
    assert serving.log_tail(b"", 5) == []
    log = ('INFO loading\nINFO 10.0.0.1 - "GET /health HTTP/1.1" 503 -\n'
           'INFO:     10.0.0.2:5312 - "GET /v1/models HTTP/1.1" 200 OK\nERROR died\n')
    assert serving.log_tail(log, 5) == ["INFO loading", "ERROR died"]


GOOD = {"passed": True, "node_passed": True, "problems": [], "bypassed": False}
BAD = {"passed": False, "node_passed": False, "bypassed": False,
       "problems": ["n2 device 3: link is not UP (check link, value DOWN)"]}
