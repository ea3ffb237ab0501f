#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: launch_scripts
short_description: Write a node's launch scripts, and start, stop and report their processes
version_added: 0.1.0
description:
  - Writes each script of O(scripts) to O(dir)/NAME.sh (atomically, with O(mode)) when its
    content or mode differs, and its secrets (O(secrets)) to O(dir)/NAME.secrets (mode 0600,
    never shown in a diff or returned), then, in the serving container (C(docker exec)),
    runs C(NAME.sh stop) for every name of O(stop) in that order, C(NAME.sh start) for every
    name of O(start) in that order, and C(NAME.sh status) for every script.
  - With O(teardown), finds the scripts npu.cluster wrote in O(dir), stops their processes in
    reverse stage order (the C(# stage) line each script carries) and removes the scripts and
    their secrets; no plan or profile is needed.
  - The launch role calls it once per node and stage, so a node with several processes starts
    them in one round trip.
  - Supports check mode (nothing is written, started or stopped; the state is read from the
    scripts already on the node) and diff mode (the old and new script text).
options:
  dir:
    description: Directory on the node that holds the scripts (created with mode 0755 when
      missing). It must be mounted at the same path inside O(container).
    type: path
    required: true
  scripts:
    description: The scripts to write, each with C(name) (file name without C(.sh)) and
      C(content) (or a process of the plan, whose C(launch_script) is the content).
    type: list
    elements: dict
    default: []
  secrets:
    description: Per script name, the secret environment its process gets (C(NAME=value));
      written to NAME.secrets with mode 0600, which the script sources. A script without an
      entry has its secrets file removed.
    type: dict
    default: {}
  mode:
    description: File mode of the scripts.
    type: str
    default: "0750"
  container:
    description: Container in which the scripts' actions run. Unset, nothing is started,
      stopped or read.
    type: str
  docker:
    description: Path of the docker CLI (default found on the PATH).
    type: path
  start:
    description: Names of processes to start, in this order.
    type: list
    elements: str
    default: []
  stop:
    description: Names of processes to stop, in this order.
    type: list
    elements: str
    default: []
  stop_timeout:
    description: Seconds a stopping process gets after SIGTERM before SIGKILL.
    type: int
    default: 30
  teardown:
    description: Stop every process whose script npu.cluster wrote in O(dir) (reverse stage
      order) and remove the scripts and their secrets.
    type: bool
    default: false
  report:
    description: Only read - find every script npu.cluster wrote in O(dir) and run its
      C(status) in O(container) (stage order); nothing is written, started or stopped.
    type: bool
    default: false
extends_documentation_fragment:
  - npu.cluster.common
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
author:
  - npu-cluster developers (@npu-cluster)
"""

EXAMPLES = r"""
- name: Write this node's launch scripts, start the stage's processes, read every state
  npu.cluster.launch_scripts:
    dir: /etc/npu-cluster/serving
    container: vllm-ascend
    scripts:
      - name: vllm-serve
        content: "{{ plan.hosts[inventory_hostname].processes[0].launch_script }}"
    start: [vllm-serve]

- name: Stop and remove whatever npu.cluster launched here
  npu.cluster.launch_scripts:
    dir: /etc/npu-cluster/serving
    container: vllm-ascend
    teardown: true
"""

RETURN = r"""
scripts:
  description: One per script - name, path, changed (written or would be), state (what
    C(status) printed - running, exited CODE, stopped or absent - or null without a
    container), status_error; with O(report) also its stage.
  type: list
  elements: dict
  returned: always
started:
  description: Per started name, what C(start) printed (C(started), C(running), C(exited N)).
  type: dict
  returned: always
stopped:
  description: Per stopped name, what C(stop) printed (C(stopped), C(killed), C(not running)).
  type: dict
  returned: always
removed:
  description: Files removed by O(teardown).
  type: list
  elements: str
  returned: always
"""

import os
import re
import socket
import tempfile
from shlex import quote

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.npu.cluster.plugins.module_utils.text import read_file

LC = {"LC_ALL": "C", "LANGUAGE": "C"}
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MARK = "# Written by npu.cluster"
STAGE = re.compile(r"^# stage: (\d+)$", re.M)


def write(path, data, mode):
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path),
                               dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def secrets_text(values):
    lines = ["# secrets of one process, written by npu.cluster; mode 0600"]
    for key in sorted(values):
        lines.append("export %s=%s" % (key, quote(str(values[key]))))
    return ("\n".join(lines) + "\n").encode("utf-8")


class Node(object):
    def __init__(self, module, host):
        self.module = module
        self.p = module.params
        self.host = host
        self.docker = None

    def action(self, name, verb, fail=True):
        if self.docker is None:
            self.docker = self.p["docker"] or self.module.get_bin_path("docker", required=True)
        rc, out, err = self.module.run_command(
            [self.docker, "exec", "-e", "STOP_TIMEOUT=%d" % self.p["stop_timeout"],
             self.p["container"], "/bin/sh", os.path.join(self.p["dir"], name + ".sh"), verb],
            environ_update=LC)
        if rc != 0 and fail:
            self.module.fail_json(
                msg="%s: cannot %s %s in container %s (docker exec rc %s: %s); is the container "
                    "running?" % (self.host, verb, name, self.p["container"], rc,
                                  (err or out).strip()))
        return rc, out.strip(), (err or out).strip()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dir=dict(type="path", required=True),
            scripts=dict(type="list", elements="dict", default=[]),
            secrets=dict(type="dict", default={}, no_log=True),
            mode=dict(type="str", default="0750"),
            container=dict(type="str"),
            docker=dict(type="path"),
            start=dict(type="list", elements="str", default=[]),
            stop=dict(type="list", elements="str", default=[]),
            stop_timeout=dict(type="int", default=30),
            teardown=dict(type="bool", default=False),
            report=dict(type="bool", default=False),
            host_label=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host = p["host_label"] or socket.gethostname()
    try:
        mode = int(p["mode"], 8)
    except ValueError:
        module.fail_json(msg="%s: mode %r is not an octal file mode such as 0750" % (
            host, p["mode"]))
    for script in p["scripts"]:
        if script.get("content") is None and isinstance(script.get("launch_script"), str):
            script["content"] = script["launch_script"]   # a process of the plan
        if not NAME.match(str(script.get("name") or "")) or \
                not isinstance(script.get("content"), str):
            module.fail_json(msg="%s: every script needs a plain name (lower-case letters, "
                                 "digits, - and _) and a text content; got %r" % (
                                     host, {"name": script.get("name")}))
    for name in list(p["start"]) + list(p["stop"]) + list(p["secrets"]):
        if not NAME.match(str(name)):
            module.fail_json(msg="%s: %r is not a process name" % (host, name))
    node = Node(module, host)
    changed = False
    found = []
    if (p["teardown"] or p["report"]) and os.path.isdir(p["dir"]):
        for entry in sorted(os.listdir(p["dir"])):
            path = os.path.join(p["dir"], entry)
            if entry.endswith(".sh") and MARK in (read_file(path) or "")[:2000]:
                stage = STAGE.search(read_file(path) or "")
                found.append((int(stage.group(1)) if stage else 0, entry[:-3]))
    if p["report"]:
        results = []
        for stage, name in sorted(found):
            item = {"name": name, "path": os.path.join(p["dir"], name + ".sh"), "stage": stage,
                    "changed": False, "state": None, "status_error": None}
            if p["container"]:
                rc, out, err = node.action(name, "status", fail=False)
                item["state"] = out if rc == 0 else "unknown"
                item["status_error"] = None if rc == 0 else err
            results.append(item)
        module.exit_json(changed=False, scripts=results, started={}, stopped={}, removed=[])
    if p["teardown"]:
        removed, stopped = [], {}
        for _stage, name in sorted(found, reverse=True):
            if p["container"] and not module.check_mode:
                rc, out, _err = node.action(name, "stop", fail=False)
                stopped[name] = out if rc == 0 else "container gone"
                changed = changed or out in ("stopped", "killed")
            for suffix in (".sh", ".secrets"):
                path = os.path.join(p["dir"], name + suffix)
                if os.path.exists(path):
                    removed.append(path)
                    changed = True
                    if not module.check_mode:
                        os.unlink(path)
        module.exit_json(changed=changed, scripts=[], started={}, stopped=stopped,
                         removed=removed)
    if not os.path.isdir(p["dir"]):
        changed = True
        if not module.check_mode:
            os.makedirs(p["dir"], 0o755)
    results, diffs = [], []
    for script in p["scripts"]:
        path = os.path.join(p["dir"], script["name"] + ".sh")
        data = script["content"].encode("utf-8")
        old = read_file(path, binary=True)
        stale = old != data or (os.stat(path).st_mode & 0o7777) != mode
        secret_path = os.path.join(p["dir"], script["name"] + ".secrets")
        values = p["secrets"].get(script["name"]) or {}
        secret_data = secrets_text(values) if values else None
        secret_old = read_file(secret_path, binary=True)
        secret_stale = secret_old != secret_data or (
            secret_data is not None and (os.stat(secret_path).st_mode & 0o7777) != 0o600)
        if stale:
            changed = True
            diffs.append({"before_header": path, "after_header": path,
                          "before": (old or b"").decode("utf-8", "replace"),
                          "after": script["content"]})
            if not module.check_mode:
                write(path, data, mode)
        if secret_stale:
            changed = True
            diffs.append({"before_header": secret_path, "after_header": secret_path,
                          "before": "(secrets not shown)\n" if secret_old else "",
                          "after": "(secrets not shown)\n" if secret_data else ""})
            if not module.check_mode:
                if secret_data is None:
                    os.unlink(secret_path)
                else:
                    write(secret_path, secret_data, 0o600)
        results.append({"name": script["name"], "path": path, "changed": stale or secret_stale,
                        "state": None, "status_error": None})
    started, stopped = {}, {}
    if p["container"] and not module.check_mode:
        for name in p["stop"]:
            stopped[name] = node.action(name, "stop")[1]
            changed = changed or stopped[name] in ("stopped", "killed")
        for name in p["start"]:
            started[name] = node.action(name, "start")[1]
            changed = changed or started[name] == "started"
    if p["container"]:
        for item in results:
            if not os.path.exists(item["path"]):  # check mode, never written
                item["state"] = "absent"
                continue
            rc, out, err = node.action(item["name"], "status", fail=not module.check_mode)
            if rc == 0:
                item["state"] = out
            else:
                item["status_error"] = err
                item["state"] = "unknown"
    module.exit_json(changed=changed, scripts=results, started=started, stopped=stopped,
                     removed=[], diff=diffs if module._diff else None)


if __name__ == "__main__":
    main()
