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
  - A pair that lost any packet is pinged again in a confirm round (C(confirm_count) packets,
    C(confirm_concurrency) at a time); it fails only when the confirm round loses more than
    C(max_loss_pct), and is otherwise listed in C(recovered). A down link or an unreachable
    address loses everything again and fails.
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
  count:
    description: Packets per ping in the first round, for C(-hccs_ping) (its C(cnt); 0 leaves
      the tool's default of 3). RoCE C(-ping) always sends 3.
    type: int
    default: 0
  confirm_count:
    description:
      - Packets sent again to every pair that lost any packet in the first round, in a
        confirm round run after it (C(cnt) of C(-hccs_ping); RoCE C(-ping) sends 3 per call,
        so it is called until at least this many went out). Only the confirm round's loss is
        judged. 0 turns the confirm round off (any first-round loss fails).
    type: int
    default: 20
  confirm_concurrency:
    description: Pings of the confirm round run at once (few, so that a crowd of pings on a
      busy node does not lose packets again).
    type: int
    default: 4
  max_loss_pct:
    description: Loss (percent of the confirm round's packets) a pair may show and still
      pass; it is then reported as recovered.
    type: float
    default: 5.0
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
    loss_pct, ok, error, rc (first round), first_round, recovered, and when it was confirmed
    confirm (transmitted, received, loss_pct, error) and max_loss_pct.
  returned: always
  type: list
  elements: dict
recovered:
  description: Plain-words lines for the pairs that lost packets in the first round and passed
    the confirm round (not failures).
  returned: always
  type: list
  elements: str
ok:
  description: True when every ping passed (first round, or the confirm round within
    max_loss_pct).
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
            hccn_tool=dict(type="path", default=hccn.HCCN_TOOL),
            method=dict(type="str", choices=["roce", "hccs"], default="roce"),
            pings=dict(type="list", elements="dict", required=True),
            concurrency=dict(type="int", default=32),
            timeout=dict(type="int", default=90),
            count=dict(type="int", default=0),
            confirm_count=dict(type="int", default=20),
            confirm_concurrency=dict(type="int", default=4),
            max_loss_pct=dict(type="float", default=5.0),
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
                        recovered=False, error="hccn_tool not found at %s" % p["hccn_tool"])
                   for item in p["pings"]]
    elif p["pings"]:
        method, tool = p["method"], p["hccn_tool"]
        parse = hccn.parse_hccs_ping if method == "hccs" else hccn.parse_ping
        first = run_many([fabric.ping_argv(tool, method, item, p["count"] or None)
                          for item in p["pings"]],
                         p["concurrency"], p["timeout"], busy_retries=5)
        for item, (rc, out, err) in zip(p["pings"], first):
            results.append(dict(item, rc=rc, **parse(rc, out, err)))
        failed = [i for i, res in enumerate(results) if not res["ok"]]
        confirms = {}
        if failed and p["confirm_count"] > 0:
            calls, count = fabric.confirm_calls(method, p["confirm_count"])
            jobs = [i for i in failed for _call in range(calls)]
            again = run_many([fabric.ping_argv(tool, method, p["pings"][i], count)
                              for i in jobs], p["confirm_concurrency"], p["timeout"],
                             busy_retries=5)
            for i, res in zip(jobs, again):
                confirms.setdefault(i, []).append(parse(*res))
        results = [fabric.merge_ping(res, confirms.get(i), p["max_loss_pct"])
                   for i, res in enumerate(results)]
    problems = fabric.ping_problems(host, results)
    module.exit_json(changed=False, results=results, ok=not problems, checks=problems,
                     problems=[x["message"] for x in problems],
                     recovered=fabric.ping_notes(host, results))


if __name__ == "__main__":
    main()
