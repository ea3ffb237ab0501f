# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Fabric health rules, the cross-node ping planner and the cluster report (pure functions).

A problem is a dict {host, device, check, value, message}; `message` is the plain-words line
operators read (it names host, device, check and value).  Each rule is a named check in CHECKS
and can be skipped by name (`fabric_skip_checks`).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
from collections import Counter

CHECKS = {
    "tool_output": "every hccn_tool / npu-smi / efsmi query answered in a known form",
    "link": "device link UP (hccn_tool -link -g)",
    "net_health": "net health status Success (hccn_tool -net_health -g)",
    "ip": "an IP address configured on the device (hccn_tool -ip -g)",
    "hccn_conf": "/etc/hccn.conf address_N equals the live -ip -g address",
    "vnic": "A3: vNIC link UP with the address its SDID implies (hccn_tool -vnic -g)",
    "netdetect_gateway": "netdetect and gateway set and inside the device's subnet",
    "tls": "TLS switch identical on every device of every node (hccn_tool -tls -g)",
    "lldp": "LLDP neighbour present; no two devices of a node on one switch port",
    "chip_health": "npu-smi health OK for every chip",
    "leftover_process": "no process holding NPU memory before serving (npu-smi process table)",
    "device_count": "the node shows the device count its inventory group expects",
    "sdid": "A3: SDIDs unique across the cluster, every node in the expected super pod",
    "ping": "cross-node device pings with zero loss (hccn_tool -ping / -hccs_ping)",
    "versions": "driver, firmware and CANN versions identical on every node",
    "driver_install": "the driver install record says complete (no npu-smi install warning)",
    "gcu_health": "Enflame: every GCU healthy (efsmi -q)",
    "eccl_bandwidth": "Enflame: ECCL all-to-all average bus bandwidth above the minimum",
}


def problem(host, device, check, value, what):
    where = host if device is None else "%s device %s" % (host, device)
    return {"host": host, "device": device, "check": check, "value": value,
            "message": "%s: %s (check %s, value %s)" % (where, what, check, value)}


def keep(problems, skip):
    skip = set(skip or [])
    return [p for p in problems if p["check"] not in skip]


def vnic_address_for_sdid(sdid):
    """A3 vNIC address implied by an SDID: 192.<server>.<2+die>.<199-device>."""
    server, die, device = sdid >> 22, (sdid >> 16) & 0x3, sdid & 0xFFFF
    return "192.%d.%d.%d" % (server, 2 + die, 199 - device)


def _in_subnet(addr, ip, mask):
    try:
        net = ipaddress.IPv4Network("%s/%s" % (ip, mask), strict=False)
        return ipaddress.IPv4Address(addr) in net
    except (ValueError, TypeError):
        return False


QUERY_CHECK = {"link": "link", "net_health": "net_health", "ip": "ip", "vnic": "vnic",
               "netdetect": "netdetect_gateway", "gateway": "netdetect_gateway", "tls": "tls",
               "lldp": "lldp"}


def hccn_problems(host, series, devices, conf, sdids=None, skip=None):
    """Node-level rules over hccn facts.  `devices`: list of per-device dicts (hccn_facts
    shape), `conf`: {device: {key: value}} from /etc/hccn.conf, `sdids`: {device: sdid}."""
    out = []
    sdids = sdids or {}
    for dev in devices:
        d = dev["id"]
        for query, err in sorted((dev.get("errors") or {}).items()):
            if err:
                out.append(problem(host, d, QUERY_CHECK.get(query, "tool_output"), err,
                                   "hccn_tool -%s -g failed" % query))
        errors = dev.get("errors") or {}
        if not errors.get("link") and dev.get("link") != "UP":
            out.append(problem(host, d, "link", dev.get("link"), "link is not UP"))
        if not errors.get("net_health") and dev.get("net_health") != "Success":
            out.append(problem(host, d, "net_health", dev.get("net_health"),
                               "net health status is not Success"))
        ip = dev.get("ipaddr")
        if not errors.get("ip") and not ip:
            out.append(problem(host, d, "ip", None, "no IP address configured"))
        conf_addr = (conf.get(d) or {}).get("address")
        dev["conf_address"] = conf_addr
        if ip and conf_addr != ip:
            out.append(problem(host, d, "hccn_conf", conf_addr or "missing",
                               "/etc/hccn.conf address_%d=%s differs from the live address %s"
                               % (d, conf_addr or "(missing)", ip)))
        if series == "a3" and not errors.get("vnic"):
            if dev.get("vnic_link") != "UP":
                out.append(problem(host, d, "vnic", dev.get("vnic_link"), "vNIC link is not UP"))
            if d in sdids and dev.get("vnic_ipaddr") != vnic_address_for_sdid(sdids[d]):
                out.append(problem(host, d, "vnic", dev.get("vnic_ipaddr"),
                                   "vNIC address does not match SDID %d (expected %s)"
                                   % (sdids[d], vnic_address_for_sdid(sdids[d]))))
        for key in ("netdetect", "gateway"):
            if errors.get(key):
                continue
            value = dev.get(key)
            if not value:
                out.append(problem(host, d, "netdetect_gateway", None, "no %s address set" % key))
            elif ip and dev.get("netmask") and not _in_subnet(value, ip, dev["netmask"]):
                out.append(problem(host, d, "netdetect_gateway", value,
                                   "%s %s is outside the device subnet %s/%s"
                                   % (key, value, ip, dev["netmask"])))
        if not errors.get("lldp") and not dev.get("lldp_ifname"):
            out.append(problem(host, d, "lldp", None, "no LLDP neighbour seen"))
    ports = {}
    for dev in devices:
        port = dev.get("lldp_ifname")
        if port:
            key = (dev.get("lldp_system_name"), port)
            ports.setdefault(key, []).append(dev["id"])
    for (switch, port), ids in sorted(ports.items(), key=lambda kv: kv[1]):
        if len(ids) > 1:
            for d in ids:
                out.append(problem(host, d, "lldp", port,
                                   "devices %s share switch port %s%s" % (
                                       ", ".join(str(i) for i in ids), port,
                                       " on %s" % switch if switch else "")))
    tls = Counter(dev.get("tls_switch") for dev in devices if dev.get("tls_switch") is not None)
    if len(tls) > 1:
        common = tls.most_common(1)[0][0]
        for dev in devices:
            if dev.get("tls_switch") not in (None, common):
                out.append(problem(host, dev["id"], "tls", dev["tls_switch"],
                                   "TLS switch differs from the node's other devices (%s)"
                                   % common))
    return keep(out, skip)


def npu_problems(host, facts, expected_devices=None, allow_processes=False, skip=None):
    """Node-level rules over npu facts (health, processes, device count, query errors)."""
    out = []
    for err in facts.get("errors") or []:
        out.append(problem(host, None, "tool_output", err, "an npu-smi query failed"))
    for dev in facts.get("devices") or []:
        if dev.get("health") not in ("OK", None):
            out.append(problem(host, dev.get("phy_id"), "chip_health", dev.get("health"),
                               "npu-smi reports chip health %s" % dev.get("health")))
    if not allow_processes:
        for proc in facts.get("processes") or []:
            dev = proc.get("device")
            out.append(problem(host, dev, "leftover_process", proc.get("pid"),
                               "process %s (%s) holds %s MB on NPU %s chip %s" % (
                                   proc.get("pid"), proc.get("name") or "unnamed",
                                   proc.get("memory_mb"), proc.get("npu_id"),
                                   proc.get("chip_id"))))
    if facts.get("driver_install_complete") is False or facts.get("warnings"):
        out.append(problem(host, None, "driver_install",
                           "; ".join(facts.get("warnings") or []) or "status not complete",
                           "the driver install is not recorded as complete "
                           "(Driver_Install_Status=complete missing from the install record); "
                           "reinstall the driver package"))
    count = facts.get("device_count")
    if expected_devices and count != expected_devices:
        out.append(problem(host, None, "device_count", count,
                           "%s devices found, the inventory expects %s" % (count,
                                                                           expected_devices)))
    return keep(out, skip)


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


def ping_problems(host, results, skip=None):
    out = []
    for res in results or []:
        if res.get("ok"):
            continue
        value = "%s%% loss" % res.get("loss_pct") if not res.get("error") else res["error"]
        out.append(problem(host, res.get("device"), "ping", value,
                           "ping to %s device %s (%s) lost packets: %s/%s received%s" % (
                               res.get("peer"), res.get("peer_device"), res.get("address"),
                               res.get("received", 0), res.get("transmitted", 0),
                               "; " + res["error"] if res.get("error") else "")))
    return keep(out, skip)


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


def report(hosts, problems_by_host, devices_by_host, skipped_checks=None, bypass=False):
    """The cluster verdict: per host passed/problems and a nodes x devices grid whose cells
    are 'OK' or the failing checks; the gate passes only when no host has a problem."""
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
        "hosts": {h: {"passed": h not in failing,
                      "problems": [p["message"] for p in problems_by_host.get(h) or []],
                      "details": problems_by_host.get(h) or [],
                      "cells": grid[h]} for h in hosts},
    }


def render_text(rep):
    """Fixed-width table: one row per node, one column per device, plus node-level checks."""
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
    lines.append("verdict: %s%s" % (rep["verdict"], " (gate BYPASSED)" if rep["bypassed"]
                                    else ""))
    for check in rep["skipped_checks"]:
        lines.append("WARNING: check %s was turned off (%s)" % (check, CHECKS.get(check, "?")))
    return lines


def render_html(rep, title="npu-cluster fabric verification"):
    """A self-contained page: coloured grid (green OK, red failing checks) and the problems."""
    def esc(text):
        return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace('"', "&quot;"))
    cols = [str(d) for d in range(rep["devices"])] + ["node"]
    rows = []
    for host, info in rep["hosts"].items():
        tds = "".join('<td class="%s" title="%s">%s</td>' % (
            "ok" if info["cells"].get(c, "OK") == "OK" else "bad", esc(info["cells"].get(c, "")),
            esc(info["cells"].get(c, "-"))) for c in cols)
        rows.append('<tr><th class="%s">%s</th>%s</tr>' % ("ok" if info["passed"] else "bad",
                                                           esc(host), tds))
    problems = "".join("<li>%s</li>" % esc(p) for info in rep["hosts"].values()
                       for p in info["problems"])
    skipped = "".join("<li>check <b>%s</b> was turned off: %s</li>" % (esc(c),
                                                                       esc(CHECKS.get(c, "")))
                      for c in rep["skipped_checks"])
    return """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>%(title)s</title>
<style>
body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}
td,th{border:1px solid #999;padding:4px 8px;font-size:13px;text-align:center}
.ok{background:#c8f0c8}.bad{background:#f4b4b4;font-weight:bold}
.verdict{font-size:20px;padding:6px 12px;display:inline-block}
</style></head><body>
<h1>%(title)s</h1>
<p class="verdict %(vclass)s">%(verdict)s%(bypass)s</p>
<table><tr><th>node</th>%(heads)s</tr>
%(rows)s
</table>
<h2>Problems</h2><ul>%(problems)s</ul>
<h2>Checks turned off</h2><ul>%(skipped)s</ul>
</body></html>
""" % {"title": esc(title), "vclass": "ok" if rep["verdict"] == "PASS" else "bad",
       "verdict": rep["verdict"], "bypass": " (gate bypassed)" if rep["bypassed"] else "",
       "heads": "".join("<th>%s</th>" % esc(c) for c in cols), "rows": "\n".join(rows),
       "problems": problems or "<li>none</li>", "skipped": skipped or "<li>none</li>"}
