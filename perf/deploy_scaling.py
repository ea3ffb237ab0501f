#!/usr/bin/env python3
"""Benchmark: `site.yml` from start to a serving group, on 2 and 8 lab nodes.

    .venv/bin/python perf/deploy_scaling.py [--sizes 2,8] [--load-seconds 5] [--no-baseline]

For each size N it brings up an a3xN lab, writes a profile in the shape of runbook 002
(DP N, one rank per node, TP 16, expert parallel) and times `site.yml` until it returns,
which is when every rank is up, the head's /health is 200 and a real completion went through
the endpoint.  The simulated engine's weight load (--load-seconds) is reported separately:
orchestration overhead = wall time - load time.

- cold: the first run on fresh nodes (includes `docker load` of the serving image tarball on
  every node; on this 2-core machine all nodes share the same CPUs and disk for that).
- warm: after playbooks/teardown.yml (the image stays loaded), the same run again: the
  orchestration the target is about.
- baseline (largest size, same run): the warm run again with `--forks 1`, i.e. node after
  node, as the runbooks are followed by hand.

On this machine the lab's nodes and the controller share the same cores, so the wall time of a
large lab is bounded below by the CPU the run uses (its floor: CPU seconds / cores).  The
targets are therefore about the schedule and the work, not the cores:

- wall_over_floor_at_<max>: the warm run's wall time at the largest size over its own CPU
  floor (at most 1.3: nothing waits that could run),
- cpu_per_node_<max>_over_<min>: warm CPU per node at the largest size over the smallest
  (at most 1.0: no work grows faster than the cluster).

Ends with one line:  overhead_<max>_over_<min>=<x> serial_over_parallel_at_<max>=<y>
wall_over_floor_at_<max>=<z> cpu_per_node_<max>_over_<min>=<w>
"""
import os
import argparse
import tempfile
import uuid
from pathlib import Path

import yaml

from common import BIN, REPO, cpu_text, play, record, run, timed


def profile_for(n, path):
    prof = yaml.safe_load((REPO / "profiles" / "002-a3-dsv32-exp-dp2-tp16.yml").read_text())
    prof["name"] = "bench-a3-dp%d-tp16" % n
    prof["nodes"] = n
    prof["parallel"].update(dp=n, dp_per_node=1)
    path.write_text(yaml.safe_dump(prof, sort_keys=False))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2,8")
    ap.add_argument("--load-seconds", type=float, default=5.0)
    ap.add_argument("--latency", default="query_ms=20,ping_ms=200")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-record", dest="record", action="store_false",
                    help="do not write the figures into docs/measurements.md")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows, per_run = [], []
    tmp = Path(tempfile.mkdtemp(prefix="npu-deploy-bench-"))
    for n in sizes:
        name = "dbench%s" % uuid.uuid4().hex[:4]
        inv = tmp / ("%s.yml" % name)
        prof = tmp / ("bench-a3-dp%d-tp16.yml" % n)   # a profile's name is its file name
        profile_for(n, prof)
        run([str(BIN / "npu-lab"), "up", "a3x%d" % n, "--name", name, "--inventory", str(inv),
             "--latency", args.latency])
        extra = ["npu_cluster_profile=%s" % prof,
                 '{"npu_cluster_extra_env": {"NPU_LAB_VLLM_LOAD_SECONDS": "%s"}}'
                 % args.load_seconds]
        try:
            run([str(BIN / "ansible"), "-i", str(inv), "npu_nodes", "-m", "ansible.builtin.ping"])
            cold, res, _cpu = timed("deploy", inv, name, extra_vars=extra)
            play("teardown", inv, extra_vars=extra)
            warm, res, cpu = timed("deploy", inv, name, extra_vars=extra)
            serial = None
            if not args.no_baseline and n == max(sizes):
                play("teardown", inv, extra_vars=extra)
                serial, res, _cpu = timed("deploy", inv, name, extra_vars=extra, forks=1)
            rows.append((n, cold, warm, serial, cpu))
            per_run.append("a3x%-3d cold %6.1fs  warm %6.1fs (load %.1fs, overhead %.1fs; warm %s)%s" % (
                n, cold, warm, args.load_seconds, warm - args.load_seconds, cpu_text(cpu),
                ("  serial --forks 1 %6.1fs" % serial) if serial else ""))
            print(per_run[-1], flush=True)
        finally:
            play("teardown", inv, extra_vars=extra, check=False)
            run([str(BIN / "npu-lab"), "down", "--name", name], check=False)
    report = ["%-6s %8s %8s %8s %10s %9s" % ("nodes", "cold_s", "warm_s", "load_s",
                                             "overhead_s", "serial_s")]
    for n, cold, warm, serial, _cpu in rows:
        report.append("%-6d %8.1f %8.1f %8.1f %10.1f %9s" % (
            n, cold, warm, args.load_seconds, warm - args.load_seconds,
            "%.1f" % serial if serial else "-"))
    lo, hi = rows[0], rows[-1]
    over = (hi[2] - args.load_seconds) / (lo[2] - args.load_seconds)
    serial = "%.2f" % (hi[3] / hi[2]) if hi[3] else "na"
    cores = os.cpu_count() or 1
    floor = hi[4]["machine"] / cores
    per_node = (hi[4]["machine"] / hi[0]) / (lo[4]["machine"] / lo[0])
    report.append("overhead_%d_over_%d=%.2f serial_over_parallel_at_%d=%s "
                  "wall_over_floor_at_%d=%.2f cpu_per_node_%d_over_%d=%.2f" % (
                      hi[0], lo[0], over, hi[0], serial, hi[0], hi[2] / floor, hi[0], lo[0],
                      per_node))
    print()
    print("\n".join(per_run + [""] + report))
    if args.record:
        record("deploy_scaling", "Deploy: `perf/deploy_scaling.py`", per_run + [""] + report,
               note="Targets: wall_over_floor_at_8 at most 1.3 (the schedule wastes nothing the "
                    "cores could do) and cpu_per_node_8_over_2 at most 1.0 (no work grows "
                    "faster than the cluster). overhead = warm wall time - the simulated "
                    "weight load; cold includes `docker load` of the image on every node.")


if __name__ == "__main__":
    main()
