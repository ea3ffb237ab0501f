#!/usr/bin/env python3
"""Benchmark: `site.yml --tags verify` at several cluster sizes, against the naive port of the
runbooks' loops.

    .venv/bin/python perf/verify_scaling.py [--sizes 2,8,60] [--runs 5] [--baseline-max 8]
                                            [--latency query_ms=250,ping_ms=1000]

For each size N it brings up an a3xN lab with realistic tool latency (250 ms per query, ~1 s
per ping), times the project's verify stage `--runs` times on that cluster (each run must
PASS: a healthy lab that fails is a false alarm, and the benchmark stops on it), and for sizes
up to --baseline-max, in the same run on the same cluster, perf/naive_verify.yml (one Ansible
`command` task per hccn_tool call, as the runbooks' `for i in {0..15}` loops), then tears the
lab down.  Every run line gives the wall time, the CPU spent (machine and inside the nodes),
the wall time the machine's cores could not go below (the CPU floor), and how many pings were
lost in the first round and recovered in the confirm round.  It ends with one line:
    speedup_at_<b>=<x> scale_<b>_over_<min>=<y> [wall_at_<max>=<s> floor_at_<max>=<s>
    passed_at_<max>=<k>/<runs>]
where <b> is the largest size with a baseline and scale uses the median of the runs.
"""
import argparse
import json
import os
import statistics
import tempfile
import uuid
from pathlib import Path

from common import BIN, cpu_text, record, run, timed


def verify_once(inv, name, artifacts):
    wall, res, cpu = timed("verify", inv, name, extra_vars=["fabric_artifacts_dir=%s" % artifacts],
                           check=False)
    try:
        rep = json.loads((Path(artifacts) / "fabric-report.json").read_text())
    except (OSError, ValueError):
        rep = {}
    return wall, res, cpu, rep


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2,8,60")
    ap.add_argument("--runs", type=int, default=1, help="verify runs per size (median used)")
    ap.add_argument("--baseline-max", type=int, default=8,
                    help="run the naive baseline only up to this many nodes (it takes about "
                         "25 s per node)")
    ap.add_argument("--latency", default="query_ms=250,ping_ms=1000")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--no-record", dest="record", action="store_false",
                    help="do not write the figures into docs/measurements.md")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows, per_run, failures = [], [], []
    for n in sizes:
        name = "bench%s" % uuid.uuid4().hex[:4]
        inv = Path("/tmp") / ("npu-bench-%s.yml" % name)
        run([str(BIN / "npu-lab"), "up", "a3x%d" % n, "--name", name, "--inventory", str(inv),
             "--latency", args.latency])
        try:
            run([str(BIN / "ansible"), "-i", str(inv), "npu_nodes", "-m", "ansible.builtin.ping"])
            walls, floors, passed = [], [], 0
            for i in range(args.runs):
                with tempfile.TemporaryDirectory() as artifacts:
                    wall, res, cpu, rep = verify_once(inv, name, artifacts)
                ok = res.ok and rep.get("verdict") == "PASS"
                passed += ok
                walls.append(wall)
                floors.append(cpu["machine"] / (os.cpu_count() or 1))
                per_run.append("a3x%-3d run %d verify %6.1fs %s (%s), %d pings recovered" % (
                    n, i + 1, wall, "PASS" if ok else "FAIL", cpu_text(cpu),
                    rep.get("recovered", 0)))
                print(per_run[-1], flush=True)
                if not ok:
                    failures.append((n, i + 1, [p for h in rep.get("hosts", {}).values()
                                                for p in h.get("problems", [])][:10]
                                     or [res.output()[-1500:]]))
            naive = None
            if not args.skip_baseline and n <= args.baseline_max:
                naive, _res, _cpu = timed("naive-verify", inv, playbook="perf/naive_verify.yml")
                per_run.append("a3x%-3d naive %7.1fs" % (n, naive))
                print(per_run[-1], flush=True)
            rows.append((n, statistics.median(walls), naive, statistics.median(floors),
                         passed, min(walls), max(walls)))
        finally:
            run([str(BIN / "npu-lab"), "down", "--name", name], check=False)
    report = ["%-6s %10s %10s %10s %8s %8s" % (
        "nodes", "verify_s", "range_s", "floor_s", "naive_s", "speedup")]
    for n, ours, naive, floor, passed, lo_w, hi_w in rows:
        report.append("%-6d %10.1f %10s %10.1f %8s %8s   %d/%d passed" % (
            n, ours, "%.1f-%.1f" % (lo_w, hi_w), floor, "%.1f" % naive if naive else "-",
            "%.1f" % (naive / ours) if naive else "-", passed, args.runs))
    based = [r for r in rows if r[2]]
    lo = rows[0]
    ref = based[-1] if based else rows[-1]
    summary = "speedup_at_%d=%s scale_%d_over_%d=%.2f" % (
        ref[0], "%.1f" % (ref[2] / ref[1]) if ref[2] else "na", ref[0], lo[0], ref[1] / lo[1])
    big = rows[-1]
    if big is not ref:
        summary += " wall_at_%d=%.1f floor_at_%d=%.1f passed_at_%d=%d/%d" % (
            big[0], big[1], big[0], big[3], big[0], big[4], args.runs)
    report.append(summary)
    print()
    print("\n".join(per_run + [""] + report))
    for n, i, problems in failures:
        print("a3x%d run %d FAILED:\n  %s" % (n, i, "\n  ".join(problems)))
    if args.record:
        record("verify_scaling", "Verify: `perf/verify_scaling.py`", per_run + [""] + report)
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
