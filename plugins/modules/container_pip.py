#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: container_pip
short_description: Install pinned Python packages into a running serving container
version_added: 0.1.0
description:
  - Reads the installed version of every package of O(packages) with the container's Python
    (C(docker exec), C(importlib.metadata)) and runs C(python3 -m pip install) in the container
    only for those missing or at another version, so a second run changes nothing.
  - With O(wheel_dir), installs only from that directory (C(--no-index --find-links)), for the
    clusters whose nodes have no package index; the directory is a path inside the container
    (e.g. on a mounted workspace).
  - Supports check mode (reports what would be installed).
options:
  container:
    description: Name of the running container.
    type: str
    required: true
  packages:
    description: Exact pins C(NAME==VERSION) (runbook 004 - C(datasets==3.2.0),
      C(opencv-python==4.10.0.84), C(opencv-python-headless==4.10.0.84), C(triton==3.2.0)).
    type: list
    elements: str
    required: true
  wheel_dir:
    description: Directory of wheels inside the container to install from, without an index.
    type: str
  python:
    description: The container's Python.
    type: str
    default: python3
  docker:
    description: Path of the docker CLI (default found on PATH).
    type: path
extends_documentation_fragment:
  - npu.cluster.common
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
author:
  - npu-cluster developers (@npu-cluster)
"""

EXAMPLES = r"""
- name: The runbook's Python packages, from the workspace's wheel directory
  npu.cluster.container_pip:
    container: test_env
    packages: [datasets==3.2.0, opencv-python==4.10.0.84, opencv-python-headless==4.10.0.84,
               triton==3.2.0]
    wheel_dir: /home/workspace/wheels
"""

RETURN = r"""
installed:
  description: The pins installed (or, in check mode, to install), with the version found before.
  type: list
  elements: dict
  returned: always
  sample: [{"name": "triton", "version": "3.2.0", "installed": null}]
versions:
  description: Version of every pinned package in the container after the run.
  type: dict
  returned: always
"""

import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.npu.cluster.plugins.module_utils import pip_pins

LC = {"LC_ALL": "C", "LANGUAGE": "C"}


def main():
    module = AnsibleModule(argument_spec=dict(
        container=dict(type="str", required=True),
        packages=dict(type="list", elements="str", required=True),
        wheel_dir=dict(type="str"),
        python=dict(type="str", default="python3"),
        docker=dict(type="path"),
        host_label=dict(type="str"),
    ), supports_check_mode=True)
    p = module.params
    host = p["host_label"] or socket.gethostname()
    wanted, problems = pip_pins.pins(p["packages"])
    if problems:
        module.fail_json(msg="%s: packages: %s" % (host, "; ".join(problems)))
    docker = p["docker"] or module.get_bin_path("docker", required=True)
    exec_argv = [docker, "exec", p["container"]]

    def versions():
        rc, out, err = module.run_command(exec_argv + [p["python"], "-c",
                                                       pip_pins.VERSIONS_SCRIPT]
                                          + [name for name, _v in wanted], environ_update=LC)
        found, error = pip_pins.parse_versions(rc, out, err)
        if error:
            module.fail_json(msg="%s: container %s: %s" % (host, p["container"], error))
        return found

    before = versions()
    todo = pip_pins.plan(wanted, before)
    if not todo or module.check_mode:
        module.exit_json(changed=bool(todo), installed=todo, versions=before)
    rc, out, err = module.run_command(exec_argv + pip_pins.pip_argv(p["python"], todo,
                                                                    p["wheel_dir"]),
                                      environ_update=LC)
    if rc != 0:
        module.fail_json(msg=pip_pins.failure_text(host, p["container"], rc, out, err,
                                                   p["wheel_dir"]), installed=[])
    after = versions()
    still = pip_pins.plan(wanted, after)
    if still:
        module.fail_json(msg="%s: after pip install, container %s has %s" % (
            host, p["container"], ", ".join("%s %s (wanted %s)" % (
                s["name"], s["installed"] or "missing", s["version"]) for s in still)))
    module.exit_json(changed=True, installed=todo, versions=after)


if __name__ == "__main__":
    main()
