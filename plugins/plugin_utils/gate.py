# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""The fabric gate serving reads (pure, controller only).

The verify play computes the cluster's verdict once, on the controller (`fabric_report`, see
fabric_report.py), and publishes it as that one value.  Serving asks it about its own hosts:
nothing is copied to every node and gathered back."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


def gate_verdict(report, hosts, bypass=False, allow_missing=False):
    """(the verify play's report or None, serving hosts) -> {"passed", "bypassed", "missing",
    "failing", "problems", "message"}; the serving plays refuse to start unless passed."""
    verdicts = (report or {}).get("hosts") or {} if isinstance(report, dict) else {}
    missing = sorted(h for h in hosts if not isinstance(verdicts.get(h), dict))
    failing = sorted(h for h in hosts if isinstance(verdicts.get(h), dict)
                     and not _true(verdicts[h].get("passed")))
    problems = []
    for host in failing:
        for problem in verdicts[host].get("problems") or []:
            if problem not in problems:
                problems.append(problem)
    bypassed_at_verify = isinstance(report, dict) and _true(report.get("bypassed"))
    ok = not failing and not missing
    lines = []
    if failing:
        lines.append("the fabric check failed on %s:" % ", ".join(failing))
        lines.extend("  - " + p for p in problems)
    if missing:
        lines.append("the fabric check did not run on %s in this play run (run site.yml, or "
                     "add --tags verify)" % ", ".join(missing))
    passed = (not missing or allow_missing) and (not failing or bypass or bypassed_at_verify)
    return {"passed": passed, "bypassed": passed and not ok, "missing": missing,
            "failing": failing, "problems": problems, "message": "\n".join(lines)}


def _true(value):
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)
