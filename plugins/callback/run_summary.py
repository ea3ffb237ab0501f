# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Print, at the end of a run, what ran where: one row per play and host."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: run_summary
type: aggregate
short_description: End-of-run table of what ran where (play x host)
version_added: 0.1.0
description:
  - Counts ok / changed / failed / skipped / unreachable tasks per play and host and prints
    one table after the recap, with the first failed task of every failing host.
  - Optionally writes the same data as JSON.
  - While a task retries (C(until)), prints the C(progress) line its module returned, e.g. the
    readiness rounds of npu.cluster.serve_wait.
options:
  json_path:
    description: Write the summary as JSON to this file as well.
    type: path
    env:
      - name: NPU_CLUSTER_SUMMARY_JSON
requirements:
  - enable in ansible.cfg (callbacks_enabled = npu.cluster.run_summary)
"""

import json
import time

from ansible.plugins.callback import CallbackBase

STATES = ("ok", "changed", "failed", "skipped", "unreachable")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "npu.cluster.run_summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.plays = []
        self.started = time.time()

    def _row(self, host):
        play = self.plays[-1] if self.plays else None
        if play is None:
            play = {"name": "(no play)", "hosts": {}, "started": time.time()}
            self.plays.append(play)
        return play["hosts"].setdefault(host, dict({s: 0 for s in STATES}, first_failure=None))

    def v2_playbook_on_play_start(self, play):
        self.plays.append({"name": play.get_name().strip(), "hosts": {},
                           "started": time.time()})

    def _count(self, result, state):
        row = self._row(result._host.get_name())
        if state == "ok" and result._result.get("changed"):
            state = "changed"
        row[state] += 1
        if state in ("failed", "unreachable") and row["first_failure"] is None:
            msg = result._result.get("msg") or result._result.get("stderr") or ""
            row["first_failure"] = "%s: %s" % (result._task.get_name(),
                                               " ".join(str(msg).split())[:160])

    def v2_runner_on_ok(self, result):
        self._count(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self._count(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._count(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._count(result, "unreachable")

    def v2_runner_retry(self, result):
        progress = result._result.get("progress")
        if progress:
            self._display.display("  progress: %s (%s retries left)" % (
                progress, result._result.get("retries", 0) - result._result.get("attempts", 0)))

    def v2_playbook_on_stats(self, stats):
        elapsed = time.time() - self.started
        self._display.banner("NPU-CLUSTER RUN SUMMARY (%.1fs)" % elapsed)
        width = max([len(p["name"]) for p in self.plays] + [4])
        hostw = max([len(h) for p in self.plays for h in p["hosts"]] + [4])
        head = "%-*s  %-*s  %4s %7s %6s %7s %11s" % (width, "PLAY", hostw, "HOST", "ok",
                                                     "changed", "failed", "skipped", "unreachable")
        self._display.display(head)
        for play in self.plays:
            if not play["hosts"]:
                # no task result: no host matched, or --tags selected none of its tasks
                self._display.display("%-*s  %-*s  (nothing ran: no host matched or no task "
                                      "selected)" % (width, play["name"], hostw, "-"))
            for host, row in sorted(play["hosts"].items()):
                self._display.display("%-*s  %-*s  %4d %7d %6d %7d %11d" % (
                    width, play["name"], hostw, host, row["ok"], row["changed"], row["failed"],
                    row["skipped"], row["unreachable"]))
                if row["first_failure"]:
                    self._display.display("%-*s    -> %s" % (width + hostw, "",
                                                             row["first_failure"]))
        path = self.get_option("json_path")
        if path:
            with open(path, "w") as fh:
                json.dump({"elapsed_s": round(elapsed, 3), "plays": self.plays}, fh, indent=1)
