"""The process_wait action plugin: a failure on one node of a stage ends the other nodes' waits
at their next round (a node cannot see another node's process die)."""
import os

import pytest

from ansible_collections.npu.cluster.plugins.action import process_wait as action


class Stub(action.ActionModule):
    """The action plugin with its Ansible plumbing replaced: the module's answers come from a
    list, and the arguments each call sent are kept."""

    def __init__(self, args, answers):   # pylint: disable=super-init-not-called
        self.args = args
        self.answers = list(answers)
        self.sent = []

    @property
    def _task(self):
        return type("Task", (), {"args": self.args, "async_val": 0})()

    def _execute_module(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        assert module_name == "npu.cluster.process_wait"
        self.sent.append(dict(module_args))
        return dict(self.answers.pop(0))


@pytest.fixture(name="tmpdir_local")
def fixture_tmpdir_local(tmp_path, monkeypatch):
    monkeypatch.setattr(action.C, "DEFAULT_LOCAL_TMP", str(tmp_path))
    monkeypatch.setattr(action.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    return tmp_path


def args(host, stage=1, started_at="1764450000.25", round_seconds=5):
    return {"stage": stage, "started_at": started_at, "round_seconds": round_seconds,
            "host_label": host, "processes": []}


WAITING = {"state": "waiting", "progress": "x: /health 503", "problem": None}
FAILED = {"state": "failed", "progress": "gcu-node-2: vllm-dp5 exited",
          "problem": "gcu-node-2: vllm-dp5 (rank) exited with code 1 after 0s",
          "process": "vllm-dp5", "exited_at": 1764450001.0}


def test_marker_path_is_per_stage_start_and_none_without_one(tmp_path):
    one = action.marker_path(str(tmp_path), args("a", stage=1))
    assert one == os.path.join(str(tmp_path), "npu-cluster-stage-1-1764450000.250.failed")
    assert action.marker_path(str(tmp_path), args("a", stage=2)) != one
    assert action.marker_path(str(tmp_path), args("a", started_at="1764450009")) != one
    assert action.marker_path(str(tmp_path), args("a", started_at=None)) is None
    assert action.marker_path(str(tmp_path), args("a", started_at="soon")) is None


def test_a_failure_stops_the_other_nodes_at_their_next_round(tmpdir_local):
    failing = Stub(args("gcu-node-2"), [FAILED])
    assert failing.run(task_vars={})["state"] == "failed"
    marker = action.marker_path(str(tmpdir_local), args("gcu-node-2"))
    with open(marker) as handle:
        assert handle.read() == "gcu-node-2"
    # another node, still waiting for the group: it checks its own processes once, without
    # waiting, and stops
    waiting = Stub(args("gcu-node-0"), [WAITING])
    res = waiting.run(task_vars={})
    assert waiting.sent[0]["round_seconds"] == 0
    assert res["state"] == "stopped" and res["stopped_by"] == "gcu-node-2"
    assert res["progress"] == "gcu-node-0: stopped waiting: gcu-node-2 failed"
    assert res["problem"] is None and res["log_tail"] == []


def test_a_stopped_node_whose_own_process_failed_reports_its_failure(tmpdir_local):
    Stub(args("gcu-node-2"), [FAILED]).run(task_vars={})
    own = dict(FAILED, problem="gcu-node-3: vllm-dp7 (rank) exited with code 1 after 1s")
    res = Stub(args("gcu-node-3"), [own]).run(task_vars={})
    assert res["state"] == "failed" and res["problem"].startswith("gcu-node-3: vllm-dp7")
    with open(action.marker_path(str(tmpdir_local), args("x"))) as handle:
        assert handle.read() == "gcu-node-2"     # the first failure keeps its name


def test_other_stages_and_checks_that_do_not_wait_are_not_stopped(tmpdir_local):
    Stub(args("gcu-node-2", stage=1), [FAILED]).run(task_vars={})
    # the next stage start, or the same stage's once-only check (round_seconds 0): unaffected
    later = Stub(args("gcu-node-0", stage=2), [WAITING])
    assert later.run(task_vars={})["state"] == "waiting" and later.sent[0]["round_seconds"] == 5
    check = Stub(args("gcu-node-0", round_seconds=0), [WAITING])
    assert check.run(task_vars={})["state"] == "waiting"
    assert len(os.listdir(str(tmpdir_local))) == 1


def test_without_a_stage_start_nothing_is_shared(tmpdir_local):
    Stub(args("gcu-node-2", started_at=None), [FAILED]).run(task_vars={})
    assert os.listdir(str(tmpdir_local)) == []
