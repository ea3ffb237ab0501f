"""Thin helpers over the docker CLI (argv lists only; LC_ALL=C)."""
import json
import os
import subprocess

ENV = dict(os.environ, LC_ALL="C")


class DockerError(RuntimeError):
    pass


def run(args, check=True, input_bytes=None):
    res = subprocess.run(["docker"] + list(args), capture_output=True, env=ENV,
                         input=input_bytes, check=False)
    if check and res.returncode != 0:
        raise DockerError("docker %s failed (rc=%d): %s" % (
            " ".join(args[:3]), res.returncode, res.stderr.decode(errors="replace").strip()))
    return res


def out(args, check=True):
    return run(args, check=check).stdout.decode(errors="replace")


def image_exists(tag):
    return run(["image", "inspect", tag], check=False).returncode == 0


def ids(kind, label):
    """IDs/names of containers, networks or volumes carrying a label (e.g. npu-lab.cluster=x)."""
    if kind == "container":
        return out(["ps", "-aq", "--filter", "label=" + label]).split()
    if kind == "network":
        return out(["network", "ls", "-q", "--filter", "label=" + label]).split()
    return out(["volume", "ls", "-q", "--filter", "label=" + label]).split()


def inspect(kind, names):
    if not names:
        return []
    return json.loads(out([kind, "inspect"] + list(names)))


def engine_ok():
    return run(["info", "--format", "{{.ServerVersion}}"], check=False).returncode == 0
