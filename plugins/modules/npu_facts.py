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
  npu_smi:
    description: Path of npu-smi.
    type: path
    default: /usr/local/bin/npu-smi
  ascend_root:
    description: Ascend install root (driver/, firmware/, ascend-toolkit/).
    type: path
    default: /usr/local/Ascend
  install_info:
    description: Driver install record.
    type: path
    default: /etc/ascend_install.info
  series:
    description: C(auto) detects A3 from two chips per NPU.
    type: str
    choices: [auto, a2, a3]
    default: auto
  expected_devices:
    description: Logical device count the inventory expects (0 = do not check).
    type: int
    default: 0
  allow_processes:
    description: Do not report processes holding NPU memory.
    type: bool
    default: false
  concurrency:
    description: npu-smi calls run at once.
    type: int
    default: 16
  timeout:
    description: Seconds before one npu-smi call is abandoned.
    type: int
    default: 60
extends_documentation_fragment:
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

import glob
import os
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.npu.cluster.plugins.module_utils import fabric, npu_smi
from ansible_collections.npu.cluster.plugins.module_utils.runner import run_many
from ansible_collections.npu.cluster.plugins.module_utils.text import read_file


def main():
    module = AnsibleModule(
        argument_spec=dict(
            npu_smi=dict(type="path", default="/usr/local/bin/npu-smi"),
            ascend_root=dict(type="path", default="/usr/local/Ascend"),
            install_info=dict(type="path", default="/etc/ascend_install.info"),
            series=dict(type="str", choices=["auto", "a2", "a3"], default="auto"),
            expected_devices=dict(type="int", default=0),
            allow_processes=dict(type="bool", default=False),
            concurrency=dict(type="int", default=16),
            timeout=dict(type="int", default=60),
            skip_checks=dict(type="list", elements="str", default=[]),
            host_label=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host = p["host_label"] or socket.gethostname()
    facts = {"series": None, "chip_name": None, "npu_count": 0, "device_count": 0,
             "devices": [], "processes": [], "spod": [], "versions": {}, "errors": [],
             "warnings": []}
    if not os.access(p["npu_smi"], os.X_OK):
        facts["errors"].append("npu-smi not found or not executable at %s" % p["npu_smi"])
    else:
        tool = p["npu_smi"]
        info, listing, mapping = run_many([[tool, "info"], [tool, "info", "-l"],
                                           [tool, "info", "-m"]],
                                          p["concurrency"], p["timeout"])
        table = npu_smi.parse_info(*info)
        lst = npu_smi.parse_list(*listing)
        chips = npu_smi.parse_mapping(*mapping)
        for part in (table, lst, chips):
            if part["error"]:
                facts["errors"].append(part["error"])
        facts["versions"]["npu_smi"] = table["npu_smi_version"]
        facts["warnings"] = table["warnings"]
        by_chip = dict(((c["npu_id"], c["chip_id"]), c) for c in chips["chips"])
        two_dies = any(n["chip_count"] == 2 for n in lst["npus"]) or any(
            d.get("phy_id") is not None for d in table["devices"])
        series = p["series"] if p["series"] != "auto" else ("a3" if two_dies else "a2")
        facts["series"] = series
        for dev in table["devices"]:
            chip = by_chip.get((dev["npu_id"], dev["chip_id"]), {})
            phy = dev.get("phy_id")
            if phy is None:
                phy = chip.get("phy_id", dev["npu_id"])
            facts["devices"].append({
                "npu_id": dev["npu_id"], "chip_id": dev["chip_id"], "phy_id": phy,
                "logic_id": chip.get("logic_id", phy), "name": dev["name"],
                "health": dev["health"], "bus_id": dev["bus_id"],
                "hbm_used_mb": dev["hbm_used_mb"], "hbm_total_mb": dev["hbm_total_mb"]})
        phy_of = dict(((d["npu_id"], d["chip_id"]), d["phy_id"]) for d in facts["devices"])
        for proc in table["processes"]:
            proc["device"] = phy_of.get((proc["npu_id"], proc["chip_id"]))
            facts["processes"].append(proc)
        facts["device_count"] = len(facts["devices"])
        facts["npu_count"] = lst["total"] or len(set(d["npu_id"] for d in facts["devices"]))
        facts["chip_name"] = facts["devices"][0]["name"] if facts["devices"] else None
        extra = []
        if series == "a3":
            extra = [("spod", d, [tool, "info", "-t", "spod-info", "-i", str(d["npu_id"]),
                                  "-c", str(d["chip_id"])]) for d in facts["devices"]]
        extra += [("health", d, [tool, "info", "-t", "health", "-i", str(d["npu_id"]), "-c",
                                 str(d["chip_id"])])
                  for d in facts["devices"] if d["health"] != "OK"]
        results = run_many([job[2] for job in extra], p["concurrency"],
                           p["timeout"])
        for (kind, dev, _argv), res in zip(extra, results):
            if kind == "spod":
                spod = npu_smi.parse_spod_info(*res)
                if spod["error"]:
                    facts["errors"].append("device %s: %s" % (dev["phy_id"], spod["error"]))
                elif spod["supported"]:
                    spod.pop("error")
                    spod.pop("supported")
                    spod["device"] = dev["phy_id"]
                    facts["spod"].append(spod)
            else:
                health = npu_smi.parse_health(*res)
                dev["error_code"] = health.get("error_code")
                dev["error_info"] = health.get("error_info")
    root = p["ascend_root"]
    driver = npu_smi.parse_kv_file(read_file(os.path.join(root, "driver", "version.info")))
    firmware = npu_smi.parse_kv_file(read_file(os.path.join(root, "firmware", "version.info")))
    cann_files = sorted(glob.glob(os.path.join(root, "ascend-toolkit", "latest", "*",
                                               "ascend_toolkit_install.info")))
    cann = npu_smi.parse_kv_file(read_file(cann_files[0])) if cann_files else {}
    install = npu_smi.parse_kv_file(read_file(p["install_info"]))
    facts["versions"].update({"driver": driver.get("Version"),
                              "firmware": firmware.get("Version"),
                              "cann": cann.get("version")})
    facts["driver_install_complete"] = (install.get("Driver_Install_Status") == "complete"
                                        if install else None)
    problems = fabric.npu_problems(host, facts, expected_devices=p["expected_devices"],
                                   allow_processes=p["allow_processes"],
                                   skip=p["skip_checks"])
    facts["checks"] = problems
    facts["problems"] = [x["message"] for x in problems]
    facts["healthy"] = not problems
    module.exit_json(changed=False, ansible_facts={"npu": facts})


if __name__ == "__main__":
    main()
