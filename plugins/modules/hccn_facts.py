#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: hccn_facts
short_description: Per-device NPU network facts from hccn_tool and /etc/hccn.conf
version_added: 0.1.0
description:
  - For every device runs C(hccn_tool -i N) C(-link -g), C(-net_health -g), C(-lldp -g),
    C(-netdetect -g), C(-gateway -g), C(-ip -g), C(-tls -g) and, on A3, C(-vnic -g), all
    concurrently in one module call, and parses C(/etc/hccn.conf).
  - Returns C(ansible_facts['hccn']) with per-device values, C(healthy) and C(problems) in
    plain words naming host, device, check and value.
  - Never fails on hardware problems or unknown tool output; those become problems.
options:
  series:
    description: C(a3) adds the C(-vnic) query and the vNIC rules.
    type: str
    choices: [a2, a3]
    default: a2
  devices:
    description: Number of devices (physical ids 0..N-1). Default 8 on A2, 16 on A3.
    type: int
  sdids:
    description: A3 SDID per device id (from npu_facts), to check each vNIC address.
    type: dict
    default: {}
  concurrency:
    description: hccn_tool calls run at once.
    type: int
    default: 32
  timeout:
    description: Seconds before one hccn_tool call is abandoned.
    type: int
    default: 30
extends_documentation_fragment:
  - npu.cluster.ascend.hccn
  - npu.cluster.common
  - npu.cluster.common.checks
  - npu.cluster.common.facts
author:
  - npu-cluster developers (@npu-cluster)
"""

EXAMPLES = r"""
- name: Gather NPU network facts (A3, 16 devices)
  npu.cluster.hccn_facts:
    series: a3
    devices: 16

- name: Read them
  ansible.builtin.debug:
    msg: "{{ ansible_facts['hccn']['problems'] }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts under the C(hccn) key.
  returned: always
  type: dict
  contains:
    hccn:
      description: Per-device network state and its verdict.
      type: dict
      contains:
        devices:
          description: One entry per device with id, link, net_health, ipaddr, netmask,
            netdetect, gateway, lldp_ifname, lldp_system_name, vnic_link, vnic_ipaddr,
            tls_switch, conf_address and errors (per query).
          type: list
          elements: dict
        conf:
          description: /etc/hccn.conf as a mapping of device id to its keys and values.
          type: dict
        healthy:
          description: True when no check found a problem.
          type: bool
        problems:
          description: Plain-words problems (host, device, check, value).
          type: list
          elements: str
        checks:
          description: The same problems as dicts (host, device, check, value, message).
          type: list
          elements: dict
"""

import os
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.npu.cluster.plugins.module_utils import ascend_facts
from ansible_collections.npu.cluster.plugins.module_utils.runner import run_many


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ascend_facts.HCCN_ARGS,
            series=dict(type="str", choices=["a2", "a3"], default="a2"),
            devices=dict(type="int"),
            sdids=dict(type="dict", default={}),
            concurrency=dict(type="int", default=32),
            timeout=dict(type="int", default=30),
            skip_checks=dict(type="list", elements="str", default=[]),
            host_label=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host = p["host_label"] or socket.gethostname()
    series = p["series"]
    count = p["devices"] if p["devices"] is not None else (16 if series == "a3" else 8)
    tool_ok = os.access(p["hccn_tool"], os.X_OK)
    jobs = ascend_facts.hccn_jobs(p["hccn_tool"], series, range(count)) if tool_ok else []
    results = run_many([job[3] for job in jobs], p["concurrency"], p["timeout"])
    facts = ascend_facts.hccn_finish(host, p["hccn_tool"], series, range(count), jobs, results,
                                     p["hccn_conf"], sdids=p["sdids"], skip=p["skip_checks"],
                                     tool_ok=tool_ok)
    module.exit_json(changed=False, ansible_facts={"hccn": facts})


if __name__ == "__main__":
    main()
