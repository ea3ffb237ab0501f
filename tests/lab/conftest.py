"""Lab end-to-end fixtures: real lab clusters (Docker), torn down after each module.

Every playbook run goes through the Python API (`npu_cluster.api.run`, ansible-runner): the
tests read its typed Result (ok, failures, per-host counts, plan, fabric, records) and, for
the messages an operator reads, the text Ansible printed (`Result.output()`)."""
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), LC_ALL="C.UTF-8",
           PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))


def sh(*argv, check=True, env=None, timeout=600):
    res = subprocess.run(list(argv), cwd=REPO, capture_output=True, text=True,
                         env=dict(ENV, **(env or {})), timeout=timeout, check=False)
    if check and res.returncode != 0:
        raise AssertionError("%s failed rc=%d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(argv), res.returncode, res.stdout[-4000:], res.stderr[-4000:]))
    return res


def why(res, tail=3000):
    """What a failed run says: each failing task with its host and whole message (the launch
    role's names the process and quotes the end of its log), then the end of the output."""
    lines = ["%s failed on %s: %s\n%s" % (res.verb, f.host, f.task, f.message) for f in res.failures]
    lines += ["unreachable: %s" % ", ".join(res.unreachable)] if res.unreachable else []
    return "\n".join(lines + ["--- end of the output:", res.output()[-tail:]])


class Lab:
    def __init__(self, shape, tmp, latency=None, bare=False, engine="sim"):
        self.shape = shape
        self.name = "t%s" % uuid.uuid4().hex[:6]
        self.inventory = Path(tmp) / "hosts.yml"
        self.artifacts = Path(tmp) / "artifacts"
        args = [str(BIN / "npu-lab"), "up", shape, "--name", self.name,
                "--inventory", str(self.inventory)]
        if latency:
            args += ["--latency", latency]
        if bare:
            args.append("--bare")
        if engine != "sim":
            args += ["--engine", engine]
        sh(*args)
        self.nodes = sh("docker", "ps", "--filter", "label=npu-lab.cluster=" + self.name,
                        "--format", "{{.Names}}").stdout.split()
        self.nodes.sort(key=lambda n: int(n.rsplit("-", 1)[1]))

    def node(self, i):
        return self.nodes[i]

    def exec(self, i, *cmd, check=False):
        return sh("docker", "exec", self.node(i), *cmd, check=check)

    def npu_lab(self, *args, check=True):
        return sh(str(BIN / "npu-lab"), *args, "--name", self.name, check=check)

    def npu_lab_json(self, *args):
        """Output of an npu-lab command that takes no --name (e.g. image-vars)."""
        return sh(str(BIN / "npu-lab"), *args).stdout

    def run(self, verb="deploy", playbook=None, extra_vars=None, must=False, **kwargs):
        """One run through the API: `verb` (deploy, verify, bench, status, teardown) or
        another playbook (a path under the repository) named by `verb`.  extra_vars: a dict,
        a string or a list of strings as `-e` takes them (parsed by Ansible's own parser);
        must: fail the test when the run fails.  Each run gets its own folder under the lab's
        artifacts folder, as the API names them (status and bench find the newest deploy
        there)."""
        from npu_cluster import api, cli
        if isinstance(extra_vars, str):
            extra_vars = [extra_vars]
        if isinstance(extra_vars, list):
            extra_vars = cli.parse_extra_vars(extra_vars)
        res = api.run(verb, str(self.inventory), playbook=playbook, extra_vars=extra_vars,
                      artifacts_root=str(self.artifacts), **kwargs)
        if must and not res.ok:
            raise AssertionError(why(res))
        return res

    def deploy(self, **kwargs):
        return self.run("deploy", **kwargs)

    def teardown(self, **kwargs):
        return self.run("teardown", **kwargs)

    def ansible(self, *args, check=False):
        return sh(str(BIN / "ansible"), "-i", str(self.inventory), *args, check=check)

    def down(self):
        sh(str(BIN / "npu-lab"), "down", "--name", self.name)


@pytest.fixture(scope="module")
def lab_factory(tmp_path_factory):
    made = []

    def make(shape, latency=None, bare=False, engine="sim"):
        lab = Lab(shape, tmp_path_factory.mktemp(shape), latency=latency, bare=bare,
                  engine=engine)
        made.append(lab)
        return lab

    yield make
    for lab in made:
        lab.down()
