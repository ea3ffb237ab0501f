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
# real `docker run` on a node), tini as PID 1, openmpi-bin for `mpirun eccl_alltoall_perf`,
# python3-requests for community.docker's modules (they talk to the node's dockerd).
PACKAGES = ["python3", "iproute2", "iputils-ping", "procps", "iptables", "docker.io", "tini",
            "ca-certificates", "kmod", "openmpi-bin", "python3-requests"]


def digest(*parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


# The serving image is a separate, small root filesystem (the node's is ~500 MB): it is saved
# to a tarball and loaded into every node's own dockerd, as operators do with vendor images.
SERVING_PACKAGES = ["python3", "iproute2", "procps"]
SERVING_CONTEXT = REPO / "lab" / "images" / "serving"
VLLM_SIM = REPO / "lab" / "sim" / "vllm_sim.py"
VLLM_ARGS = REPO / "plugins" / "plugin_utils" / "vllm_args.py"
VLLM_SCHEMAS = REPO / "plugins" / "plugin_utils" / "vllm_schemas"
SERVING_VERSION = "0.11.0"   # the engine version the lab image claims (runbooks 000/002)


def shared_dir():
    """Host directory every lab node mounts read-only at /mnt/npu-lab (shared storage)."""
    return Path(os.environ.get("NPU_LAB_SHARED", "/var/tmp/npu-lab-shared"))


def rootfs_tag(packages=None):
    packages = PACKAGES if packages is None else packages
    kind = "rootfs" if packages == PACKAGES else "serving-rootfs"
    return "npu-lab/%s:%s-%s" % (kind, SUITE, digest(SUITE, *packages))


def node_tag():
    files = sorted(p for p in NODE_CONTEXT.iterdir() if p.is_file()) + [SIM, CLIENT]
    return "npu-lab/node:%s" % digest(rootfs_tag(), *[f.name.encode() + f.read_bytes()
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


def build_rootfs(force=False, packages=None):
    packages = PACKAGES if packages is None else packages
    tag = rootfs_tag(packages)
    if not force and docker.image_exists(tag):
        return tag
    if not shutil.which("debootstrap"):
        raise SystemExit("debootstrap is not installed: run `make setup` (it installs it) or "
                         "`apt-get install debootstrap`")
    work = Path(tempfile.mkdtemp(prefix="npu-lab-rootfs-", dir="/var/tmp"))
    try:
        log("debootstrap %s (%s) into %s" % (SUITE, mirror(), work))
        subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(packages),
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


def serving_files():
    files = sorted(p for p in SERVING_CONTEXT.iterdir() if p.is_file())
    files += [VLLM_SIM, VLLM_ARGS] + sorted(VLLM_SCHEMAS.glob("*.json"))
    return files


def serving_tag():
    return "npu-lab/serving:%s" % digest(rootfs_tag(SERVING_PACKAGES), SERVING_VERSION, *[
        f.name.encode() + f.read_bytes() for f in serving_files()])


def serving_archive():
    """(path of the saved serving image on the host, its path on a node)."""
    name = "npu-lab-serving-%s.tar" % serving_tag().split(":")[1]
    return shared_dir() / "images" / name, "/mnt/npu-lab/images/" + name


def build_serving(force=False):
    """The lab serving image (simulated `vllm`), saved as a tarball with its sha256 under the
    shared directory the nodes mount."""
    base = build_rootfs(force=force, packages=SERVING_PACKAGES)
    tag = serving_tag()
    if force or not docker.image_exists(tag):
        with tempfile.TemporaryDirectory(prefix="npu-lab-serving-") as ctx:
            for item in serving_files():
                shutil.copy2(item, ctx)
            log("docker build -> " + tag)
            subprocess.run(["docker", "build", "-q", "--build-arg", "BASE=" + base,
                            "--build-arg", "VLLM_VERSION=" + SERVING_VERSION, "-t", tag,
                            "-t", "npu-lab/serving:latest", ctx], check=True,
                           stdout=subprocess.DEVNULL)
    save(tag, serving_archive()[0], force)
    return tag


def save(tag, host_path, force):
    """`docker save` tag to host_path (once), with its sha256 next to it."""
    digest_file = Path(str(host_path) + ".sha256")
    if force or not host_path.exists() or not digest_file.exists():
        host_path.parent.mkdir(parents=True, exist_ok=True)
        prefix = host_path.name.rsplit("-", 1)[0] + "-"
        for old in host_path.parent.glob(prefix + "*.tar*"):
            if "-" not in old.name[len(prefix):]:   # npu-lab-serving-<hash>, not -ray-<hash>
                old.unlink()
        log("docker save -> %s" % host_path)
        tmp = host_path.with_suffix(".partial")
        subprocess.run(["docker", "save", "-o", str(tmp), tag], check=True)
        h = hashlib.sha256()
        with open(tmp, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                h.update(chunk)
        tmp.chmod(0o644)
        tmp.replace(host_path)
        digest_file.write_text(h.hexdigest() + "\n")


# Variants of the serving image, each a layer on it, loaded only into the nodes of the scenarios
# that need them: `ray` adds real Ray (runbook 001; ~250 MB larger), `gcu` is the Enflame image
# of runbook 004 (engine version 0.9.2, the vllm_utils.router stand-in), `pd` the prefill/decode
# image of runbook 003 (engine version 0.9.1, the example proxy stand-in, real vllm-router).
VARIANTS = {"ray": REPO / "lab" / "images" / "serving-ray",
            "gcu": REPO / "lab" / "images" / "serving-gcu",
            "pd": REPO / "lab" / "images" / "serving-pd"}
RAY_REQUIREMENTS = VARIANTS["ray"] / "requirements.txt"
# pip (one wheel), for the images that have it: the Enflame image and the real engine's
PIP_REQUIREMENTS = VARIANTS["gcu"] / "requirements.txt"
GCU_VERSION = "0.9.2"   # the Enflame vLLM fork runbook 004 targets
PD_VERSION = "0.9.1"    # vllm-ascend 0.9.1, which runbook 003 recommends
# variants whose requirements are compiled wheels installed into the image's dist-packages
SITE_VARIANTS = ("ray", "pd")


def variant_tag(variant):
    return "npu-lab/serving-%s:%s" % (variant, digest(serving_tag(), *[
        f.name.encode() + f.read_bytes() for f in sorted(VARIANTS[variant].iterdir())]))


def ray_site(force=False):
    return variant_site("ray", force=force)


def variant_site(variant, force=False):
    """A variant's pinned requirements (Ray; vllm-router), installed for the image's CPython
    3.11 from PyPI's manylinux wheels into a cached directory on the host (the image has no
    pip)."""
    req = VARIANTS[variant] / "requirements.txt"
    cache = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")))
    site = cache / "npu-lab" / ("%s-site-%s" % (variant, digest(req.read_bytes())))
    if force and site.exists():
        shutil.rmtree(site)
    if not (site / ".complete").exists():
        if site.exists():
            shutil.rmtree(site)
        log("pip install (python 3.11 manylinux wheels) -r %s -> %s" % (
            req.relative_to(REPO), site))
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--only-binary=:all:", "--platform", "manylinux_2_28_x86_64",
                        "--platform", "manylinux2014_x86_64",
                        "--python-version", "3.11", "--implementation", "cp",
                        "--target", str(site), "-r", str(req)], check=True)
        shutil.rmtree(site / "bin", ignore_errors=True)   # console scripts for the host python
        (site / ".complete").write_text("")
    return site


def wheel_dir(variant, force=False):
    """The wheels of a variant's requirements.txt (any platform: pure Python), downloaded once
    into a cached directory on the host."""
    req = VARIANTS[variant] / "requirements.txt"
    cache = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")))
    target = cache / "npu-lab" / ("%s-wheels-%s" % (variant, digest(req.read_bytes())))
    if force or not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)
        log("pip download -r %s -> %s" % (req.relative_to(REPO), target))
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary=:all:", "-d", str(target), "-r", str(req)], check=True)
        (target / ".complete").write_text("")
    return target


def pip_wheels(force=False):
    """The pip wheel of PIP_REQUIREMENTS, downloaded once (the image builds have no network)."""
    return wheel_dir("gcu", force=force)


def variant_archive(variant):
    name = "npu-lab-serving-%s-%s.tar" % (variant, variant_tag(variant).split(":")[1])
    return shared_dir() / "images" / name, "/mnt/npu-lab/images/" + name


def build_variant(variant, force=False):
    base = build_serving(force=force)
    tag = variant_tag(variant)
    if force or not docker.image_exists(tag):
        with tempfile.TemporaryDirectory(prefix="npu-lab-serving-%s-" % variant) as ctx:
            for item in sorted(VARIANTS[variant].iterdir()):
                shutil.copy2(item, ctx)
            if variant in SITE_VARIANTS:
                shutil.copytree(variant_site(variant, force=force), Path(ctx) / "site",
                                ignore=shutil.ignore_patterns(".complete"))
            else:
                for whl in wheel_dir(variant, force=force).glob("*.whl"):
                    shutil.copy2(whl, ctx)
            log("docker build -> " + tag)
            args = ["--build-arg", "BASE=" + base]
            if variant in ("gcu", "pd"):
                args += ["--build-arg", "VLLM_VERSION=" + (GCU_VERSION if variant == "gcu"
                                                           else PD_VERSION)]
            subprocess.run(["docker", "build", "-q"] + args + [
                "-t", tag, "-t", "npu-lab/serving-%s:latest" % variant, ctx], check=True,
                stdout=subprocess.DEVNULL)
    save(tag, variant_archive(variant)[0], force)
    return tag


def serving_image_vars(variant="serving"):
    """Inventory variables that point the container role at a lab serving image: `serving`,
    `ray` (real Ray), `gcu` (Enflame's) or `pd` (prefill/decode)."""
    tag, (host_path, node_path) = ((variant_tag(variant), variant_archive(variant))
                                   if variant in VARIANTS else (serving_tag(), serving_archive()))
    return image_vars(tag, host_path, node_path)


def image_vars(tag, host_path, node_path):
    """The container role's image variables for a saved image: its tag, the tarball's path on a
    node and the sha256 written next to it on the host."""
    digest_file = Path(str(host_path) + ".sha256")
    return {"npu_cluster_image": tag,
            "npu_cluster_image_archive": node_path,
            "npu_cluster_image_archive_sha256": digest_file.read_text().strip()
            if digest_file.exists() else None}


def build(force=False):
    """Build every lab image that is missing; returns {'rootfs', 'node', 'serving',
    'serving-gcu', 'serving-pd', 'serving-ray'} tags."""
    node = build_node(force=force)
    serving = build_serving(force=force)
    out = {"rootfs": rootfs_tag(), "node": node, "serving": serving}
    for variant in sorted(VARIANTS):
        out["serving-" + variant] = build_variant(variant, force=force)
    return out
