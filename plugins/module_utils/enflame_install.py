# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Installing Enflame's TopsPlatform driver package by version (runs on the node).

Runbook 004's sequence - `rmmod enflame-peer-mem`, `rmmod enflame`, `bash
./TopsPlatform_*_deb_amd64.run --no-auto-load --peermem -y` - runs only when the installed
driver (/sys/module/enflame/version, else the `efsmi` header's "Driver Ver") is not the wanted
one.  A module that will not unload names the processes that hold a GCU.  Pure functions;
`apply` runs through injected callables.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.npu.cluster.plugins.module_utils.enflame import parse_efsmi

MODULES = ("enflame-peer-mem", "enflame")
NAME_VERSION = re.compile(r"^(?:TopsPlatform|TopsRider_i3x)_([0-9][0-9A-Za-z.]*)_deb_amd64\.run$")
DEVICE = re.compile(r"^/dev/gcu\d+$")


def version_from_name(path):
    m = NAME_VERSION.match(os.path.basename(path))
    return m.group(1) if m else None


def installed_version(sysfs_text, efsmi_rc, efsmi_out, efsmi_err):
    """(version, source): the loaded module's version, else efsmi's header, else (None, None)."""
    text = (sysfs_text or "").strip()
    if text:
        return text, "sysfs"
    if efsmi_rc is not None:
        parsed = parse_efsmi(efsmi_rc, efsmi_out, efsmi_err)
        if parsed["driver_version"]:
            return parsed["driver_version"], "efsmi"
    return None, None


def holders(proc_root="/proc", listdir=os.listdir, readlink=os.readlink, read=None):
    """[{'pid', 'command', 'device'}] of processes with a GCU device open (from
    /proc/PID/fd); what `fuser /dev/gcu*` would list."""
    found = []
    for pid in listdir(proc_root):
        if not pid.isdigit():
            continue
        fd_dir = "%s/%s/fd" % (proc_root, pid)
        try:
            fds = listdir(fd_dir)
        except OSError:
            continue
        devices = set()
        for fd in fds:
            try:
                target = readlink("%s/%s" % (fd_dir, fd))
            except OSError:
                continue
            if DEVICE.match(target):
                devices.add(target)
        if devices:
            command = None
            if read is not None:
                command = (read("%s/%s/comm" % (proc_root, pid)) or "").strip() or None
            for device in sorted(devices):
                found.append({"pid": int(pid), "command": command, "device": device})
    return sorted(found, key=lambda h: (h["device"], h["pid"]))


def unload_result(module_name, rc, err):
    """'unloaded' | 'not_loaded' | 'busy' | 'error' for one `rmmod`."""
    if rc == 0:
        return "unloaded"
    if "is not currently loaded" in err or "not found" in err.lower():
        return "not_loaded"
    if "in use" in err:
        return "busy"
    return "error"


def busy_message(host, module_name, procs, err):
    if procs:
        who = ", ".join("process %d (%s) holds %s" % (p["pid"], p["command"] or "?", p["device"])
                        for p in procs)
        return ("%s: kernel module %s cannot be unloaded for the TopsPlatform install: %s. Stop "
                "those processes (or their containers, e.g. the serving container: teardown) and "
                "run again; nothing was installed" % (host, module_name, who))
    return ("%s: kernel module %s cannot be unloaded for the TopsPlatform install (%s); no "
            "process holding /dev/gcu* was found - check `lsmod` for modules using it; nothing "
            "was installed" % (host, module_name, err.strip()))


def installer_argv(path, options):
    return ["bash", path] + list(options)


def tail(text, count=20):
    return [ln for ln in (text or "").splitlines() if ln.strip()][-count:]
