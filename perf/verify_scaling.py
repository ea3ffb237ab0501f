#!/usr/bin/env python3
"""Benchmark: `site.yml --tags verify` against the naive port of the runbooks' loops.

    .venv/bin/python perf/verify_scaling.py [--sizes 2,4,8] [--latency query_ms=250,ping_ms=1000]

For each size N it brings up an a3xN lab with realistic tool latency (250 ms per query,
~1 s per ping), times the project's verify stage and, in the same run on the same cluster,
perf/naive_verify.yml (one Ansible `command` task per hccn_tool call, as the runbooks'
`for i in {0..15}` loops), then tears the lab down.  It prints both times and their ratio and
ends with one line:  speedup_at_<max>=<x> scale_<max>_over_<min>=<y>
"""
import argparse
import uuid
from pathlib import Path

from common import BIN, cpu_text, record, run, timed


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2,4,8")
    ap.add_argument("--latency", default="query_ms=250,ping_ms=1000")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--no-record", dest="record", action="store_false",
                    help="do not write the figures into docs/measurements.md")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows, per_run = [], []
    for n in sizes:
        name = "bench%s" % uuid.uuid4().hex[:4]
        inv = Path("/tmp") / ("npu-bench-%s.yml" % name)
        run([str(BIN / "npu-lab"), "up", "a3x%d" % n, "--name", name, "--inventory", str(inv),
             "--latency", args.latency])
        try:
            run([str(BIN / "ansible"), "-i", str(inv), "npu_nodes", "-m", "ansible.builtin.ping"])
            ours, res, cpu = timed([str(BIN / "ansible-playbook"), "-i", str(inv), "site.yml",
                                    "--tags", "verify"], name)
            assert "verdict: PASS" in res.stdout, res.stdout[-2000:]
            naive = None
            if not args.skip_baseline:
                naive, _res, _cpu = timed([str(BIN / "ansible-playbook"), "-i", str(inv),
                                           "perf/naive_verify.yml"])
            rows.append((n, ours, naive))
            per_run.append("a3x%-3d verify %7.1fs (%s)   naive %s   ratio %s" % (
                n, ours, cpu_text(cpu), "%7.1fs" % naive if naive else "   -   ",
                "%.1fx" % (naive / ours) if naive else "-"))
            print(per_run[-1], flush=True)
        finally:
            run([str(BIN / "npu-lab"), "down", "--name", name], check=False)
    report = ["%-6s %10s %10s %8s" % ("nodes", "verify_s", "naive_s", "speedup")]
    for n, ours, naive in rows:
        report.append("%-6d %10.1f %10s %8s" % (n, ours, "%.1f" % naive if naive else "-",
                                                "%.1f" % (naive / ours) if naive else "-"))
    lo, hi = rows[0], rows[-1]
    speed = "%.1f" % (hi[2] / hi[1]) if hi[2] else "na"
    report.append("speedup_at_%d=%s scale_%d_over_%d=%.2f" % (hi[0], speed, hi[0], lo[0],
                                                              hi[1] / lo[1]))
    print()
    print("\n".join(per_run + [""] + report))
    if args.record:
        record("verify_scaling", "Verify: `perf/verify_scaling.py`", per_run + [""] + report)


if __name__ == "__main__":
    main()
