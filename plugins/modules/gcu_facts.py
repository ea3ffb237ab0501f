#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gcu_facts
short_description: Enflame GCU inventory and health from efsmi
version_added: 0.1.0
description:
  - Runs C(efsmi) (device list, versions) and C(efsmi -q) (per-device health) concurrently.
  - Returns C(ansible_facts['gcu']) with C(device_count), C(devices), C(versions),
    C(healthy) and C(problems).
options:
  efsmi:
    description: Path of efsmi.
    type: path
    default: /usr/local/bin/efsmi
  expected_devices:
    description: GCU count the inventory expects (0 = do not check).
    type: int
    default: 0
  timeout:
    description: Seconds before one efsmi call is abandoned.
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
- name: Gather GCU facts
  npu.cluster.gcu_facts:
    expected_devices: 8
"""

RETURN = r"""
ansible_facts:
  description: Facts under the C(gcu) key.
  returned: always
  type: dict
  contains:
    gcu:
      description: device_count, devices (index, name, bus_id, healthy), versions (efsmi,
        driver), healthy, problems, checks.
      type: dict
"""

import os
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.npu.cluster.plugins.module_utils import enflame, fabric
from ansible_collections.npu.cluster.plugins.module_utils.runner import run_many


def main():
    module = AnsibleModule(
        argument_spec=dict(
            efsmi=dict(type="path", default="/usr/local/bin/efsmi"),
            expected_devices=dict(type="int", default=0),
            timeout=dict(type="int", default=60),
            skip_checks=dict(type="list", elements="str", default=[]),
            host_label=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host = p["host_label"] or socket.gethostname()
    facts = {"device_count": 0, "devices": [], "versions": {}, "errors": []}
    problems = []
    if not os.access(p["efsmi"], os.X_OK):
        problems.append(fabric.problem(host, None, "tool_output", p["efsmi"],
                                       "efsmi not found or not executable at %s" % p["efsmi"]))
    else:
        view, query = run_many([[p["efsmi"]], [p["efsmi"], "-q"]], 2, p["timeout"])
        listing = enflame.parse_efsmi(*view)
        health = enflame.parse_efsmi_query(*query)
        for part in (listing, health):
            if part["error"]:
                problems.append(fabric.problem(host, None, "tool_output", "efsmi",
                                               part["error"]))
        healthy = dict((d["index"], d) for d in health["devices"])
        for dev in listing["devices"]:
            h = healthy.get(dev["index"], {})
            dev["healthy"] = h.get("healthy")
            facts["devices"].append(dev)
            if h and not h.get("healthy"):
                problems.append(fabric.problem(host, dev["index"], "gcu_health",
                                               h.get("health_raw"),
                                               "efsmi -q reports the GCU unhealthy"))
        facts["device_count"] = len(facts["devices"])
        facts["versions"] = {"efsmi": listing["efsmi_version"],
                             "driver": listing["driver_version"]}
        if p["expected_devices"] and facts["device_count"] != p["expected_devices"]:
            problems.append(fabric.problem(host, None, "device_count", facts["device_count"],
                                           "%d GCUs found, the inventory expects %d" % (
                                               facts["device_count"], p["expected_devices"])))
    problems = fabric.keep(problems, p["skip_checks"])
    facts["checks"] = problems
    facts["problems"] = [x["message"] for x in problems]
    facts["healthy"] = not problems
    module.exit_json(changed=False, ansible_facts={"gcu": facts})


if __name__ == "__main__":
    main()
