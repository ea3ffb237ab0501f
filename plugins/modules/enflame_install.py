#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: enflame_install
short_description: Install Enflame's TopsPlatform driver package by version
version_added: 0.2.0
description:
  - Reads the installed driver version (C(/sys/module/enflame/version), else the C(efsmi)
    header's Driver Ver) and does nothing when it is the wanted one.
  - Otherwise checks the package's sha256, unloads C(enflame-peer-mem) and C(enflame) (runbook
    004's C(rmmod) sequence), runs the package with the runbook's options and checks that
    C(efsmi) answers with the new version.
  - A module that is in use fails the node before anything is installed, naming every process
    that holds a C(/dev/gcuN).
options:
  package:
    description:
      - The package - C(path) (the .run file on the node), C(sha256), C(version) (default the
        version in the file name).
      - Empty with O(state=present) - only read the installed version.
    type: dict
    default: {}
  state:
    description: C(present) installs; C(absent) runs the package's C(--uninstall).
    type: str
    choices: [present, absent]
    default: present
  force:
    description: Reinstall when the version is already installed.
    type: bool
    default: false
  options:
    description: The installer's options (runbook 004 - C(--no-auto-load --peermem -y)).
    type: list
    elements: str
    default: [--no-auto-load, --peermem, -y]
  efsmi:
    description: Path of efsmi.
    type: path
    default: /usr/local/bin/efsmi
  rmmod:
    description: The rmmod command.
    type: str
    default: rmmod
  module_version_file:
    description: The loaded driver module's version file.
    type: path
    default: /sys/module/enflame/version
  timeout:
    description: Seconds the installer may run.
    type: int
    default: 3600
extends_documentation_fragment:
  - npu.cluster.common
attributes:
  check_mode:
    description: Reports whether the package would run and changes nothing.
    support: full
  diff_mode:
    description: Will return details on what has changed.
    support: none
author:
  - npu-cluster developers (@npu-cluster)
"""

EXAMPLES = r"""
- name: TopsPlatform from shared storage
  npu.cluster.enflame_install:
    package:
      path: /data/TopsPlatform_1.4.4.501_deb_amd64.run
      sha256: 5d1e...
"""

RETURN = r"""
action:
  description: install, upgrade, reinstall, uninstall or none.
  returned: always
  type: str
before:
  description: The installed version before (null when none) and where it was read.
  returned: always
  type: dict
after:
  description: The installed version after the run (efsmi's header).
  returned: always
  type: dict
unloaded:
  description: Kernel modules unloaded before the install.
  returned: always
  type: list
  elements: str
holders:
  description: Processes holding a GCU when a module would not unload (pid, command, device).
  returned: on failure
  type: list
  elements: dict
stdout_lines:
  description: The installer's last output lines.
  returned: when it ran
  type: list
  elements: str
"""

import os
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.npu.cluster.plugins.module_utils import enflame_install as ei
from ansible_collections.npu.cluster.plugins.module_utils.runner import run_many
from ansible_collections.npu.cluster.plugins.module_utils.text import read_file as read
from ansible_collections.npu.cluster.plugins.module_utils.text import sha256_file


def main():
    module = AnsibleModule(
        argument_spec=dict(
            package=dict(type="dict", default={}),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            force=dict(type="bool", default=False),
            options=dict(type="list", elements="str", default=["--no-auto-load", "--peermem", "-y"]),
            efsmi=dict(type="path", default="/usr/local/bin/efsmi"),
            rmmod=dict(type="str", default="rmmod"),
            module_version_file=dict(type="path", default="/sys/module/enflame/version"),
            timeout=dict(type="int", default=3600),
            host_label=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host = p["host_label"] or socket.gethostname()
    pkg = p["package"] or {}
    path = pkg.get("path")
    want = str(pkg.get("version") or (ei.version_from_name(path) if path else "") or "")

    def run(argv, timeout=120):
        return run_many([argv], 1, timeout)[0]

    def current():
        rc = out = err = None
        if os.access(p["efsmi"], os.X_OK):
            rc, out, err = run([p["efsmi"]])
        version, source = ei.installed_version(read(p["module_version_file"]), rc, out, err)
        return {"version": version, "source": source}

    before = current()
    result = dict(changed=False, before=before, after=before, unloaded=[], action="none")
    if p["state"] == "absent":
        if not before["version"]:
            module.exit_json(**result)
        action = "uninstall"
    elif not pkg:
        module.exit_json(**result)
    elif not path:
        module.fail_json(msg="%s: package needs a path (the TopsPlatform .run file on the node)"
                         % host, **result)
    elif not want:
        module.fail_json(msg="%s: no version given for %s and none in its file name" % (
            host, path), **result)
    elif before["version"] == want and not p["force"]:
        module.exit_json(**result)
    else:
        action = "reinstall" if before["version"] == want else (
            "upgrade" if before["version"] else "install")
    result.update(action=action, changed=True)
    if action != "uninstall":
        if not os.path.exists(path):
            module.fail_json(msg="%s: %s does not exist on this node; nothing was installed" % (
                host, path), **result)
        have = sha256_file(path)
        if have != str(pkg.get("sha256") or "").lower():
            module.fail_json(msg="%s: %s has sha256 %s, the inventory says %s (a corrupt or wrong "
                                 "file); nothing was installed" % (host, path, have,
                                                                   pkg.get("sha256")), **result)
    if module.check_mode:
        module.exit_json(**result)
    procs = ei.holders(read=read)
    if procs:
        module.fail_json(msg=ei.busy_message(host, "enflame", procs, ""), holders=procs,
                         **result)
    for name in ei.MODULES:
        rc, _out, err = run([p["rmmod"], name])
        verdict = ei.unload_result(name, rc, err)
        if verdict == "unloaded":
            result["unloaded"].append(name)
        elif verdict == "busy":
            procs = ei.holders(read=read)
            module.fail_json(msg=ei.busy_message(host, name, procs, err), holders=procs,
                             **result)
        elif verdict == "error":
            module.fail_json(msg="%s: rmmod %s failed (exit %s): %s" % (
                host, name, rc, err.strip()), **result)
    argv = ei.installer_argv(path, ["--uninstall", "-y"] if action == "uninstall"
                             else p["options"])
    rc, out, err = run(argv, p["timeout"])
    result["stdout_lines"] = ei.tail(out + "\n" + err, 40)
    if rc != 0:
        module.fail_json(msg="%s: TopsPlatform %s of %s failed (exit %s): %s" % (
            host, action, path, rc, (ei.tail(out + "\n" + err, 1) or ["no output"])[0]),
            **result)
    result["after"] = current()
    if action != "uninstall" and result["after"]["version"] != want:
        module.fail_json(msg="%s: after the TopsPlatform install efsmi reports driver %s, not %s; "
                             "check the installer output (stdout_lines) and `efsmi`" % (
                                 host, result["after"]["version"], want), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
