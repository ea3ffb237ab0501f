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
  hccn_tool:
    description: Path of hccn_tool.
    type: path
    default: /usr/local/Ascend/driver/tools/hccn_tool
  hccn_conf:
    description: Path of the NPU network configuration file.
    type: path
    default: /etc/hccn.conf
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
from ansible_collections.npu.cluster.plugins.module_utils import fabric, hccn
from ansible_collections.npu.cluster.plugins.module_utils.runner import run_many

QUERIES = [("link", hccn.parse_link), ("net_health", hccn.parse_net_health),
           ("lldp", hccn.parse_lldp), ("netdetect", hccn.parse_netdetect),
           ("gateway", hccn.parse_gateway), ("ip", hccn.parse_ip), ("tls", hccn.parse_tls)]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            hccn_tool=dict(type="path", default="/usr/local/Ascend/driver/tools/hccn_tool"),
            hccn_conf=dict(type="path", default="/etc/hccn.conf"),
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
    queries = QUERIES + ([("vnic", hccn.parse_vnic)] if series == "a3" else [])
    facts = {"series": series, "device_count": count, "devices": [], "conf": {},
             "tool": p["hccn_tool"]}
    problems = []
    if not os.access(p["hccn_tool"], os.X_OK):
        problems.append(fabric.problem(host, None, "tool_output", p["hccn_tool"],
                                       "hccn_tool not found or not executable at %s; install "
                                       "the Ascend driver or set hccn_tool" % p["hccn_tool"]))
    else:
        jobs = [(d, name, parser) for d in range(count) for name, parser in queries]
        argvs = [[p["hccn_tool"], "-i", str(d), "-" + name, "-g"] for d, name, _parse in jobs]
        results = run_many(argvs, p["concurrency"], p["timeout"])
        devices = {d: {"id": d, "errors": {}} for d in range(count)}
        for (d, name, parser), (rc, out, err) in zip(jobs, results):
            parsed = parser(rc, out, err)
            error = parsed.pop("error", None)
            devices[d]["errors"][name] = error
            devices[d].update(parsed)
        facts["devices"] = [devices[d] for d in range(count)]
        try:
            with open(p["hccn_conf"]) as fh:
                facts["conf"] = hccn.parse_hccn_conf(fh.read())
        except (IOError, OSError) as exc:
            problems.append(fabric.problem(host, None, "hccn_conf", p["hccn_conf"],
                                           "cannot read %s: %s" % (p["hccn_conf"], exc)))
        sdids = dict((int(k), int(v)) for k, v in p["sdids"].items())
        problems += fabric.hccn_problems(host, series, facts["devices"], facts["conf"],
                                         sdids=sdids)
        for dev in facts["devices"]:
            dev["errors"] = dict((k, v) for k, v in dev["errors"].items() if v)
    problems = fabric.keep(problems, p["skip_checks"])
    facts["checks"] = problems
    facts["problems"] = [x["message"] for x in problems]
    facts["healthy"] = not problems
    # Keep the conf keys JSON-friendly (string device ids).
    facts["conf"] = dict((str(k), v) for k, v in facts["conf"].items())
    module.exit_json(changed=False, ansible_facts={"hccn": facts})


if __name__ == "__main__":
    main()
