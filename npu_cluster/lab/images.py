"""Lab images without a registry: debootstrap root filesystem -> `docker import` -> layered build.

Tags carry a hash of what went into them, so `build()` is a no-op when nothing changed and a
clean rebuild when anything did (the package list, the Dockerfile, the simulator).
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from npu_cluster.lab import docker

REPO = Path(__file__).resolve().parents[2]
NODE_CONTEXT = REPO / "lab" / "images" / "node"
SIM = REPO / "lab" / "sim" / "npulab_sim.py"
CLIENT = REPO / "lab" / "sim" / "npulab-client.c"

SUITE = "bookworm"
# What every lab node has: python3 for Ansible, iproute2/iptables for the planes and faults,
# iputils-ping for real pings, docker.io for the node's own dockerd (the container role runs
# real `docker run` on a node), tini as PID 1, openmpi-bin for `mpirun eccl_alltoall_perf`.
PACKAGES = ["python3", "iproute2", "iputils-ping", "procps", "iptables", "docker.io", "tini",
            "ca-certificates", "kmod", "openmpi-bin"]


def _digest(*parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def rootfs_tag():
    return "npu-lab/rootfs:%s-%s" % (SUITE, _digest(SUITE, *PACKAGES))


def node_tag():
    files = sorted(p for p in NODE_CONTEXT.iterdir() if p.is_file()) + [SIM, CLIENT]
    return "npu-lab/node:%s" % _digest(rootfs_tag(), *[f.name.encode() + f.read_bytes()
                                                       for f in files])


def mirror():
    """Debian mirror: $NPU_LAB_MIRROR, else the one apt on this machine uses."""
    if os.environ.get("NPU_LAB_MIRROR"):
        return os.environ["NPU_LAB_MIRROR"]
    for path in Path("/etc/apt/sources.list.d").glob("*.sources"):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    return "http://deb.debian.org/debian"


def log(msg):
    print("[npu-lab] " + msg, file=sys.stderr, flush=True)


def build_rootfs(force=False):
    tag = rootfs_tag()
    if not force and docker.image_exists(tag):
        return tag
    if not shutil.which("debootstrap"):
        raise SystemExit("debootstrap is not installed: run `make setup` (it installs it) or "
                         "`apt-get install debootstrap`")
    work = Path(tempfile.mkdtemp(prefix="npu-lab-rootfs-", dir="/var/tmp"))
    try:
        log("debootstrap %s (%s) into %s" % (SUITE, mirror(), work))
        subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
                        SUITE, str(work / "rootfs"), mirror()], check=True,
                       stdout=subprocess.DEVNULL)
        # Keep the image lean: apt lists and caches are not needed at run time.
        for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (work / "rootfs" / sub).glob("*"):
                if item.is_file():
                    item.unlink()
        log("docker import -> " + tag)
        tar = subprocess.Popen(["tar", "-C", str(work / "rootfs"), "--numeric-owner", "-c", "."],
                               stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", tag], stdin=tar.stdout, check=True,
                       stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            raise SystemExit("tar of the root filesystem failed")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tag


def compile_client(out):
    """The tool client is a static C binary (see lab/sim/npulab-client.c), built on the host:
    the node image has no compiler, and a static binary needs nothing from it."""
    if not shutil.which("gcc"):
        raise SystemExit("gcc is not installed: run `make setup` (it installs gcc and "
                         "libc6-dev) to build the lab's tool client")
    subprocess.run(["gcc", "-O2", "-static", "-s", "-Wall", "-o", str(out), str(CLIENT)],
                   check=True)


def build_node(force=False):
    base = build_rootfs(force=force)
    tag = node_tag()
    if not force and docker.image_exists(tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="npu-lab-node-") as ctx:
        for item in NODE_CONTEXT.iterdir():
            shutil.copy2(item, ctx)
        shutil.copy2(SIM, ctx)
        compile_client(Path(ctx) / "npulab-client")
        log("docker build -> " + tag)
        subprocess.run(["docker", "build", "-q", "--build-arg", "BASE=" + base, "-t", tag,
                        "-t", "npu-lab/node:latest", ctx], check=True, stdout=subprocess.DEVNULL)
    return tag


def build(force=False):
    """Build every lab image that is missing; returns {'rootfs': tag, 'node': tag}."""
    node = build_node(force=force)
    return {"rootfs": rootfs_tag(), "node": node}
