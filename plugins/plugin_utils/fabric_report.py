# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""The fabric verdict, computed once on the controller (pure functions): the cross-node ping
plan, the rules that need every node (TLS, versions, SDIDs, super pod), the report and its
text and HTML renderings.  Controller only: the modules that run on nodes never carry it."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import Counter

from ansible_collections.npu.cluster.plugins.module_utils.fabric import CHECKS, keep, problem
from ansible_collections.npu.cluster.plugins.plugin_utils.hardware import GROUPS


# ------------------------------------------------------------------ ping planner


def ping_plan(hosts, addresses, mode="ring", max_matrix_nodes=4):
    """Plan cross-node pings.  `hosts`: ordered host names; `addresses`: {host: {device:
    address}} (RoCE IP on A2, vNIC IP on A3).  Returns {host: [{device, address, peer,
    peer_device}]}.

    ring   device d of node i pings device d of node i+1 (wrapping): O(nodes x devices) pings,
           each node runs `devices` pings whatever the cluster size.
    full   device d pings device d on every other node.
    matrix every device pings every device of every other node (small clusters only).
    """
    if mode not in ("ring", "full", "matrix"):
        raise ValueError("ping mode must be ring, full or matrix, not %r" % mode)
    if mode == "matrix" and len(hosts) > max_matrix_nodes:
        raise ValueError("ping mode matrix is for clusters of at most %d nodes (this one has "
                         "%d); use ring or full" % (max_matrix_nodes, len(hosts)))
    plan = {h: [] for h in hosts}
    n = len(hosts)
    if n < 2:
        return plan
    for i, src in enumerate(hosts):
        src_devs = sorted((addresses.get(src) or {}).keys())
        if mode == "ring":
            peers = [hosts[(i + 1) % n]] if n > 1 else []
        else:
            peers = [h for h in hosts if h != src]
        for peer in peers:
            peer_addrs = addresses.get(peer) or {}
            for d in src_devs:
                targets = [d] if mode != "matrix" else sorted(peer_addrs)
                for t in targets:
                    if peer_addrs.get(t):
                        plan[src].append({"device": d, "address": peer_addrs[t], "peer": peer,
                                          "peer_device": t})
    return plan


# ------------------------------------------------------------------ cluster rules and report


def _majority(values):
    counted = Counter(v for v in values if v is not None)
    return counted.most_common(1)[0][0] if counted else None


def cluster_problems(nodes, expected_super_pod=None, skip=None):
    """Rules that need every node: TLS identical cluster-wide, versions identical, SDIDs
    unique, expected super pod.  `nodes`: {host: {'tls': {dev: switch}, 'versions': {...},
    'sdids': {dev: sdid}, 'super_pod_id': x}}."""
    out = []
    all_tls = [v for n in nodes.values() for v in (n.get("tls") or {}).values()]
    common_tls = _majority(all_tls)
    if len(set(v for v in all_tls if v is not None)) > 1:
        for host, n in sorted(nodes.items()):
            for dev, value in sorted((n.get("tls") or {}).items()):
                if value is not None and value != common_tls:
                    out.append(problem(host, dev, "tls", value,
                                       "TLS switch %s differs from the cluster's %s"
                                       % (value, common_tls)))
    for key in ("driver", "firmware", "cann", "npu_smi", "efsmi"):
        values = {h: (n.get("versions") or {}).get(key) for h, n in nodes.items()}
        present = [v for v in values.values() if v]
        if len(set(present)) > 1:
            common = _majority(present)
            for host, value in sorted(values.items()):
                if value and value != common:
                    out.append(problem(host, None, "versions", value,
                                       "%s version %s differs from the cluster's %s"
                                       % (key, value, common)))
    seen = {}
    for host, n in sorted(nodes.items()):
        for dev, sdid in sorted((n.get("sdids") or {}).items()):
            if sdid is None:
                continue
            if sdid in seen:
                out.append(problem(host, dev, "sdid", sdid,
                                   "SDID %d is also %s device %s's" % ((sdid,) + seen[sdid])))
            else:
                seen[sdid] = (host, dev)
    pods = {h: n.get("super_pod_id") for h, n in nodes.items() if n.get("super_pod_id")
            is not None}
    want = expected_super_pod if expected_super_pod is not None else _majority(pods.values())
    for host, pod in sorted(pods.items()):
        if pod != want:
            out.append(problem(host, None, "sdid", pod,
                               "super pod %s, expected %s" % (pod, want)))
    return keep(out, skip)


def report(hosts, problems_by_host, devices_by_host, skipped_checks=None, bypass=False,
           recovered_by_host=None):
    """The cluster verdict: per host passed/problems and a nodes x devices grid whose cells
    are 'OK' or the failing checks; the gate passes only when no host has a problem.
    `recovered_by_host`: the pings that lost packets once and passed their confirm round
    (reported, not failures)."""
    recovered_by_host = recovered_by_host or {}
    grid = {}
    max_dev = 0
    for host in hosts:
        count = devices_by_host.get(host) or 0
        max_dev = max(max_dev, count)
        cells = {str(d): [] for d in range(count)}
        cells["node"] = []
        for p in problems_by_host.get(host) or []:
            key = "node" if p["device"] is None else str(p["device"])
            cells.setdefault(key, [])
            if p["check"] not in cells[key]:
                cells[key].append(p["check"])
        grid[host] = {k: (", ".join(v) if v else "OK") for k, v in cells.items()}
    failing = [h for h in hosts if problems_by_host.get(h)]
    return {
        "verdict": "PASS" if not failing else "FAIL",
        "gate_passed": not failing or bool(bypass),
        "bypassed": bool(bypass) and bool(failing),
        "failing_hosts": failing,
        "skipped_checks": sorted(skipped_checks or []),
        "devices": max_dev,
        "recovered": sum(len(recovered_by_host.get(h) or []) for h in hosts),
        "hosts": {h: {"passed": h not in failing,
                      "problems": [p["message"] for p in problems_by_host.get(h) or []],
                      "details": problems_by_host.get(h) or [],
                      "recovered": list(recovered_by_host.get(h) or []),
                      "cells": grid[h]} for h in hosts},
    }


def by_check(rep):
    """[(check, [(host, [problem dicts])])]: the report's problems grouped by check, then
    node, checks in the order of CHECKS."""
    groups = {}
    for host, info in rep["hosts"].items():
        for p in info.get("details") or []:
            groups.setdefault(p["check"], {}).setdefault(host, []).append(p)
    order = list(CHECKS) + sorted(c for c in groups if c not in CHECKS)
    return [(c, list(groups[c].items())) for c in order if c in groups]


def render_text(rep, max_lines_per_check=40):
    """Fixed-width table (one row per node, one column per device, plus node-level checks),
    the verdict, then the problems grouped by check and node, and the recovered pings."""
    hosts = list(rep["hosts"])
    cols = [str(d) for d in range(rep["devices"])] + ["node"]
    width = {c: max([len(c)] + [len(rep["hosts"][h]["cells"].get(c, "")) for h in hosts])
             for c in cols}
    hw = max([4] + [len(h) for h in hosts])
    lines = ["%-*s  %s" % (hw, "NODE", "  ".join("%-*s" % (width[c], c) for c in cols))]
    for h in hosts:
        cells = rep["hosts"][h]["cells"]
        lines.append("%-*s  %s" % (hw, h, "  ".join("%-*s" % (width[c], cells.get(c, "-"))
                                                    for c in cols)))
    failing = rep["failing_hosts"]
    lines.append("verdict: %s%s%s" % (
        rep["verdict"], " (gate BYPASSED)" if rep["bypassed"] else "",
        " on %d of %d nodes" % (len(failing), len(hosts)) if failing else
        " (%d nodes, %d devices each)" % (len(hosts), rep["devices"])))
    for check, per_host in by_check(rep):
        count = sum(len(ps) for _h, ps in per_host)
        lines.append("%s: %d problem%s on %d node%s (%s)" % (
            check, count, "" if count == 1 else "s", len(per_host),
            "" if len(per_host) == 1 else "s", CHECKS.get(check, "?")))
        shown = 0
        for host, ps in per_host:
            for p in ps:
                if shown == max_lines_per_check:
                    break
                lines.append("  %s" % p["message"])
                shown += 1
        if count > shown:
            lines.append("  ... and %d more %s problems (all of them in the report files)"
                         % (count - shown, check))
    recovered = [line for h in hosts for line in rep["hosts"][h].get("recovered") or []]
    if recovered:
        lines.append("recovered: %d ping%s lost packets in the first round and passed the "
                     "confirm round (not failures)" % (len(recovered),
                                                       "" if len(recovered) == 1 else "s"))
        lines += ["  " + line for line in recovered[:max_lines_per_check]]
        if len(recovered) > max_lines_per_check:
            lines.append("  ... and %d more" % (len(recovered) - max_lines_per_check))
    for check in rep["skipped_checks"]:
        lines.append("WARNING: check %s was turned off (%s)" % (check, CHECKS.get(check, "?")))
    return lines


def render_html(rep, title="npu-cluster fabric verification"):
    """A self-contained page (no script, no network): the coloured grid (green OK, red failing
    checks) in a scrolling box with sticky header row and node column, a checkbox that hides
    the passing nodes, the problems grouped by check and node, and the recovered pings."""
    def esc(text):
        return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace('"', "&quot;"))
    cols = [str(d) for d in range(rep["devices"])] + ["node"]
    rows = []
    for host, info in rep["hosts"].items():
        tds = "".join('<td class="%s" title="%s">%s</td>' % (
            "ok" if info["cells"].get(c, "OK") == "OK" else "bad", esc(info["cells"].get(c, "")),
            esc(info["cells"].get(c, "-"))) for c in cols)
        rows.append('<tr class="%s"><th class="%s">%s</th>%s</tr>' % (
            "pass" if info["passed"] else "fail", "ok" if info["passed"] else "bad", esc(host),
            tds))
    groups = []
    for check, per_host in by_check(rep):
        count = sum(len(ps) for _h, ps in per_host)
        items = "".join("<li><b>%s</b><ul>%s</ul></li>" % (
            esc(host), "".join("<li>%s</li>" % esc(p["message"]) for p in ps))
            for host, ps in per_host)
        groups.append('<details open><summary><b>%s</b>: %d problem%s on %d node%s '
                      '(%s)</summary><ul>%s</ul></details>' % (
                          esc(check), count, "" if count == 1 else "s", len(per_host),
                          "" if len(per_host) == 1 else "s", esc(CHECKS.get(check, "")), items))
    recovered = "".join("<li>%s</li>" % esc(line) for info in rep["hosts"].values()
                        for line in info.get("recovered") or [])
    skipped = "".join("<li>check <b>%s</b> was turned off: %s</li>" % (esc(c),
                                                                       esc(CHECKS.get(c, "")))
                      for c in rep["skipped_checks"])
    failing = len(rep["failing_hosts"])
    return """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>%(title)s</title>
<style>
body{font-family:sans-serif;margin:1.5em}
.grid{max-height:75vh;max-width:100%%;overflow:auto;border:1px solid #999}
table{border-collapse:separate;border-spacing:0}
td,th{border:1px solid #999;padding:3px 6px;font-size:12px;text-align:center;white-space:nowrap}
thead th{position:sticky;top:0;background:#eee;z-index:2}
tbody th{position:sticky;left:0;z-index:1}
thead th:first-child{left:0;z-index:3}
.ok{background:#c8f0c8}.bad{background:#f4b4b4;font-weight:bold}
.verdict{font-size:20px;padding:6px 12px;display:inline-block}
#only-failing:checked ~ .grid tr.pass{display:none}
#only-failing:checked ~ .grid td.ok{background:#fff;color:#bbb}
</style></head><body>
<h1>%(title)s</h1>
<p class="verdict %(vclass)s" id="verdict">%(verdict)s%(bypass)s</p>
<p>%(summary)s</p>
<input type="checkbox" id="only-failing"><label for="only-failing"> show only failing nodes and cells</label>
<div class="grid"><table id="grid"><thead><tr><th>node</th>%(heads)s</tr></thead>
<tbody>
%(rows)s
</tbody></table></div>
<h2>Problems by check</h2>%(problems)s
<h2>Recovered pings</h2><p>Lost packets in the first round, passed the confirm round: not
failures.</p><ul>%(recovered)s</ul>
<h2>Checks turned off</h2><ul>%(skipped)s</ul>
</body></html>
""" % {"title": esc(title), "vclass": "ok" if rep["verdict"] == "PASS" else "bad",
       "verdict": rep["verdict"], "bypass": " (gate bypassed)" if rep["bypassed"] else "",
       "summary": esc("%d nodes, %d devices each; %s" % (
           len(rep["hosts"]), rep["devices"],
           "%d failing" % failing if failing else "all passed")),
       "heads": "".join("<th>%s</th>" % esc(c) for c in cols), "rows": "\n".join(rows),
       "problems": "".join(groups) or "<p>none</p>",
       "recovered": recovered or "<li>none</li>", "skipped": skipped or "<li>none</li>"}


def cluster_report(nodes, hosts, options):
    """The cluster's verdict from every node's facts and results.  nodes: {host:
    {"group_names", "facts": {"npu", "hccn", "gcu"}, "ping": the ping module's result,
    "eccl": the ECCL module's result}}; options: skip_checks, expected_super_pod_id, bypass."""
    opts = options or {}
    skip = list(opts.get("skip_checks") or [])
    problems = dict((h, []) for h in hosts)
    recovered = {}
    devices = {}
    cluster = {}
    for host in hosts:
        node_in = nodes.get(host) or {}
        facts = node_in.get("facts") or {}
        npu, hccn, gcu = facts.get("npu"), facts.get("hccn"), facts.get("gcu")
        groups = [g for g in GROUPS if g in (node_in.get("group_names") or [])]
        ascend = any(g.startswith("ascend_") for g in groups)
        missing = ([k for k, v in (("npu", npu), ("hccn", hccn)) if not v] if ascend else
                   [] if gcu else ["gcu"])
        if missing:
            problems[host].append(problem(
                host, None, "tool_output", "no %s facts" % "/".join(missing),
                "fabric facts (%s) were not gathered: the host was unreachable or its fact "
                "task failed (see the task output above)" % ", ".join(missing)))
        if not (npu or hccn or gcu):
            devices[host] = 0
            continue
        for part in (npu, hccn, gcu):
            if part:
                problems[host] += list(part.get("checks") or [])
        ping = node_in.get("ping") or {}
        problems[host] += keep(list(ping.get("checks") or []), skip)
        if "ping" not in skip:
            recovered[host] = list(ping.get("recovered") or [])
        eccl = node_in.get("eccl") or {}
        problems[host] += keep(list(eccl.get("checks") or []), skip)
        if npu:
            devices[host] = npu.get("device_count") or 0
        elif gcu:
            devices[host] = gcu.get("device_count") or 0
        else:
            devices[host] = hccn.get("device_count") or 0
        node = {"versions": dict((npu or {}).get("versions") or (gcu or {}).get("versions")
                                 or {})}
        if hccn:
            node["tls"] = dict((d["id"], d.get("tls_switch")) for d in hccn.get("devices") or [])
        if npu and npu.get("spod"):
            node["sdids"] = dict((s["device"], s.get("sdid")) for s in npu["spod"])
            node["super_pod_id"] = npu["spod"][0].get("super_pod_id")
        node["group"] = groups[0] if groups else None
        cluster[host] = node
    by_group = {}
    for host, node in cluster.items():
        by_group.setdefault(node["group"], {})[host] = node
    for group_nodes in by_group.values():
        for p in cluster_problems(group_nodes, opts.get("expected_super_pod_id"),
                                  skip=skip):
            problems[p["host"]].append(p)
    for host in hosts:
        seen = set()
        unique = []
        for p in problems[host]:
            key = (p["device"], p["check"], str(p["value"]), p["message"])
            if key not in seen:
                seen.add(key)
                unique.append(p)
        problems[host] = unique
    return report(hosts, problems, devices, skipped_checks=skip,
                  bypass=bool(opts.get("bypass")), recovered_by_host=recovered)
