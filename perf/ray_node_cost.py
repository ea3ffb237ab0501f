#!/usr/bin/env python3
"""Benchmark: what one Ray node costs in the lab (runbook 001 on a2x2 with real Ray).

    .venv/bin/python perf/ray_node_cost.py [--rounds 3] [--no-record]

Brings up an a2x2 lab, serves profile 001-a2-dsv2lite-ray-tp8pp2 with the lab's serving-ray
image through `site.yml` (timed, with its CPU), then measures on the running cluster:

- the time `ray start` takes on the head and on a worker until the collection's Ray check sees
  the node alive with its NPUs (the worker is stopped and started again, --rounds times; the
  head once, with the worker),
- the memory of each node's serving container with Ray alone (the engine stopped) and with the
  engine and its Ray worker actor running (the cgroup's usage, as `docker stats` shows it).

Ends with one line: ray_start_head_s=<x> ray_join_worker_s=<y> ray_node_mib=<z>
"""
import argparse
import json
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from common import BIN, REPO, cpu_text, memory_mib, play, record, run, timed

PROFILE = "001-a2-dsv2lite-ray-tp8pp2"
SERVING = "/etc/npu-cluster/serving"


def node_exec(node, *argv, check=True):
    return run(["docker", "exec", node, "docker", "exec", "vllm-ascend"] + list(argv),
               check=check)


def nodes_script():
    src = (REPO / "plugins" / "module_utils" / "ray.py").read_text()
    return re.search(r"NODES_SCRIPT = r'''(.*?)'''", src, re.S).group(1)


def wait_alive(node, address, count, timeout=120):
    """Seconds until Ray shows `count` alive nodes with NPUs, polled every 0.1 s."""
    start = time.monotonic()
    script = nodes_script()
    while time.monotonic() - start < timeout:
        res = node_exec(node, "python3", "-c", script, address, check=False)
        if res.returncode == 0:
            alive = [n for n in json.loads(res.stdout)["nodes"]
                     if n["alive"] and n["resources"].get("NPU")]
            if len(alive) >= count:
                return time.monotonic() - start
        time.sleep(0.1)
    raise SystemExit("Ray did not show %d nodes within %ds" % (count, timeout))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-record", dest="record", action="store_false")
    args = ap.parse_args()
    name = "rbench%s" % uuid.uuid4().hex[:4]
    tmp = Path(tempfile.mkdtemp(prefix="npu-ray-bench-"))
    inv = tmp / "hosts.yml"
    image = tmp / "image.json"
    run([str(BIN / "npu-lab"), "up", "a2x2", "--name", name, "--inventory", str(inv),
         "--latency", "query_ms=20,ping_ms=200"])
    image.write_text(run([str(BIN / "npu-lab"), "image-vars", "--variant", "ray"]).stdout)
    extra = ["npu_cluster_profile=" + PROFILE, "@%s" % image,
             '{"npu_cluster_extra_env": {"NPU_LAB_VLLM_LOAD_SECONDS": "1"}}']
    head, worker = "npu-lab-%s-a2-node-0" % name, "npu-lab-%s-a2-node-1" % name
    try:
        wall, res, cpu = timed("deploy", inv, name, extra_vars=extra)
        address = re.search(r"--address=([\d.]+:\d+)",
                            run(["docker", "exec", worker, "cat", SERVING + "/ray-worker.sh"])
                            .stdout).group(1)
        with_engine = [memory_mib(head, "vllm-ascend"), memory_mib(worker, "vllm-ascend")]
        node_exec(head, "sh", SERVING + "/vllm-serve.sh", "stop")
        time.sleep(2)
        ray_only = [memory_mib(head, "vllm-ascend"), memory_mib(worker, "vllm-ascend")]
        joins = []
        for _round in range(args.rounds):
            node_exec(worker, "sh", SERVING + "/ray-worker.sh", "stop")
            start = time.monotonic()
            node_exec(worker, "sh", SERVING + "/ray-worker.sh", "start")
            joins.append(time.monotonic() - start + wait_alive(worker, address, 2))
        node_exec(worker, "sh", SERVING + "/ray-worker.sh", "stop")
        node_exec(head, "sh", SERVING + "/ray-head.sh", "stop")
        start = time.monotonic()
        node_exec(head, "sh", SERVING + "/ray-head.sh", "start")
        head_start = time.monotonic() - start + wait_alive(head, address, 1)
    finally:
        play("teardown", inv, extra_vars=extra, check=False)
        run([str(BIN / "npu-lab"), "down", "--name", name], check=False)
    lines = [
        "site.yml on a fresh a2x2 (Ray head, worker join, engine over Ray, completion): "
        "%.1fs (%s)" % (wall, cpu_text(cpu)),
        "ray start on the head until Ray shows it with its NPUs: %.1fs" % head_start,
        "ray start on a worker until it has joined (median of %d): %.1fs (%s)" % (
            len(joins), statistics.median(joins), ", ".join("%.1f" % j for j in joins)),
        "serving container memory, Ray only: head %.0f MiB, worker %.0f MiB" % tuple(ray_only),
        "serving container memory, engine running: head %.0f MiB (engine, driver, worker "
        "actor), worker %.0f MiB (worker actor)" % tuple(with_engine),
        "",
        "ray_start_head_s=%.1f ray_join_worker_s=%.1f ray_node_mib=%.0f" % (
            head_start, statistics.median(joins), ray_only[1]),
    ]
    print("\n".join(lines))
    if args.record:
        record("ray_node_cost", "Ray in the lab: `perf/ray_node_cost.py`", lines,
               note="Real Ray 2.48.0 (the lab's serving-ray image) in the lab's node containers, "
                    "all on the same cores as the controller. A Ray node is a raylet, a GCS on "
                    "the head, and Ray's idle Python workers.")


if __name__ == "__main__":
    main()
