# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Driver filters: thin edges over plugins/plugin_utils/versions.py.

driver_packages       packages | driver_packages(stage_dir)        -> {component: path, sha256, version}
version_table         hostvars | version_table(hosts, allow_skew)  -> the cluster's version table
version_table_text    table | version_table_text                    -> printable lines
version_requirements  hostvars | version_requirements(hosts, requires) -> problems
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath

from ansible.errors import AnsibleFilterError
from ansible_collections.npu.cluster.plugins.plugin_utils import versions


def driver_packages(packages, stage_dir):
    """The inventory's packages as the node sees them: a controller file (`src`) is staged
    under `stage_dir`; a `path` is already on the node (shared storage)."""
    out = {}
    for name, pkg in (packages or {}).items():
        if not isinstance(pkg, dict) or bool(pkg.get("src")) == bool(pkg.get("path")):
            raise AnsibleFilterError("package %s needs exactly one of src (a file on the "
                                     "controller) or path (a file on the node)" % name)
        path = pkg.get("path") or posixpath.join(stage_dir, posixpath.basename(pkg["src"]))
        out[name] = {"path": path, "sha256": pkg.get("sha256"), "version": pkg.get("version"),
                     "staged": bool(pkg.get("src"))}
        for key in ("version_file", "version_key"):
            if pkg.get(key):
                out[name][key] = pkg[key]
    return out


def version_table(hostvars, hosts, allow_skew=False):
    return versions.table(hostvars, list(hosts), bool(allow_skew))


def version_table_text(report):
    return versions.text(report)


def version_requirements(hostvars, hosts, requires):
    return versions.requirement_problems(requires, hostvars, list(hosts))


class FilterModule(object):
    def filters(self):
        return {"driver_packages": driver_packages, "version_table": version_table,
                "version_table_text": version_table_text,
                "version_requirements": version_requirements}
