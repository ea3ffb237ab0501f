#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ascend_install
short_description: Install, upgrade or remove the Ascend driver, firmware and CANN by version
version_added: 0.2.0
description:
  - Reads the installed versions from the version files (C(driver/version.info), firmware
    C(version.info), the CANN install records) and runs only the packages whose version is not
    already there, in the vendor's order - a first install driver then firmware, an upgrade
    firmware then driver, CANN (toolkit, kernels, nnal) after both; uninstall CANN first.
  - Checks every package's sha256 before anything runs as root; a mismatch changes nothing and
    names the file and both digests.
  - Always passes C(--quiet) (the installers otherwise prompt and wait on stdin) and stops at
    the first failing package with the installer's own error line and the tail of
    C(/var/log/ascend_seclog/ascend_install.log).
  - Exit code 2 of the driver installer with "reboot needed", and the firmware's "Reboot now",
    come back as C(reboot_required); this module never reboots.
options:
  packages:
    description:
      - The packages by component (C(driver), C(firmware), C(toolkit), C(kernels), C(nnal)),
        each a dict with C(path) (the .run file on the node), C(sha256) (required to install)
        and C(version) (default the version in the file name).
      - C(staged=true) marks a file the caller copies to the node first; in check mode it may
        not be there yet.
      - C(version_file) and C(version_key) read a component's installed version from another
        record than the CANN 8 default (for example CANN 9's C(cann-<version>) layout).
    type: dict
    required: true
  state:
    description: C(present) installs or upgrades to the given versions; C(absent) uninstalls.
    type: str
    choices: [present, absent]
    default: present
  force:
    description: Reinstall packages whose version is already installed.
    type: bool
    default: false
  install_path:
    description: The installers' C(--install-path).
    type: path
    default: /usr/local/Ascend
  install_user:
    description:
      - C(--install-username) and C(--install-usergroup) for a first install (the installers'
        default is HwHiAiUser); an installed system keeps its owner (the installer refuses to
        change it, error 0x0095).
    type: str
  install_group:
    description: The group for O(install_user).
    type: str
  install_for_all:
    description: Pass C(--install-for-all) on a first install.
    type: bool
    default: false
  arch:
    description: The CANN record directory's architecture (default this machine's).
    type: str
  timeout:
    description: Seconds one installer may run before it is stopped.
    type: int
    default: 3600
  install_info:
    description: The driver's install record.
    type: path
    default: /etc/ascend_install.info
  npu_smi:
    description:
      - npu-smi, asked which driver is running; an installed driver that is not the running one
        (an earlier run installed it and the node was not rebooted) sets C(reboot_required).
    type: path
    default: /usr/local/bin/npu-smi
extends_documentation_fragment:
  - npu.cluster.common
attributes:
  check_mode:
    description: Reports what would be installed, upgraded or removed and changes nothing.
    support: full
  diff_mode:
    description: Will return details on what has changed.
    support: none
author:
  - npu-cluster developers (@npu-cluster)
"""

EXAMPLES = r"""
- name: Driver, firmware and CANN from shared storage
  npu.cluster.ascend_install:
    packages:
      driver:
        path: /mnt/share/Ascend-hdk-910b-npu-driver_25.3.rc1_linux-aarch64.run
        sha256: 0f3c...
      firmware:
        path: /mnt/share/Ascend-hdk-910b-npu-firmware_7.7.0.6.236.run
        sha256: 9ab1...
  register: installed

- name: Reboot when a package asked for it
  ansible.builtin.reboot:
  when: installed.reboot_required
"""

RETURN = r"""
steps:
  description: Per package, in the order run - component, action (install, upgrade,
    reinstall, uninstall, none), from, to, path, argv, rc, reboot_required, message and the
    installer's last output lines.
  returned: always
  type: list
  elements: dict
reboot_required:
  description: A package that ran asked for a reboot.
  returned: always
  type: bool
before:
  description: Installed versions before (driver, firmware, toolkit, kernels, nnal,
    install_user, install_group, driver_complete).
  returned: always
  type: dict
after:
  description: Installed versions after the run (the same as before in check mode).
  returned: always
  type: dict
running:
  description: The driver npu-smi reports as running (C(driver)) or why it could not say
    (C(error)); null when no driver is installed.
  returned: always
  type: dict
log_tail:
  description: The last lines of the installers' log, when a package failed.
  returned: on failure
  type: list
  elements: str
"""

import os
import platform
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.npu.cluster.plugins.module_utils import ascend_install as ai
from ansible_collections.npu.cluster.plugins.module_utils.runner import run_many
from ansible_collections.npu.cluster.plugins.module_utils.text import read_file as read
from ansible_collections.npu.cluster.plugins.module_utils.text import sha256_file


def main():
    module = AnsibleModule(
        argument_spec=dict(
            packages=dict(type="dict", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            force=dict(type="bool", default=False),
            install_path=dict(type="path", default="/usr/local/Ascend"),
            install_user=dict(type="str"),
            install_group=dict(type="str"),
            install_for_all=dict(type="bool", default=False),
            arch=dict(type="str"),
            timeout=dict(type="int", default=3600),
            install_info=dict(type="path", default="/etc/ascend_install.info"),
            npu_smi=dict(type="path", default="/usr/local/bin/npu-smi"),
            host_label=dict(type="str"),
        ),
        required_together=[["install_user", "install_group"]],
        supports_check_mode=True,
    )
    p = module.params
    host = p["host_label"] or socket.gethostname()
    arch = p["arch"] or platform.machine()
    problems = ai.check_packages(p["packages"], p["state"])
    if problems:
        module.fail_json(msg="%s: %s" % (host, "; ".join(problems)))
    packages = ai.normalise(p["packages"])
    before = ai.installed(read, p["install_path"], arch, p["install_info"], packages)
    steps = ai.plan(packages, before, p["force"], p["state"])
    bad = ai.verify_files(steps, packages, os.path.exists, sha256_file, module.check_mode)
    if bad:
        module.fail_json(msg="%s: %s; nothing was installed" % (host, "; ".join(bad)),
                         steps=steps, before=before, after=before, reboot_required=False)
    owner = ai.owner_problem(steps, before, p["install_user"], p["install_group"])
    if owner:
        module.fail_json(msg="%s: %s" % (host, owner), steps=steps, before=before,
                         after=before, reboot_required=False)

    def run(argv):
        return run_many([argv], 1, p["timeout"])[0]

    res = ai.apply(steps, run, os.path.exists, p["install_path"], p["install_user"],
                   p["install_group"], p["install_for_all"], module.check_mode)
    after = before if module.check_mode else ai.installed(read, p["install_path"], arch,
                                                          p["install_info"], packages)
    out = dict(changed=res["changed"], steps=res["results"], before=before, after=after,
               reboot_required=res["reboot_required"], running=None)
    if after.get("driver") and not res["failed"] and os.access(p["npu_smi"], os.X_OK):
        rc, smi_out, smi_err = run_many([[p["npu_smi"], "info"]], 1, 120)[0]
        out["running"] = ai.running_driver(rc, smi_out, smi_err)
        if ai.pending_reboot(after, out["running"], module.check_mode, res["changed"]):
            out["reboot_required"] = True
    if res["failed"]:
        out["log_tail"] = ai.tail(read(ai.INSTALL_LOG), 20)
        module.fail_json(msg="%s: %s" % (host, res["message"]), **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
