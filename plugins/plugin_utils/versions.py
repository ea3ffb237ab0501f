# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""The cluster's version table (controller only): per node, the driver, firmware, CANN or
TopsPlatform versions the driver roles read, which nodes differ from the rest, and which nodes a
deployment profile's image was not built for.  Pure functions over plain dicts."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import Counter

# Columns in the order an operator reads them; a column shows only when some node has it.
COLUMNS = ("driver", "firmware", "toolkit", "kernels", "nnal", "topsplatform")
# A profile's `requires` key -> the column it checks (`cann` is the toolkit's release).
REQUIRES = {"driver": "driver", "firmware": "firmware", "cann": "toolkit", "toolkit": "toolkit",
            "kernels": "kernels", "nnal": "nnal", "topsplatform": "topsplatform"}


def node_versions(hostvars_of_host):
    """A node's versions: the driver role's fact when it ran, else the fabric facts; None when
    neither was read (the drivers play failed or did not run on it)."""
    hv = hostvars_of_host or {}
    for key in ("ascend_driver_report", "enflame_driver_report"):
        fact = hv.get(key)
        if isinstance(fact, dict) and fact.get("versions") is not None:
            return dict((k, v) for k, v in fact["versions"].items() if k in COLUMNS)
    facts = hv.get("ansible_facts") or {}
    npu = facts.get("npu") or {}
    if npu.get("versions"):
        v = npu["versions"]
        return {"driver": v.get("driver"), "firmware": v.get("firmware"),
                "toolkit": v.get("cann")}
    gcu = facts.get("gcu") or {}
    if gcu.get("versions"):
        return {"topsplatform": gcu["versions"].get("driver")}
    return None


def _majority(values):
    """The version most nodes run, or None when no single one does (a tie)."""
    counted = Counter(v or "(not installed)" for v in values).most_common()
    if len(counted) > 1 and counted[0][1] == counted[1][1]:
        return None
    return counted[0][0]


def table(hostvars, hosts, allow_skew=False):
    """{'columns', 'rows': [{'host', <column>: version}], 'skew': [{'component', 'common',
    'hosts': {host: version}}], 'problems', 'passed'}."""
    rows, unread = [], []
    for host in hosts:
        row = {"host": host}
        found = node_versions(hostvars.get(host))
        if found is None:
            unread.append(host)
            row["unread"] = True
        else:
            row.update(found)
        rows.append(row)
    columns = [c for c in COLUMNS if any(r.get(c) for r in rows)]
    read = [r for r in rows if not r.get("unread")]
    skew, problems = [], []
    for col in columns:
        present = [r.get(col) for r in read]
        if len(set(present)) <= 1:
            continue
        common = _majority(present)
        odd = dict((r["host"], r.get(col)) for r in read
                   if (r.get(col) or "(not installed)") != common)
        skew.append({"component": col, "common": common, "hosts": odd})
        if common is None:
            problems.append("%s differs between the nodes and no version is the majority: %s" % (
                col, ", ".join("%s %s" % (h, v or "(not installed)")
                               for h, v in sorted(odd.items()))))
            continue
        for host, value in sorted(odd.items()):
            problems.append("%s: %s %s differs from the cluster's %s" % (
                host, col, value or "(not installed)", common))
    return {"columns": columns, "rows": rows, "skew": skew, "problems": problems,
            "unread": unread, "passed": allow_skew or not problems,
            "allow_skew": bool(allow_skew)}


def text(report):
    """The table as aligned lines, differing cells marked with '*'."""
    cols = report["columns"]
    odd = dict(((s["component"], h), True) for s in report["skew"] for h in s["hosts"])
    head = ["node"] + list(cols)
    body = [[r["host"]] + ["?" if r.get("unread") else
                           "%s%s" % (r.get(c) or "-", " *" if (c, r["host"]) in odd else "")
                           for c in cols] for r in report["rows"]]
    widths = [max(len(line[i]) for line in [head] + body) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
             for line in [head] + body]
    if report["skew"]:
        lines.append("* differs from the cluster: " + "; ".join(report["problems"]))
    if report.get("unread"):
        lines.append("? not read (the drivers play failed or did not run there): "
                     + ", ".join(report["unread"]))
    return lines


def requirement_problems(requires, hostvars, hosts):
    """Nodes outside what a profile's image needs: `requires` {driver|firmware|cann|...:
    version or [versions]}.  Returns problems naming the node, both versions."""
    problems = []
    for key, wanted in sorted((requires or {}).items()):
        col = REQUIRES.get(key)
        if col is None:
            problems.append("profile requires unknown component %r (known: %s)"
                            % (key, ", ".join(sorted(REQUIRES))))
            continue
        accepted = [str(w) for w in (wanted if isinstance(wanted, list) else [wanted])]
        for host in hosts:
            found = node_versions(hostvars.get(host))
            if found is None:
                continue  # not read in this run: the fabric gate already refuses such a node
            have = found.get(col)
            if have not in accepted:
                problems.append("%s: %s %s, but the profile's image needs %s %s" % (
                    host, key, have or "(not installed)", key, " or ".join(accepted)))
    return problems
