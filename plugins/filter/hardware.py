# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""The hardware table (plugins/plugin_utils/hardware.py) for the roles."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: hardware
short_description: The collection's one table of hardware facts, per hardware group
version_added: 0.1.0
author: npu-cluster developers (@npu-cluster)
description:
  - For a hardware group of the inventory (C(ascend_a2), C(ascend_a3), C(enflame_gcu)), the
    accelerator device nodes and how many a server has, the control devices and driver files a
    serving container mounts, the environment variables that select devices and bind the
    collective-communication sockets, and whether the container runs privileged.
  - With C(all), the whole table; with C(device_counts), devices per group.
options:
  _input:
    description: A hardware group name, C(all) or C(device_counts).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: How many NPUs an A3 server shows
  ansible.builtin.debug:
    msg: "{{ ('ascend_a3' | npu.cluster.hardware).devices }}"
"""

RETURN = r"""
_value:
  description: The table entry (C(devices), C(device_node), C(device_pattern), C(control_devices),
    C(mounts), C(visible_devices_env), C(comm_ip_env), C(comm_ifname_env), C(privileged),
    C(series), C(vendor), C(model)), the whole table, or the device counts.
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.npu.cluster.plugins.plugin_utils import hardware as table


def hardware(group):
    if group == "all":
        return dict((g, table.get(g)) for g in table.GROUPS)
    if group == "device_counts":
        return table.device_counts()
    try:
        return table.get(group)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"hardware": hardware}
