# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""The one table of hardware facts (controller only): per hardware group of the inventory, the
accelerator device nodes and how many a server has, the control devices and the driver files a
serving container needs, the environment variables that select devices and bind the
collective-communication sockets, and whether the container must be privileged.

Every other place reads it: the planner (container spec, process environment), the
preflight and fabric roles (expected device counts, through the `npu.cluster.hardware`
filter), the inventory rules (the group names) and the lab (`npu_cluster.lab.topology`)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

_ASCEND_MOUNTS = (
    "/usr/local/dcmi",
    "/usr/local/Ascend/driver/tools/hccn_tool",
    "/usr/local/bin/npu-smi",
    "/usr/local/Ascend/driver/lib64/",
    "/usr/local/Ascend/driver/version.info",
    "/etc/ascend_install.info",
    "/etc/hccn.conf",
)
_ASCEND = {
    "vendor": "ascend",
    "device_node": "/dev/davinci%d",
    "device_pattern": "davinci[0-9]*",
    "control_devices": ("/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"),
    "mounts": _ASCEND_MOUNTS,
    "visible_devices_env": "ASCEND_RT_VISIBLE_DEVICES",
    # HCCL binds HCCL_IF_IP; Gloo, the TP group and HCCL's own sockets bind these NICs
    "comm_ip_env": "HCCL_IF_IP",
    "comm_ifname_env": ("GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME", "HCCL_SOCKET_IFNAME"),
    "privileged": False,
    # Ray (runbook 001): the resource Ray schedules the devices as, and the variable that stops
    # Ray from rewriting the visible-devices variable of its workers
    "ray_resource": "NPU",
    "ray_noset_env": "RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES",
}

HARDWARE = {
    "ascend_a2": dict(_ASCEND, series="a2", devices=8, model="Atlas 800T A2 (8 x 910B)"),
    "ascend_a3": dict(_ASCEND, series="a3", devices=16,
                      model="Atlas 800 A3 (8 x 910C, 2 dies each)"),
    "enflame_gcu": {
        "vendor": "enflame", "series": "gcu", "devices": 8, "model": "Enflame S60 x 8",
        "device_node": "/dev/gcu%d", "device_pattern": "gcu[0-9]*",
        "control_devices": (), "mounts": (),
        "visible_devices_env": "TOPS_VISIBLE_DEVICES",
        "comm_ip_env": None, "comm_ifname_env": ("GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME"),
        # Enflame's runbook runs its containers --privileged (all /dev/gcuN and the driver)
        "privileged": True,
        "ray_resource": None, "ray_noset_env": None,
    },
}

GROUPS = tuple(sorted(HARDWARE))


def get(group):
    """The table entry of a hardware group (a copy), or ValueError naming the known groups."""
    if group not in HARDWARE:
        raise ValueError("unknown hardware group %r (known: %s)" % (group, ", ".join(GROUPS)))
    entry = copy.deepcopy(HARDWARE[group])
    entry["group"] = group
    for key in ("control_devices", "mounts", "comm_ifname_env"):
        entry[key] = list(entry[key])
    return entry


def device_counts():
    return dict((g, HARDWARE[g]["devices"]) for g in GROUPS)


def device_nodes(group, count=None):
    entry = HARDWARE[group]
    return [entry["device_node"] % n for n in range(entry["devices"] if count is None
                                                    else count)]
