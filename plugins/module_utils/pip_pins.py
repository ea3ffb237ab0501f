# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Pinned Python packages in a serving container (node side, pure apart from VERSIONS_SCRIPT).

The container_pip module runs VERSIONS_SCRIPT with the container's python3 to read the
installed version of every pinned distribution (importlib.metadata, no pip needed for that),
then `pins` and `plan` decide what `python3 -m pip install` must do, and `pip_argv` builds it:
from the index, or only from a local wheel directory (`--no-index --find-links DIR`, for the
clusters that have no index -- runbook 004's packages are installed this way on many of them).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.npu.cluster.plugins.module_utils.text import to_text

# `python3 -c VERSIONS_SCRIPT NAME...` prints {"NAME": "version" or null, ...}
VERSIONS_SCRIPT = r'''
import json, sys
try:
    from importlib import metadata
except ImportError:
    import importlib_metadata as metadata
out = {}
for name in sys.argv[1:]:
    try:
        out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        out[name] = None
print(json.dumps(out))
'''

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9][A-Za-z0-9.+!_-]*)$")


def canonical(name):
    """PEP 503 normalised name (opencv_python and opencv-python are one distribution)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(specs):
    """["name==version", ...] -> ([(name, version)], [problems]); only exact pins: a range
    would make every run ask the index what is newest."""
    out, problems = [], []
    for spec in specs:
        m = _PIN.match(str(spec).strip())
        if not m:
            problems.append("%r is not an exact pin NAME==VERSION (a range or an unpinned "
                            "package would change from run to run)" % (spec,))
            continue
        out.append((m.group(1), m.group(2)))
    return out, problems


def parse_versions(rc, out, err=""):
    """VERSIONS_SCRIPT's output -> ({name: version or None}, error or None)."""
    try:
        data = json.loads(to_text(out).strip().splitlines()[-1])
        if isinstance(data, dict) and rc == 0:
            return data, None
    except (ValueError, IndexError):
        pass
    text = (to_text(err) or to_text(out)).strip()
    return None, "could not read the installed packages with the container's python3 (exit " \
        "%s%s)" % (rc, (": " + text.splitlines()[-1][:200]) if text else "")


def plan(wanted, installed):
    """(name, version) pins and {name: installed version} -> the pins to install, each as
    {"name", "version", "installed"}."""
    return [{"name": name, "version": version, "installed": installed.get(name)}
            for name, version in wanted if installed.get(name) != version]


def pip_argv(python, todo, wheel_dir=None):
    argv = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    if wheel_dir:
        argv += ["--no-index", "--find-links", wheel_dir]
    return argv + ["%s==%s" % (p["name"], p["version"]) for p in todo]


def failure_text(host, container, rc, out, err, wheel_dir=None):
    """What to tell the operator when pip failed."""
    text = (to_text(err) + "\n" + to_text(out)).strip()
    if "No module named pip" in text:
        return ("%s: pip is missing in container %s (python3 -m pip: No module named pip); use "
                "an image with pip, or install python3-pip in it" % (host, container))
    last = [line for line in text.splitlines() if line.startswith("ERROR")] or \
        text.splitlines()[-1:]
    return "%s: pip install in container %s failed (exit %s)%s: %s" % (
        host, container, rc, " from the wheel directory %s" % wheel_dir if wheel_dir else "",
        " | ".join(last)[:600])
