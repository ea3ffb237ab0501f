#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: serve_wait
short_description: Watch one node of a vLLM serving group for up to one round
version_added: 0.1.0
description:
  - Reads the exit-code and log files that the launch script of the vllm_serve role writes
    on the node, and asks the head's C(/health) and C(/v1/models).
  - Returns within O(round_seconds) with C(state) C(ready), C(waiting) or C(failed), a
    one-line C(progress) and, on failure, the last lines of the engine log. The vllm_serve
    role calls it with C(until) so every round prints a progress line and the total wait is
    bounded.
  - Read-only; runs fully in check mode.
options:
  name:
    description: Process name (the files are C(log_dir)/NAME.pid, .rc and .log).
    type: str
    default: vllm-serve
  log_dir:
    description: Directory on the node holding the engine's pid, exit-code and log files.
    type: path
    default: /var/log/npu-cluster
  role:
    description: This node's role in the group (used in messages).
    type: str
    default: head
  health_url:
    description: The head's C(/health) URL (every node asks the head).
    type: str
    required: true
  models_url:
    description: The head's C(/v1/models) URL.
    type: str
    required: true
  served_model_name:
    description: The name C(/v1/models) must list.
    type: str
    required: true
  round_seconds:
    description: Longest time one call waits for a change before it returns C(waiting).
    type: int
    default: 5
  started_at:
    description: Epoch seconds when the group was started (for elapsed times in messages).
    type: float
  log_lines:
    description: Lines of the engine log returned on failure.
    type: int
    default: 20
extends_documentation_fragment:
  - npu.cluster.common
  - npu.cluster.common.read_only
author:
  - npu-cluster developers (@npu-cluster)
"""

EXAMPLES = r"""
- name: Wait until the group is ready (bounded)
  npu.cluster.serve_wait:
    health_url: http://10.0.0.10:8004/health
    models_url: http://10.0.0.10:8004/v1/models
    served_model_name: deepseek_v3.1
  register: wait
  until: wait.state != 'waiting'
  retries: 120
  delay: 0
"""

RETURN = r"""
state:
  description: C(ready), C(waiting) or C(failed).
  type: str
  returned: always
progress:
  description: One line saying what this node is waiting for.
  type: str
  returned: always
problem:
  description: Why this node failed (host, what, value), or null.
  type: str
  returned: always
log_tail:
  description: Last lines of the engine log (unless ready).
  type: list
  elements: str
  returned: always
exit_code:
  description: The engine's exit code once it exited, else null.
  type: int
  returned: always
exited_at:
  description: Epoch seconds when the engine exited (the exit-code file's time), else null.
  type: float
  returned: always
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible_collections.npu.cluster.plugins.module_utils import serving
from ansible_collections.npu.cluster.plugins.module_utils.text import read_file


def _get(url):
    try:
        res = open_url(url, timeout=3, validate_certs=False, use_proxy=False)
        return res.getcode(), res.read()
    except HTTPError as exc:
        return exc.code, exc.read()
    except (URLError, OSError, ValueError):
        return None, ""


def observe(p, host):
    base = os.path.join(p["log_dir"], p["name"])
    rc = read_file(base + ".rc")
    obs = {"host": host, "role": p["role"], "served_name": p["served_model_name"],
           "started": read_file(base + ".pid") is not None,
           "exit_code": int(rc.strip()) if rc and rc.strip().lstrip("-").isdigit() else None,
           "elapsed": time.time() - p["started_at"] if p.get("started_at") else 0}
    if obs["exit_code"] is None:
        obs["health"] = _get(p["health_url"])
        if obs["health"][0] == 200:
            obs["models"] = _get(p["models_url"])
    return obs


def main():
    module = AnsibleModule(argument_spec=dict(
        name=dict(type="str", default="vllm-serve"),
        log_dir=dict(type="path", default="/var/log/npu-cluster"),
        role=dict(type="str", default="head"),
        health_url=dict(type="str", required=True),
        models_url=dict(type="str", required=True),
        served_model_name=dict(type="str", required=True),
        round_seconds=dict(type="int", default=5),
        started_at=dict(type="float"),
        log_lines=dict(type="int", default=20),
        host_label=dict(type="str"),
    ), supports_check_mode=True)
    p = module.params
    host = p["host_label"] or os.uname()[1]
    deadline = time.time() + max(p["round_seconds"], 0)
    while True:
        obs = observe(p, host)
        verdict = serving.classify(obs)
        if verdict["state"] != "waiting" or time.time() >= deadline:
            break
        time.sleep(0.5)
    base = os.path.join(p["log_dir"], p["name"])
    log = read_file(base + ".log") or ""
    module.exit_json(changed=False, state=verdict["state"], progress=verdict["progress"],
                     problem=verdict["problem"],
                     log_tail=serving.log_tail(log, p["log_lines"]) if verdict["state"] != "ready"
                     else [],
                     exit_code=obs["exit_code"],
                     exited_at=os.path.getmtime(base + ".rc") if obs["exit_code"] is not None
                     else None)


if __name__ == "__main__":
    main()
