"""Run the simulated tools on this machine against a temporary state (no Docker needed)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from npu_cluster.lab import topology

REPO = Path(__file__).resolve().parents[2]
SIM = REPO / "lab" / "sim" / "npulab_sim.py"


class Node:
    """A simulated node rooted in a temp dir; `run('hccn_tool', '-i', '0', ...)`."""

    def __init__(self, root, state):
        self.root = Path(root)
        (self.root / "etc" / "npu-lab").mkdir(parents=True, exist_ok=True)
        state["apply_network"] = False
        state["latency"] = {"query_ms": 0, "ping_ms": 0}
        self.write(state)
        (self.root / "etc" / "npu-lab" / "state.json.initial").write_text(json.dumps(state))
        for path, text in topology.version_files(state).items():
            target = self.root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        tool = self.root / "usr/local/Ascend/driver/tools/hccn_tool"
        tool.parent.mkdir(parents=True, exist_ok=True)
        tool.write_bytes(SIM.read_bytes())
        if state["series"] != "gcu":
            self.run("npu-lab-apply", "--conf")

    @property
    def state_file(self):
        return self.root / "etc" / "npu-lab" / "state.json"

    def state(self):
        return json.loads(self.state_file.read_text())

    def write(self, state):
        self.state_file.write_text(json.dumps(state))

    def edit(self, func):
        state = self.state()
        func(state)
        self.write(state)

    def conf(self):
        return (self.root / "etc" / "hccn.conf").read_text()

    def wrapper(self, tool):
        """An executable at a path of our choosing that runs the simulated `tool` against this
        node's state (for modules, which take the tool path as an option)."""
        path = self.root / "bin" / tool
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\nNPU_LAB_TOOL=%s NPU_LAB_ROOT='%s' NPU_LAB_STATE='%s' "
                        "exec '%s' '%s' \"$@\"\n" % (tool, self.root, self.state_file,
                                                     sys.executable, SIM))
        path.chmod(0o755)
        return str(path)

    def run(self, tool, *args, env=None):
        environ = dict(os.environ, NPU_LAB_TOOL=tool, NPU_LAB_ROOT=str(self.root),
                       NPU_LAB_STATE=str(self.state_file), LC_ALL="C")
        environ.update(env or {})
        return subprocess.run([sys.executable, str(SIM)] + list(args), capture_output=True,
                              text=True, env=environ, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture
def a2(tmp_path):
    return Node(tmp_path / "a2", topology.node_state("t", "a2x2", 200, 0))


@pytest.fixture
def a3(tmp_path):
    return Node(tmp_path / "a3", topology.node_state("t", "a3x2", 200, 1))


@pytest.fixture
def gcu(tmp_path):
    return Node(tmp_path / "gcu", topology.node_state("t", "gcux4", 200, 0))


@pytest.fixture
def make_node(tmp_path):
    """make_node(name, state) -> a Node rooted under tmp_path (e.g. a bare lab node)."""
    return lambda name, state: Node(tmp_path / name, state)


@pytest.fixture
def sim_path():
    return SIM
