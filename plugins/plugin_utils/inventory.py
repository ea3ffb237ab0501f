# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Pure inventory validation: the rules a cluster inventory must meet before any host is touched.

`inventory_problems(groups, hostvars)` takes plain data (group name -> host list, host -> the
few variables it reads) and returns a list of plain-words problems naming host, variable and
rule.  The filter plugin `npu.cluster.inventory_problems` is its thin Ansible edge.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.npu.cluster.plugins.plugin_utils.hardware import GROUPS as HARDWARE_GROUPS
from ansible_collections.npu.cluster.plugins.plugin_utils.inputs import address_problem

ROLE_GROUPS = ("prefill", "decode")


def inventory_problems(groups, hostvars, node_group="npu_nodes", allow_mixed_series=False):
    problems = []
    nodes = list(groups.get(node_group) or [])
    if not nodes:
        return ["inventory has no hosts in group '%s': put every NPU/GCU server in it (as "
                "children groups %s)" % (node_group, ", ".join(HARDWARE_GROUPS))]
    series_of = {}
    for host in nodes:
        member = [g for g in HARDWARE_GROUPS if host in (groups.get(g) or [])]
        if not member:
            problems.append("%s: in no hardware group; add it to exactly one of %s"
                            % (host, ", ".join(HARDWARE_GROUPS)))
        elif len(member) > 1:
            problems.append("%s: in several hardware groups (%s); a server is exactly one of %s"
                            % (host, ", ".join(member), ", ".join(HARDWARE_GROUPS)))
        else:
            series_of[host] = member[0]
    used = sorted(set(series_of.values()))
    if len(used) > 1 and not allow_mixed_series:
        problems.append("hardware groups %s are mixed in one cluster: HCCL/ECCL groups cannot "
                        "span them; split the inventory or set preflight_allow_mixed_series: true"
                        % ", ".join(used))
    for host in sorted(set(sum([list(groups.get(g) or []) for g in HARDWARE_GROUPS], []))):
        if host not in nodes:
            problems.append("%s: in a hardware group but not in '%s'" % (host, node_group))
    seen_ip = {}
    for host in nodes:
        hv = hostvars.get(host) or {}
        ip = hv.get("npu_cluster_serving_ip")
        if ip in (None, ""):
            continue
        problem = address_problem(host, "npu_cluster_serving_ip", ip)
        if problem:
            problems.append(problem)
            continue
        addr = ipaddress.ip_address(str(ip).strip())
        if str(addr) in seen_ip:
            problems.append("%s: npu_cluster_serving_ip=%s is also %s's; every node needs its own"
                            % (host, ip, seen_ip[str(addr)]))
        seen_ip.setdefault(str(addr), host)
    for role in ROLE_GROUPS:
        for host in groups.get(role) or []:
            if host not in nodes:
                problems.append("%s: in group '%s' but not in '%s'" % (host, role, node_group))
    both = set(groups.get("prefill") or []) & set(groups.get("decode") or [])
    for host in sorted(both):
        problems.append("%s: in both 'prefill' and 'decode'; a node serves one of them" % host)
    return problems
