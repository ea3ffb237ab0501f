#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: launch_scripts
short_description: Install a node's launch scripts and report the state of their processes
version_added: 0.1.0
description:
  - Writes each script of C(scripts) to C(dir)/NAME.sh (atomically, with C(mode)) when its
    content or mode differs, then, when C(container) is set, runs C(NAME.sh status) inside
    that container (C(docker exec)) and returns what it printed (C(running),
    C(exited CODE) or C(absent)).
  - The vllm_serve role renders the scripts from its template on the controller and calls
    this module once per node, instead of a template task and an exec per process (one round
    trip per node).
  - Supports check mode (nothing is written; the state is read from the scripts already on
    the node) and diff mode (the old and new script text).
options:
  dir:
    description: Directory on the node that holds the scripts (created with mode 0755 when
      missing). It must be mounted at the same path inside C(container).
    type: path
    required: true
  scripts:
    description: The scripts, each with C(name) (file name without C(.sh)) and C(content).
    type: list
    elements: dict
    required: true
  mode:
    description: File mode of the scripts.
    type: str
    default: "0750"
  container:
    description: Container in which each script's C(status) action is run. Unset, no state is
      read.
    type: str
  docker:
    description: Path of the docker CLI (default found on the PATH).
    type: path
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
- name: Install the launch script of this node's engine and read its state
  npu.cluster.launch_scripts:
    dir: /etc/npu-cluster/serving
    container: vllm-ascend
    scripts:
      - name: vllm-serve
        content: "{{ lookup('ansible.builtin.template', 'launch.sh.j2') }}"
  register: launch
"""

RETURN = r"""
scripts:
  description: One per script - name, path, changed (written or would be), state (what
    C(status) printed, or null when no container was given), status_error.
  type: list
  elements: dict
  returned: always
"""

import os
import socket
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.npu.cluster.plugins.module_utils.text import read_file

LC = {"LC_ALL": "C", "LANGUAGE": "C"}


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


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dir=dict(type="path", required=True),
            scripts=dict(type="list", elements="dict", required=True),
            mode=dict(type="str", default="0750"),
            container=dict(type="str"),
            docker=dict(type="path"),
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
    names = []
    for script in p["scripts"]:
        name = script.get("name")
        if (not name or "/" in name or name.startswith(".")
                or not isinstance(script.get("content"), str)):
            module.fail_json(msg="%s: every script needs a plain file name and a text content; "
                                 "got %r" % (host, dict(script, content="...")))
        names.append(name)
    changed = False
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
        if stale:
            changed = True
            diffs.append({"before_header": path, "after_header": path,
                          "before": (old or b"").decode("utf-8", "replace"),
                          "after": script["content"]})
            if not module.check_mode:
                write(path, data, mode)
        results.append({"name": script["name"], "path": path, "changed": stale, "state": None,
                        "status_error": None})
    if p["container"]:
        docker = p["docker"] or module.get_bin_path("docker", required=True)
        for item in results:
            if not os.path.exists(item["path"]):  # check mode, never written
                item["state"] = "absent"
                continue
            rc, out, err = module.run_command(
                [docker, "exec", p["container"], "/bin/sh", item["path"], "status"],
                environ_update=LC)
            if rc == 0:
                item["state"] = out.strip()
                continue
            item["status_error"] = (err or out).strip()
            if not module.check_mode:
                module.fail_json(
                    msg="%s: cannot read the state of %s in container %s (docker exec rc %s: "
                        "%s); is the container running?" % (
                            host, item["name"], p["container"], rc, item["status_error"]),
                    scripts=results, changed=changed)
            item["state"] = "unknown"
    module.exit_json(changed=changed, scripts=results,
                     diff=diffs if module._diff else None)


if __name__ == "__main__":
    main()
