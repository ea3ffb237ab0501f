#!/usr/bin/env python3
"""Benchmark: runbook 003's prefill/decode deployment on an a3x8 lab, from `site.yml` start to
ready, and what one simulated rank costs at idle.

    .venv/bin/python perf/pd_deploy.py [--load-seconds 2] [--no-record]

Brings up an a3x8 lab (prefill = nodes 0-3, decode = nodes 4-7) and times `site.yml` with
profile 003-a3-dsr1-w8a8-pd-d64 until it returns: 8 prefill ranks and 64 decode ranks each
answering, the example proxy started after them, and a real completion through it (prefilled
on one side, decoded on the other).

- cold: the first run on fresh nodes (includes `docker load` of the serving image everywhere).
- warm: after playbooks/teardown.yml, the same run again.
- baseline (same run): the warm run with `--forks 1`, node after node.

The lab's 8 nodes and 73 processes share this machine's cores with the controller, so the wall
time is reported beside its CPU floor (CPU seconds / cores): wall_over_floor says how much of
the run waited on nothing the cores could do.  Then, with the deployment up and idle for
--idle-seconds, the memory (RSS, engine process and its engine-core child) and CPU of one
rank, averaged over the 64 decode ranks.

Ends with one line:  pd_warm_s=<w> pd_wall_over_floor=<x> serial_over_parallel=<y>
rank_rss_mib=<r> rank_idle_cpu_pct=<c>
"""
import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

from common import BIN, cpu_text, play, record, run, timed

PROFILE = "003-a3-dsr1-w8a8-pd-d64"
# RSS (KiB) and CPU ticks of every process whose command line is a simulated engine rank
RANK_STATS = r"""
import os
procs = {}
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        cmd = open('/proc/%s/cmdline' % pid, 'rb').read().split(b'\0')
        if b'serve' not in cmd or b'--kv-transfer-config' not in cmd:
            continue
        st = open('/proc/%s/stat' % pid).read().rsplit(')', 1)[1].split()
        rss = int(open('/proc/%s/statm' % pid).read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
        procs[pid] = (st[1], rss // 1024, int(st[11]) + int(st[12]))
    except (OSError, IndexError):
        pass
ranks = [p for p, v in procs.items() if v[0] not in procs]   # an engine-core's parent is a rank
print(len(ranks), sum(v[1] for v in procs.values()), sum(v[2] for v in procs.values()))
"""


def rank_stats(lab_nodes):
    """(ranks, RSS KiB, CPU ticks) of the simulated engine ranks on the given node containers."""
    total = [0, 0, 0]
    for node in lab_nodes:
        res = run(["docker", "exec", node, "docker", "exec", "vllm", "python3", "-c",
                   RANK_STATS])
        for i, value in enumerate(res.stdout.split()):
            total[i] += int(value)
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--load-seconds", type=float, default=2.0)
    ap.add_argument("--idle-seconds", type=float, default=20.0)
    ap.add_argument("--latency", default="query_ms=20,ping_ms=200")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-record", dest="record", action="store_false",
                    help="do not write the figures into docs/measurements.md")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="npu-pd-bench-"))
    name = "pdbench%s" % uuid.uuid4().hex[:4]
    inv = tmp / ("%s.yml" % name)
    image_vars = tmp / "pd.json"
    run([str(BIN / "npu-lab"), "up", "a3x8", "--name", name, "--inventory", str(inv),
         "--latency", args.latency])
    image_vars.write_text(run([str(BIN / "npu-lab"), "image-vars", "--variant", "pd"]).stdout)
    extra = ["npu_cluster_profile=" + PROFILE, "@%s" % image_vars,
             '{"npu_cluster_extra_env": {"NPU_LAB_VLLM_LOAD_SECONDS": "%s"}}' % args.load_seconds]
    lines = []
    try:
        cold, res, _cpu = timed("deploy", inv, name, extra_vars=extra)
        play("teardown", inv, extra_vars=extra)
        warm, res, cpu = timed("deploy", inv, name, extra_vars=extra)
        nodes = ["npu-lab-%s-a3-node-%d" % (name, i) for i in range(4, 8)]
        ranks, _rss, t0 = rank_stats(nodes)
        start = time.monotonic()
        time.sleep(args.idle_seconds)
        ranks, rss, t1 = rank_stats(nodes)
        idle = time.monotonic() - start
        cpu_pct = 100.0 * (t1 - t0) / float(os.sysconf("SC_CLK_TCK")) / idle / max(ranks, 1)
        serial = None
        if not args.no_baseline:
            play("teardown", inv, extra_vars=extra)
            serial, res, _cpu = timed("deploy", inv, name, extra_vars=extra, forks=1)
        floor = cpu["machine"] / (os.cpu_count() or 1)
        lines = [
            "a3x8 prefill 4 x (DP 2 x TP 8) + decode DP 64 x TP 1: 72 ranks, 8 supervisors, the example proxy",
            "cold %.1fs  warm %.1fs (load %.1fs; warm %s)%s" % (
                cold, warm, args.load_seconds, cpu_text(cpu),
                ("  serial --forks 1 %.1fs" % serial) if serial else ""),
            "one rank at idle (mean of %d decode ranks over %.0fs): RSS %.1f MiB (engine and its "
            "engine-core child), CPU %.2f%% of a core" % (
                ranks, idle, rss / 1024.0 / ranks, cpu_pct),
            "",
            "pd_warm_s=%.1f pd_wall_over_floor=%.2f serial_over_parallel=%s rank_rss_mib=%.1f "
            "rank_idle_cpu_pct=%.2f" % (warm, warm / floor,
                                        "%.2f" % (serial / warm) if serial else "na",
                                        rss / 1024.0 / ranks, cpu_pct)]
        print("\n".join(lines))
    finally:
        play("teardown", inv, extra_vars=extra, check=False)
        run([str(BIN / "npu-lab"), "down", "--name", name], check=False)
    if args.record and lines:
        record("pd_deploy", "Prefill/decode deploy: `perf/pd_deploy.py`", lines,
               note="Time to ready of runbook 003's layout on 8 lab nodes, beside the CPU "
                    "floor of the run on this machine's cores (every node and the controller "
                    "share them); the idle cost of one simulated rank is what lets 72 of them "
                    "run on two cores.")


if __name__ == "__main__":
    main()
