#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ascend_facts
short_description: One Ascend node's npu-smi and hccn_tool facts in one module run
version_added: 0.2.0
description:
  - What M(npu.cluster.npu_facts) and M(npu.cluster.hccn_facts) gather, in one module run
    (one round trip per node) and two query rounds - C(npu-smi info), C(-l), C(-m) first
    (they say the series and the devices), then every device's C(spod-info) / C(health)
    query and every C(hccn_tool) query at once.
  - The node rules run where both tools' answers meet, including the A3 rule that every
    vNIC address matches the device's SDID.
  - Returns C(ansible_facts['npu']) and C(ansible_facts['hccn']), the same shapes the two
    single-tool modules return.
  - When npu-smi lists no device, hccn_tool is asked about C(expected_devices) devices.
options:
  series:
    description: C(auto) detects A3 from two chips per NPU (and is A2 when npu-smi is missing).
    type: str
    choices: [auto, a2, a3]
    default: auto
  concurrency:
    description: Tool calls run at once.
    type: int
    default: 64
  timeout:
    description: Seconds before one tool call is abandoned.
    type: int
    default: 60
extends_documentation_fragment:
  - npu.cluster.ascend.npu_smi
  - npu.cluster.ascend.hccn
  - npu.cluster.common
  - npu.cluster.common.checks
  - npu.cluster.common.facts
author:
  - npu-cluster developers (@npu-cluster)
"""

EXAMPLES = r"""
- name: Gather NPU and NPU network facts (A3, 16 devices)
  npu.cluster.ascend_facts:
    expected_devices: 16

- name: Show the verdicts
  ansible.builtin.debug:
    msg: >-
      npu healthy={{ ansible_facts['npu']['healthy'] }},
      network healthy={{ ansible_facts['hccn']['healthy'] }}
"""

RETURN = r"""
ansible_facts:
  description: Facts under the C(npu) and C(hccn) keys.
  returned: always
  type: dict
  contains:
    npu:
      description: As M(npu.cluster.npu_facts) returns it (series, devices, processes, spod,
        versions, healthy, problems, checks).
      type: dict
    hccn:
      description: As M(npu.cluster.hccn_facts) returns it (per-device network values,
        conf, healthy, problems, checks).
      type: dict
"""

import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.npu.cluster.plugins.module_utils import ascend_facts
from ansible_collections.npu.cluster.plugins.module_utils.runner import run_many


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ascend_facts.NPU_SMI_ARGS, **ascend_facts.HCCN_ARGS,
            series=dict(type="str", choices=["auto", "a2", "a3"], default="auto"),
            concurrency=dict(type="int", default=64),
            timeout=dict(type="int", default=60),
            skip_checks=dict(type="list", elements="str", default=[]),
            host_label=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host = p["host_label"] or socket.gethostname()

    def run(argvs):
        return run_many(argvs, p["concurrency"], p["timeout"])

    facts = ascend_facts.gather(
        run, host,
        dict(npu_smi=p["npu_smi"], ascend_root=p["ascend_root"], install_info=p["install_info"],
             series=p["series"], expected_devices=p["expected_devices"],
             allow_processes=p["allow_processes"], skip=p["skip_checks"]),
        dict(hccn_tool=p["hccn_tool"], hccn_conf=p["hccn_conf"],
             devices=p["expected_devices"] or None, skip=p["skip_checks"]))
    module.exit_json(changed=False, ansible_facts=facts)


if __name__ == "__main__":
    main()
