#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: hccn_ping
short_description: Run a planned set of NPU device pings concurrently
version_added: 0.1.0
description:
  - Runs C(hccn_tool -i D -ping -g address X) (RoCE, A2) or C(hccn_tool -i D -hccs_ping -g
    address X) (A3 vNIC) for every (device, address) in C(pings), all at once, and reports
    transmitted / received / loss and C(ok) per ping plus plain-words C(problems).
  - Read-only; runs fully in check mode.
options:
  hccn_tool:
    description: Path of hccn_tool.
    type: path
    default: /usr/local/Ascend/driver/tools/hccn_tool
  method:
    description: C(roce) uses C(-ping), C(hccs) uses C(-hccs_ping).
    type: str
    choices: [roce, hccs]
    default: roce
  pings:
    description: Pings to run; each has C(device) and C(address), optionally C(peer) and
      C(peer_device) (used in messages).
    type: list
    elements: dict
    required: true
  concurrency:
    description: Pings run at once.
    type: int
    default: 32
  timeout:
    description: Seconds before one ping is abandoned (hccs_ping polls up to 60 s).
    type: int
    default: 90
extends_documentation_fragment:
  - npu.cluster.common
  - npu.cluster.common.read_only
author:
  - npu-cluster developers (@npu-cluster)
"""

EXAMPLES = r"""
- name: Ping device 0 of the next node
  npu.cluster.hccn_ping:
    method: roce
    pings:
      - {device: 0, address: 10.20.0.20, peer: node1, peer_device: 0}
  register: ping
"""

RETURN = r"""
results:
  description: One per ping - device, address, peer, peer_device, transmitted, received,
    loss_pct, ok, error, rc.
  returned: always
  type: list
  elements: dict
ok:
  description: True when every ping received every packet.
  returned: always
  type: bool
problems:
  description: Plain-words problems (host, device, check ping, value).
  returned: always
  type: list
  elements: str
checks:
  description: The same problems as dicts.
  returned: always
  type: list
  elements: dict
"""

import os
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.npu.cluster.plugins.module_utils import fabric, hccn
from ansible_collections.npu.cluster.plugins.module_utils.runner import run_many


def main():
    module = AnsibleModule(
        argument_spec=dict(
            hccn_tool=dict(type="path", default="/usr/local/Ascend/driver/tools/hccn_tool"),
            method=dict(type="str", choices=["roce", "hccs"], default="roce"),
            pings=dict(type="list", elements="dict", required=True),
            concurrency=dict(type="int", default=32),
            timeout=dict(type="int", default=90),
            host_label=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host = p["host_label"] or socket.gethostname()
    for item in p["pings"]:
        if "device" not in item or "address" not in item:
            module.fail_json(msg="every entry of pings needs device and address; got %r" % item)
    results = []
    if p["pings"] and not os.access(p["hccn_tool"], os.X_OK):
        results = [dict(item, transmitted=0, received=0, loss_pct=100.0, ok=False, rc=None,
                        error="hccn_tool not found at %s" % p["hccn_tool"])
                   for item in p["pings"]]
    elif p["pings"]:
        cmd = "-hccs_ping" if p["method"] == "hccs" else "-ping"
        parse = hccn.parse_hccs_ping if p["method"] == "hccs" else hccn.parse_ping
        argvs = [[p["hccn_tool"], "-i", str(item["device"]), cmd, "-g", "address",
                  str(item["address"])] for item in p["pings"]]
        for item, (rc, out, err) in zip(p["pings"], run_many(argvs, p["concurrency"],
                                                             p["timeout"], busy_retries=5)):
            parsed = parse(rc, out, err)
            results.append(dict(item, rc=rc, **parsed))
    problems = fabric.ping_problems(host, results)
    module.exit_json(changed=False, results=results, ok=not problems, checks=problems,
                     problems=[x["message"] for x in problems])


if __name__ == "__main__":
    main()
