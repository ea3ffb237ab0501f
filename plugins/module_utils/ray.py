# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Is the Ray cluster the plan asked for there? (node side, pure apart from NODES_SCRIPT).

process_wait runs NODES_SCRIPT with the serving container's python3 (Ray is installed there,
not on the host): it reads every node Ray's GCS knows -- through Ray's GCS client, the
read-only path `ray status` itself uses, and through `ray.nodes()` where that client is
missing -- and prints them as JSON.  `judge` turns that output into ready / waiting / failed
against the plan's probe:

    {"type": "ray", "address": "<head ip>:<gcs port>", "resource": "NPU",
     "nodes": [{"host", "ip", "npus"}, ...],   # every node that must be in by now
     "all_ips": [...],                          # every serving IP of the plan
     "min_total": TP x PP or 0, "forbid": ["GPU"]}

Ready: every listed node alive in Ray with its inventory serving IP and exactly its planned
NPU count, no forbidden resource, and at least min_total NPUs in all.  A node that is not there
yet is waited for; a node with the wrong count, a GPU resource or an address that is not the
inventory's fails at once, naming the node, the value and the likely cause.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.npu.cluster.plugins.module_utils.text import to_text

# Run as `python3 -c NODES_SCRIPT <gcs address>` in the container; prints
# {"nodes": [{"id", "ip", "alive", "resources"}]} or {"error"} (exit 3).
NODES_SCRIPT = r'''
import json, socket, sys
address = sys.argv[1]
try:
    # a GCS that is not listening (yet) answers here at once; Ray's client would retry for 30 s
    host, port = address.rsplit(":", 1)
    socket.create_connection((host, int(port)), timeout=3).close()
    try:
        from ray._raylet import GcsClient
        infos = GcsClient(address=address).get_all_node_info(timeout=10)
        nodes = [{"id": nid.hex(), "ip": n.node_manager_address, "alive": n.state == 0,
                  "resources": dict(n.resources_total)} for nid, n in infos.items()]
    except (ImportError, AttributeError, TypeError):
        import ray
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        nodes = [{"id": n["NodeID"], "ip": n["NodeManagerAddress"], "alive": bool(n["Alive"]),
                  "resources": n["Resources"]} for n in ray.nodes()]
        ray.shutdown()
except Exception as exc:  # any failure to reach the GCS is "not answering yet"
    print(json.dumps({"error": "%s: %s" % (type(exc).__name__, str(exc).splitlines()[0]
                                           if str(exc) else "")}))
    sys.exit(3)
print(json.dumps({"nodes": nodes}))
'''

# where Ray writes its own logs in the container (the launch script's log has `ray start`'s)
SESSION_LOGS = "/tmp/ray/session_latest/logs"


def log_lines(text, lines=20):
    """The last lines of a Ray log that say something: Ray's own timestamped lines, without its
    periodic `[state-dump]` and event-statistics blocks."""
    rows = [r for r in to_text(text).splitlines()
            if r.startswith("[20") and "[state-dump]" not in r]
    return rows[-lines:]


def parse_nodes(rc, out):
    """NODES_SCRIPT's output -> (nodes, error text or None)."""
    try:
        data = json.loads(to_text(out).strip().splitlines()[-1])
    except (ValueError, IndexError):
        data = None
    if not isinstance(data, dict):
        return None, "no answer from Ray (exit %s%s)" % (
            rc, (": " + to_text(out).strip()[-200:]) if to_text(out).strip() else "")
    if data.get("error") or rc != 0:
        return None, data.get("error") or "exit %s" % rc
    return data.get("nodes") or [], None


def _count(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return int(number) if number == int(number) else number


def judge(host, label, probe, seen, elapsed):
    """seen: {"rc", "out"} from NODES_SCRIPT -> {"state", "progress", "problem"}."""
    nodes, error = parse_nodes(seen.get("rc"), seen.get("out", ""))
    address = probe.get("address")
    if nodes is None:
        return _result("waiting", "%s: %s running, Ray at %s not answering yet (%s) (%ds)" % (
            host, label, address, error, elapsed), None)
    resource = probe.get("resource", "NPU")
    alive = [n for n in nodes if n.get("alive")]
    planned = set(probe.get("all_ips") or [n["ip"] for n in probe.get("nodes", [])])
    for node in alive:
        if node.get("ip") not in planned:
            return _result("failed", "%s: a Ray node has an address outside the plan" % host,
                           "%s: Ray (GCS %s) has a node registered as %s, which is no serving IP "
                           "of the inventory (%s): that node's Ray was started with another "
                           "--node-ip-address or on another network; vLLM would wait for its "
                           "placement group forever" % (host, address, node.get("ip"),
                                                        ", ".join(sorted(planned))))
    by_ip = {}
    for node in alive:
        by_ip.setdefault(node.get("ip"), []).append(node)
    missing = []
    total = 0
    for want in probe.get("nodes", []):
        found = by_ip.get(want["ip"]) or []
        if not found:
            missing.append(want)
            continue
        if len(found) > 1:
            return _result("failed", "%s: two Ray nodes on %s" % (host, want["ip"]),
                           "%s: %s (%s) is in the Ray cluster %d times: two raylets share "
                           "that address; stop the extra one (`ray stop` on %s)" % (
                               host, want["host"], want["ip"], len(found), want["host"]))
        res = found[0].get("resources") or {}
        for bad in probe.get("forbid") or []:
            if _count(res.get(bad)):
                return _result("failed", "%s: %s registered %s" % (host, want["host"], bad),
                               "%s: %s (%s) registered %s %s with Ray (and %s %s): `ray start "
                               "--num-gpus` declares the %ss as GPUs -- the runbook's form for "
                               "old images; current vllm-ascend then reports no %s available. "
                               "Start Ray with --resources='{\"%s\": %d}' (ray.npus: "
                               "resources)" % (
                                   host, want["host"], want["ip"], _count(res.get(bad)), bad,
                                   _count(res.get(resource)), resource, resource, resource,
                                   resource, want["npus"]))
        have = _count(res.get(resource))
        if have != want["npus"]:
            return _result("failed", "%s: %s has %s %s in Ray" % (
                host, want["host"], have, resource),
                "%s: %s (%s) registered %s %s with Ray, the plan needs %d%s" % (
                    host, want["host"], want["ip"], have, resource, want["npus"],
                    ": Ray counted them itself (the /dev/davinciN it sees, or CANN's acl, "
                    "capped by ASCEND_RT_VISIBLE_DEVICES in `ray start`'s environment); "
                    "register them explicitly (ray.npus: resources)"
                    if probe.get("counted_by") == "ray" else
                    ": `ray start` declared another count than the node has"))
        total += have
    if missing:
        return _result("waiting", "%s: %s running, waiting for %s to join Ray at %s (%d of %d "
                       "alive) (%ds)" % (host, label, ", ".join(
                           "%s (%s)" % (m["host"], m["ip"]) for m in missing), address,
                           len(probe.get("nodes", [])) - len(missing),
                           len(probe.get("nodes", [])), elapsed), None)
    need = int(probe.get("min_total") or 0)
    if total < need:
        return _result("failed", "%s: Ray has %s %s, needs %d" % (host, total, resource, need),
                       "%s: the Ray cluster has %s %s on %d nodes, tensor x pipeline parallel "
                       "needs %d" % (host, total, resource, len(probe.get("nodes", [])), need))
    return _result("ready", "%s: %s ready, Ray: %d node%s alive (%s), %s %s (%ds)" % (
        host, label, len(probe.get("nodes", [])), "" if len(probe.get("nodes", [])) == 1
        else "s", ", ".join(n["host"] for n in probe.get("nodes", [])), total, resource,
        elapsed), None)


def _result(state, progress, problem):
    return {"state": state, "progress": progress, "problem": problem}
