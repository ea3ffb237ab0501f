#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: process_wait
short_description: Watch the launched processes of one node for up to one round
version_added: 0.1.0
description:
  - Observes every given process of the node -- a foreground process through the pid and
    exit-code files its launch script writes in O(log_dir), a daemon through its launch
    script's C(status) inside the container -- and, where the stage waits until a process is
    ready, its probe (HTTP status, TCP connect, a command in the container, or an
    OpenAI-compatible server's C(/health) (or the probe's C(health) path, such as the example
    PD proxy's C(/healthcheck)), C(/v1/models) and one real completion, or a Ray
    cluster's nodes, addresses and NPU counts read through Ray in the container).
  - Returns within O(round_seconds) with C(state) C(ready), C(waiting) or C(failed), a
    one-line C(progress) and, on failure, the failing process and the last lines of its log.
    The launch role calls it with C(until), so every round prints a progress line and the
    total wait is bounded.
  - Through its action plugin, one node's failure ends the other nodes' waits of the same
    stage (the same O(stage) and O(started_at)) at their next round - a node cannot see
    another node's process die. The failing call leaves a marker in the run's own temporary
    directory on the controller; a call with O(round_seconds) above 0 on another node then
    checks its own processes once, without waiting, and returns C(stopped) unless one of them
    failed too (C(failed)) or the stage is ready.
  - Read-only (a completion is a request to the server, not a change); runs in check mode.
options:
  processes:
    description:
      - This node's processes to watch (from the plan) - C(name), C(role), C(stage), C(probe)
        (the plan's probe or null), C(lifecycle) and C(logs) (files in the container whose
        last lines are returned with the process's own log when it fails, such as Ray's).
    type: list
    elements: dict
    required: true
  stage:
    description: The stage being waited for; processes of earlier stages only have to keep
      running.
    type: int
    default: 0
  stage_wait:
    description: What the stage waits for in its own processes - C(started) (running) or
      C(ready) (running and answering its probe).
    type: str
    choices: [started, ready]
    default: ready
  container:
    description: The serving container (daemon status and C(cmd) probes run in it).
    type: str
  docker:
    description: Path of the docker CLI (default found on PATH).
    type: path
  serving_dir:
    description: Directory of the launch scripts (the same path inside the container).
    type: path
    default: /etc/npu-cluster/serving
  log_dir:
    description: Directory on the node holding each process's pid, exit-code and log files.
    type: path
    default: /var/log/npu-cluster
  round_seconds:
    description: Longest time one call waits for a change before it returns C(waiting).
    type: int
    default: 5
  started_at:
    description: Epoch seconds when the stage was started (for elapsed times in messages).
    type: float
  watch:
    description:
      - On a node that owns no process of the stage, the stage's probes (of type C(http),
        C(tcp) or C(openai)) to watch over the network while this node's own processes --
        all of earlier stages -- keep running. The call returns C(ready) once every watched
        probe answers (an C(openai) probe's C(/health) only), C(failed) when one of this
        node's processes fails. The check of the other nodes then runs while the owners
        wait, not after them.
    type: list
    elements: dict
    default: []
  log_lines:
    description: Lines of the failing process's log returned on failure.
    type: int
    default: 20
  api_key:
    description: API key the OpenAI-compatible probe sends (never logged).
    type: str
  completion_prompt:
    description: Prompt of the completion an C(openai) probe with C(completion) sends.
    type: str
    default: The future of AI is
  completion_max_tokens:
    description: Tokens that completion asks for.
    type: int
    default: 8
extends_documentation_fragment:
  - npu.cluster.common
  - npu.cluster.common.read_only
author:
  - npu-cluster developers (@npu-cluster)
"""

EXAMPLES = r"""
- name: Wait until the head serves (bounded)
  npu.cluster.process_wait:
    container: vllm-ascend
    processes:
      - name: vllm-serve
        role: head
        wait: ready
        lifecycle: {type: foreground}
        probe: {type: openai, url: "http://10.0.0.10:8004", model: deepseek_v3.1, completion: true}
  register: wait
  until: wait.state != 'waiting'
  retries: 180
  delay: 0
"""

RETURN = r"""
state:
  description: C(ready), C(waiting), C(failed), or C(stopped) (another node of the stage failed).
  type: str
  returned: always
stopped_by:
  description: The node whose failure stopped this wait.
  type: str
  returned: when state is stopped
progress:
  description: One line saying what this node is waiting for.
  type: str
  returned: always
problem:
  description: Why this node failed (host, process, value), or null.
  type: str
  returned: always
process:
  description: The failing process (or the one still waiting), or null.
  type: str
  returned: always
log_tail:
  description: Last lines of that process's log (unless ready).
  type: list
  elements: str
  returned: always
exited_at:
  description: Epoch seconds when the failing process exited (its exit-code file), else null.
  type: float
  returned: always
completion:
  description: The completion an C(openai) probe sent (C(text), C(tokens)), or null.
  type: dict
  returned: always
"""

import json
import os
import socket
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible_collections.npu.cluster.plugins.module_utils import ray, serving
from ansible_collections.npu.cluster.plugins.module_utils.text import read_file

LC = {"LC_ALL": "C", "LANGUAGE": "C"}


def _request(url, api_key, data=None):
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if api_key:
        headers["Authorization"] = "Bearer " + api_key
    try:
        res = open_url(url, data=data, headers=headers, timeout=120 if data else 3,
                       validate_certs=False, use_proxy=False,
                       method="POST" if data is not None else "GET")
        return res.getcode(), res.read()
    except HTTPError as exc:
        return exc.code, exc.read()
    except (URLError, OSError, ValueError):
        return None, b""


class Observer(object):
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.docker = None
        self.completion = None

    def in_container(self, argv):
        if not self.p["container"]:
            return 127, "", "no container given"
        if self.docker is None:
            self.docker = self.p["docker"] or self.module.get_bin_path("docker", required=True)
        return self.module.run_command([self.docker, "exec", self.p["container"]] + argv,
                                       environ_update=LC)

    def status(self, proc):
        base = os.path.join(self.p["log_dir"], proc["name"])
        if (proc.get("lifecycle") or {}).get("type") == "daemon":
            rc, out, _err = self.in_container(
                ["/bin/sh", os.path.join(self.p["serving_dir"], proc["name"] + ".sh"), "status"])
            status = out.strip() if rc == 0 else "absent"
        else:
            rc_text = read_file(base + ".rc")
            if rc_text is not None:
                status = "exited %s" % rc_text.strip()
            elif read_file(base + ".pid") is not None:
                status = "running"
            else:
                status = "absent"
        obs = {"status": status}
        if status.startswith("exited"):
            code = status[7:].strip()
            obs["exit_code"] = int(code) if code.lstrip("-").isdigit() else code
            if os.path.exists(base + ".rc"):
                obs["exited_at"] = os.path.getmtime(base + ".rc")
        return obs

    def watch(self, probe):
        """A probe of another node's process, seen from here (no completion, no key)."""
        if probe.get("type") == "openai":
            return {"health": _request(probe["url"] + (probe.get("health") or "/health"), None)}
        return self.probe(probe)

    def probe(self, probe):
        kind = probe.get("type")
        if kind == "http":
            return {"get": _request(probe["url"], None)}
        if kind == "tcp":
            try:
                with socket.create_connection((probe["host"], int(probe["port"])), timeout=2):
                    return {"connect": True}
            except (OSError, ValueError):
                return {"connect": False}
        if kind == "cmd":
            return {"rc": self.in_container(list(probe["argv"]))[0]}
        if kind == "ray":
            rc, out, err = self.in_container(["python3", "-c", ray.NODES_SCRIPT,
                                              probe["address"]])
            return {"rc": rc, "out": out or err}
        if kind == "openai":
            key = self.p["api_key"]
            seen = {"health": _request(probe["url"] + (probe.get("health") or "/health"), key)}
            if seen["health"][0] == 200:
                seen["models"] = _request(probe["url"] + "/v1/models", key)
                if probe.get("completion"):
                    if self.completion is None and seen["models"][0] == 200 and \
                            probe.get("model") in serving.model_ids(seen["models"][1]):
                        body = json.dumps({"model": probe["model"], "temperature": 0,
                                           "prompt": self.p["completion_prompt"],
                                           "max_tokens": self.p["completion_max_tokens"]})
                        self.completion = _request(probe["url"] + "/v1/completions", key,
                                                   data=body.encode("utf-8"))
                    seen["completion"] = self.completion
            return seen
        return {}


def main():
    module = AnsibleModule(argument_spec=dict(
        processes=dict(type="list", elements="dict", required=True),
        stage=dict(type="int", default=0),
        stage_wait=dict(type="str", choices=["started", "ready"], default="ready"),
        container=dict(type="str"),
        docker=dict(type="path"),
        serving_dir=dict(type="path", default="/etc/npu-cluster/serving"),
        log_dir=dict(type="path", default="/var/log/npu-cluster"),
        round_seconds=dict(type="int", default=5),
        started_at=dict(type="float"),
        watch=dict(type="list", elements="dict", default=[]),
        log_lines=dict(type="int", default=20),
        api_key=dict(type="str", no_log=True),
        completion_prompt=dict(type="str", default="The future of AI is"),
        completion_max_tokens=dict(type="int", default=8, no_log=False),
        host_label=dict(type="str"),
    ), supports_check_mode=True)
    p = module.params
    host = p["host_label"] or os.uname()[1]
    observer = Observer(module)
    procs = [dict(proc, wait=p["stage_wait"] if int(proc.get("stage") or 0) == p["stage"]
                  else "started") for proc in p["processes"]]
    deadline = time.time() + max(p["round_seconds"], 0)
    while True:
        elapsed = int(time.time() - p["started_at"]) if p.get("started_at") else 0
        observed = {}
        for proc in procs:
            observed[proc["name"]] = obs = observer.status(proc)
            if obs["status"] == "running" and proc["wait"] == "ready" and proc.get("probe"):
                obs["probe"] = observer.probe(proc["probe"])
        verdict = serving.judge(host, procs, observed, elapsed)
        if p["watch"]:
            verdict = serving.watched(host, verdict, p["watch"],
                                      [observer.watch(w) for w in p["watch"]], elapsed)
        if verdict["state"] != "waiting" or time.time() >= deadline:
            break
        time.sleep(0.5)
    name = verdict.get("process") or (procs[0]["name"] if procs else None)
    log_tail, exited_at = [], None
    if name and verdict["state"] != "ready":
        base = os.path.join(p["log_dir"], name)
        log_tail = serving.log_tail(read_file(base + ".log") or "", p["log_lines"])
        failing = [proc for proc in procs if proc["name"] == name]
        for path in (failing[0].get("logs") or []) if failing else []:
            rc, out, _err = observer.in_container(["tail", "-n", "2000", path])
            rows = ray.log_lines(out, p["log_lines"]) if rc == 0 else []
            if rows:
                log_tail += ["--- %s (in the container)" % path] + rows
        if os.path.exists(base + ".rc"):
            exited_at = os.path.getmtime(base + ".rc")
    completion = None
    if observer.completion and observer.completion[0] == 200:
        try:
            data = json.loads(observer.completion[1])
            completion = {"text": data["choices"][0].get("text", ""),
                          "tokens": (data.get("usage") or {}).get("completion_tokens")}
        except (ValueError, KeyError, IndexError, TypeError):
            completion = None
    module.exit_json(changed=False, state=verdict["state"], progress=verdict["progress"],
                     problem=verdict["problem"],
                     # the process whose log the tail is from (the failing one, or the first
                     # still waiting)
                     process=verdict.get("process") or (name if log_tail else None),
                     log_tail=log_tail, exited_at=exited_at, completion=completion)


if __name__ == "__main__":
    main()
