# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Fabric health rules that run on a node (pure functions): one node's devices, its npu-smi
facts, its ping results.  The cross-node ping planner, the cluster rules and the report run on
the controller only (plugins/plugin_utils/fabric_report.py) and are not part of the modules'
payload.

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
    "ping": "cross-node device pings: no loss, or a confirm round within the loss threshold",
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


# ------------------------------------------------------------------ pings and their confirmation
#
# A ping that loses packets in the first round (every planned ping at once) is not yet a
# failure: the pair is pinged again in a confirm round (few at a time, more packets).  Only
# the confirm round's loss is judged, against `max_loss_pct`: a down link or an unreachable
# address loses everything again and fails; a pair that lost packets only in the crowd of the
# first round is reported as recovered, not as a failure.


def ping_argv(tool, method, item, count=None):
    """argv of one ping: `-hccs_ping` (A3 vNIC) takes a packet count, RoCE `-ping` sends 3."""
    cmd = "-hccs_ping" if method == "hccs" else "-ping"
    argv = [tool, "-i", str(item["device"]), cmd, "-g", "address", str(item["address"])]
    if count and method == "hccs":
        argv += ["cnt", str(count)]
    return argv


def confirm_calls(method, count):
    """(calls per pair, packets per call) that send at least `count` packets."""
    if method == "hccs":
        return 1, count
    return -(-count // 3), None


def merge_ping(first, confirms, max_loss_pct):
    """One pair's verdict from its first-round result and its confirm-round results (None when
    it was not confirmed)."""
    res = dict(first)
    res["first_round"] = dict((k, first.get(k)) for k in ("transmitted", "received",
                                                          "loss_pct", "error"))
    res["recovered"] = False
    if not confirms:
        return res
    sent = sum(c.get("transmitted") or 0 for c in confirms)
    recv = sum(c.get("received") or 0 for c in confirms)
    errors = [c["error"] for c in confirms if c.get("error")]
    loss = round(100.0 * (sent - recv) / sent, 1) if sent else 100.0
    res["confirm"] = {"transmitted": sent, "received": recv, "loss_pct": loss,
                      "error": errors[0] if errors else None}
    res["max_loss_pct"] = max_loss_pct
    res["ok"] = not errors and sent > 0 and loss <= max_loss_pct
    res["recovered"] = res["ok"]
    return res


def _pair(res):
    return "ping to %s device %s (%s)" % (res.get("peer"), res.get("peer_device"),
                                          res.get("address"))


def ping_problems(host, results, skip=None):
    out = []
    for res in results or []:
        if res.get("ok"):
            continue
        conf = res.get("confirm")
        if conf and not conf.get("error"):
            first = res["first_round"]
            out.append(problem(
                host, res.get("device"), "ping", "%s%% loss" % conf["loss_pct"],
                "%s lost %d of %d packets in the confirm round (%s%% loss, more than the %s%% "
                "allowed) after %s/%s received in the first round" % (
                    _pair(res), conf["transmitted"] - conf["received"], conf["transmitted"],
                    conf["loss_pct"], res.get("max_loss_pct"), first.get("received") or 0,
                    first.get("transmitted") or 0)))
            continue
        error = (conf or {}).get("error") or res.get("error")
        value = "%s%% loss" % res.get("loss_pct") if not error else error
        out.append(problem(host, res.get("device"), "ping", value,
                           "%s lost packets: %s/%s received%s" % (
                               _pair(res), res.get("received", 0), res.get("transmitted", 0),
                               "; " + error if error else "")))
    return keep(out, skip)


def ping_notes(host, results):
    """Plain-words lines for the pairs that lost packets in the first round and recovered."""
    out = []
    for res in results or []:
        if not res.get("recovered"):
            continue
        first, conf = res["first_round"], res["confirm"]
        out.append("%s device %s: %s lost packets in the first round (%s/%s received) and "
                   "recovered: %s/%s received in the confirm round (%s%% loss, at most %s%% "
                   "allowed)" % (host, res.get("device"), _pair(res), first.get("received") or 0,
                                 first.get("transmitted") or 0, conf["received"],
                                 conf["transmitted"], conf["loss_pct"], res.get("max_loss_pct")))
    return out
