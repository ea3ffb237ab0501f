#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: npu_facts
short_description: Ascend NPU inventory, health, processes, SuperPoD ids and versions
version_added: 0.1.0
description:
  - Runs C(npu-smi info), C(npu-smi info -l), C(npu-smi info -m) concurrently and, on A3,
    C(npu-smi info -t spod-info -i N -c C) for every chip; reads the driver and firmware
    C(version.info), C(/etc/ascend_install.info) and the CANN toolkit install info.
  - Returns C(ansible_facts['npu']) with C(series), C(devices), C(processes), C(spod),
    C(versions), C(healthy) and C(problems).
options:
  series:
    description: C(auto) detects A3 from two chips per NPU.
    type: str
    choices: [auto, a2, a3]
    default: auto
  concurrency:
    description: npu-smi calls run at once.
    type: int
    default: 16
  timeout:
    description: Seconds before one npu-smi call is abandoned.
    type: int
    default: 60
extends_documentation_fragment:
  - npu.cluster.ascend.npu_smi
  - npu.cluster.common
  - npu.cluster.common.checks
  - npu.cluster.common.facts
author:
  - npu-cluster developers (@npu-cluster)
"""

EXAMPLES = r"""
- name: Gather NPU facts
  npu.cluster.npu_facts:
    expected_devices: 16

- name: Show the device count
  ansible.builtin.debug:
    msg: "{{ ansible_facts['npu']['device_count'] }} devices, healthy={{ ansible_facts['npu']['healthy'] }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts under the C(npu) key.
  returned: always
  type: dict
  contains:
    npu:
      description: NPU inventory and verdict.
      type: dict
      contains:
        series:
          description: C(a2) or C(a3).
          type: str
        chip_name:
          description: Chip name from npu-smi (e.g. 910B3, Ascend910).
          type: str
        npu_count:
          description: NPU modules.
          type: int
        device_count:
          description: Logical devices (8 on A2, 16 on A3).
          type: int
        devices:
          description: Per device npu_id, chip_id, phy_id, logic_id, name, health, bus_id,
            hbm_used_mb, hbm_total_mb.
          type: list
          elements: dict
        processes:
          description: npu_id, chip_id, device, pid, name, memory_mb.
          type: list
          elements: dict
        spod:
          description: A3 only; per device sdid, super_pod_id, super_pod_size, server_index.
          type: list
          elements: dict
        versions:
          description: driver, firmware, npu_smi, cann where installed.
          type: dict
        healthy:
          description: True when no check found a problem.
          type: bool
        problems:
          description: Plain-words problems.
          type: list
          elements: str
"""

import os
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.npu.cluster.plugins.module_utils import ascend_facts
from ansible_collections.npu.cluster.plugins.module_utils.runner import run_many


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ascend_facts.NPU_SMI_ARGS,
            series=dict(type="str", choices=["auto", "a2", "a3"], default="auto"),
            concurrency=dict(type="int", default=16),
            timeout=dict(type="int", default=60),
            skip_checks=dict(type="list", elements="str", default=[]),
            host_label=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host = p["host_label"] or socket.gethostname()
    tool = p["npu_smi"]

    def run(argvs):
        return run_many(argvs, p["concurrency"], p["timeout"])

    if not os.access(tool, os.X_OK):
        facts = ascend_facts.npu_missing(tool)
    else:
        facts, jobs = ascend_facts.npu_start(tool, run(ascend_facts.npu_round1(tool)),
                                             p["series"])
        ascend_facts.npu_round2(facts, jobs, run([job[2] for job in jobs]))
    facts = ascend_facts.npu_finish(facts, host, p["ascend_root"], p["install_info"],
                                    p["expected_devices"], p["allow_processes"],
                                    p["skip_checks"])
    module.exit_json(changed=False, ansible_facts={"npu": facts})


if __name__ == "__main__":
    main()
