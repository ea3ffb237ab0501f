# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Filters over the inventory (thin edges of plugins/plugin_utils/inventory.py)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: inventory_problems
short_description: List what is wrong with a cluster inventory, in plain words
version_added: 0.1.0
description:
  - Checks hardware group membership (exactly one of ascend_a2, ascend_a3, enflame_gcu per node),
    serving IPs (valid, not loopback, unique) and prefill/decode groups.
  - Returns an empty list for a valid inventory.
options:
  _input:
    description: The C(groups) magic variable.
    type: dict
    required: true
  hostvars:
    description: The C(hostvars) magic variable.
    type: dict
    required: true
  allow_mixed_series:
    description: Accept several hardware groups in one cluster.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Fail on a bad inventory
  ansible.builtin.assert:
    that: groups | npu.cluster.inventory_problems(hostvars) | length == 0
"""

RETURN = r"""
_value:
  description: One sentence per problem, naming host, variable and rule.
  type: list
  elements: str
"""

from ansible_collections.npu.cluster.plugins.plugin_utils.inventory import (
    inventory_problems,
)

READ_VARS = ("npu_cluster_serving_ip",)


def _inventory_problems(groups, hostvars, allow_mixed_series=False):
    nodes = list(groups.get("npu_nodes") or [])
    plain = {}
    for host in nodes:
        hv = hostvars[host]
        plain[host] = {k: hv.get(k) for k in READ_VARS}
    plain_groups = {k: list(v) for k, v in groups.items()}
    return inventory_problems(plain_groups, plain, allow_mixed_series=allow_mixed_series)


class FilterModule(object):
    def filters(self):
        return {"inventory_problems": _inventory_problems}
