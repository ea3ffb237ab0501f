# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Controller side of npu.cluster.process_wait: one node's failure ends the other nodes' waits.

Every node of a stage waits in its own task (`until`, one round per call), and a node cannot
see another node's process die: without this, the owners of a data-parallel group whose rank
on another node crashed kept waiting for the group until the stage's timeout.  A call whose
node reports `failed` leaves a marker, named by the stage and the moment it started, in this
ansible-playbook run's own temporary directory on the controller (shared by its workers,
removed when the run ends); a call that would wait (round_seconds > 0) on another node then
checks its own processes once, without waiting, and returns `stopped` -- or `failed` if one of
its own processes failed too, or `ready` if it was.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible import constants as C
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase


def marker_path(tmpdir, args):
    """The stage's failure marker, or None when the call names no stage start."""
    started = args.get("started_at")
    if started in (None, ""):
        return None
    try:
        key = "%d-%.3f" % (int(args.get("stage") or 0), float(started))
    except (TypeError, ValueError):
        return None
    return os.path.join(tmpdir, "npu-cluster-stage-%s.failed" % key)


class ActionModule(ActionBase):
    _VALID_ARGS = frozenset()   # every argument is the module's, validated there

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        marker = marker_path(C.DEFAULT_LOCAL_TMP, args)
        failed_on = None
        if marker and os.path.exists(marker) and int(args.get("round_seconds") or 0) > 0:
            with open(marker, "rb") as handle:
                failed_on = to_text(handle.read()).strip() or "another node"
            args["round_seconds"] = 0   # check this node's own processes once, without waiting
        result.update(self._execute_module(module_name="npu.cluster.process_wait",
                                           module_args=args, task_vars=task_vars))
        host = args.get("host_label") or (task_vars or {}).get("inventory_hostname", "")
        if result.get("state") == "failed" and marker and not os.path.exists(marker):
            with open(marker, "wb") as handle:
                handle.write(host.encode("utf-8"))
        elif failed_on and result.get("state") == "waiting":
            result.update(state="stopped", process=None, log_tail=[], exited_at=None,
                          problem=None, stopped_by=failed_on,
                          progress="%s: stopped waiting: %s failed" % (host, failed_on))
        return result
