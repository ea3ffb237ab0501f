# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Fabric filters: thin edges over plugins/plugin_utils/fabric_report.py (and the node rules
of plugins/module_utils/fabric.py).

fabric_ping_plan  hostvars | fabric_ping_plan(hosts, mode, method) -> {host: [pings]}
fabric_report     hostvars | fabric_report(hosts, options)         -> cluster verdict
fabric_text       report | fabric_text                              -> printable lines
fabric_html       report | fabric_html                              -> self-contained page
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.npu.cluster.plugins.module_utils import fabric
from ansible_collections.npu.cluster.plugins.plugin_utils import fabric_report as report_lib
from ansible_collections.npu.cluster.plugins.plugin_utils import hardware

HW_GROUPS = hardware.GROUPS


def _facts(hostvars, host):
    hv = hostvars[host]
    facts = hv.get("ansible_facts") or {}
    return facts


def _method(series, method):
    if method in ("roce", "hccs"):
        return method
    return "hccs" if series == "a3" else "roce"


def fabric_ping_plan(hostvars, hosts, mode="ring", method="auto"):
    """Every Ascend host's pings, from the hccn facts of all of them."""
    addresses = {}
    order = []
    for host in hosts:
        facts = _facts(hostvars, host)
        hccn = facts.get("hccn")
        npu = facts.get("npu") or {}
        if not hccn:
            continue
        use = _method(npu.get("series") or hccn.get("series"), method)
        key = "vnic_ipaddr" if use == "hccs" else "ipaddr"
        addresses[host] = dict((dev["id"], dev.get(key)) for dev in hccn.get("devices") or []
                               if dev.get(key))
        order.append(host)
    try:
        plan = report_lib.ping_plan(order, addresses, mode=mode)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))
    return dict((h, plan.get(h, [])) for h in hosts)


def fabric_report(hostvars, hosts, options=None):
    """Gather every node's problems (node rules from its facts, ping results, cluster rules)
    into the verdict the gate and the summary use."""
    opts = options or {}
    skip = list(opts.get("skip_checks") or [])
    problems = dict((h, []) for h in hosts)
    devices = {}
    cluster = {}
    for host in hosts:
        hv = hostvars[host]
        facts = _facts(hostvars, host)
        npu, hccn, gcu = facts.get("npu"), facts.get("hccn"), facts.get("gcu")
        groups = [g for g in HW_GROUPS if g in (hv.get("group_names") or [])]
        ascend = any(g.startswith("ascend_") for g in groups)
        missing = ([k for k, v in (("npu", npu), ("hccn", hccn)) if not v] if ascend else
                   [] if gcu else ["gcu"])
        if missing:
            problems[host].append(fabric.problem(
                host, None, "tool_output", "no %s facts" % "/".join(missing),
                "fabric facts (%s) were not gathered: the host was unreachable or its fact "
                "task failed (see the task output above)" % ", ".join(missing)))
        if not (npu or hccn or gcu):
            devices[host] = 0
            continue
        for part in (npu, hccn, gcu):
            if part:
                problems[host] += list(part.get("checks") or [])
        ping = hv.get("_fabric_ping") or {}
        problems[host] += fabric.keep(list(ping.get("checks") or []), skip)
        eccl = hv.get("_fabric_eccl") or {}
        problems[host] += fabric.keep(list(eccl.get("checks") or []), skip)
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
        for p in report_lib.cluster_problems(group_nodes, opts.get("expected_super_pod_id"),
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
    return report_lib.report(hosts, problems, devices, skipped_checks=skip,
                             bypass=bool(opts.get("bypass")))


def fabric_text(rep):
    return report_lib.render_text(rep)


def fabric_html(rep, title="npu-cluster fabric verification"):
    return report_lib.render_html(rep, title=title)


class FilterModule(object):
    def filters(self):
        return {"fabric_ping_plan": fabric_ping_plan, "fabric_report": fabric_report,
                "fabric_text": fabric_text, "fabric_html": fabric_html}
