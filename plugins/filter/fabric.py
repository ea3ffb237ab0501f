# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Fabric filters: thin edges over plugins/plugin_utils/fabric_report.py.

fabric_ping_plan  hostvars | fabric_ping_plan(hosts, mode, method) -> {host: [pings]}
fabric_report     hostvars | fabric_report(hosts, options)         -> cluster verdict
fabric_text       report | fabric_text                              -> printable lines
fabric_html       report | fabric_html                              -> self-contained page
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.npu.cluster.plugins.plugin_utils import fabric_report as report_lib


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
    into the verdict the gate and the summary use (plugin_utils/fabric_report.cluster_report);
    this adapter only reads each host's facts and the fabric role's ping / ECCL results."""
    nodes = {}
    for host in hosts:
        hv = hostvars[host]
        nodes[host] = {"group_names": list(hv.get("group_names") or []),
                       "facts": _facts(hostvars, host),
                       "ping": hv.get("_fabric_ping") or {},
                       "eccl": hv.get("_fabric_eccl") or {}}
    return report_lib.cluster_report(nodes, list(hosts), options or {})


def fabric_text(rep):
    return report_lib.render_text(rep)


def fabric_html(rep, title="npu-cluster fabric verification"):
    return report_lib.render_html(rep, title=title)


class FilterModule(object):
    def filters(self):
        return {"fabric_ping_plan": fabric_ping_plan, "fabric_report": fabric_report,
                "fabric_text": fabric_text, "fabric_html": fabric_html}
