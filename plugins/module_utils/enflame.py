# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Pure parsers for Enflame tooling: `efsmi` (three layouts), `efsmi -q`, and nccl-tests style
`*_perf` tables as printed by `eccl_alltoall_perf` / `eccl_all_to_all_perf`."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.npu.cluster.plugins.module_utils.text import shorten as _raw
from ansible_collections.npu.cluster.plugins.module_utils.text import to_text as _text

BUS = re.compile(r"([0-9a-fA-F]{2}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])")
MPI_PREFIX = re.compile(r"^\[\d+,\d+\]<std(?:out|err)>:")


def parse_efsmi(rc, stdout, stderr):
    """Default `efsmi` view: devices found by their bus id (the layout changed three times)."""
    text = _text(stdout)
    result = {"efsmi_version": None, "driver_version": None, "devices": [], "error": None}
    ver = re.search(r"EFSMI:?\s+V?([\d.]+)\s+Driver Ver:\s*([\d.]+)", text)
    if ver:
        result["efsmi_version"], result["driver_version"] = ver.group(1), ver.group(2)
    for line in text.splitlines():
        bus = BUS.search(line)
        if not bus or not line.strip().startswith("|"):
            continue
        first = line.strip().strip("|").split("|")[0].split()
        if not first or not first[0].isdigit():
            continue
        result["devices"].append({"index": int(first[0]), "name": " ".join(first[1:]),
                                  "bus_id": bus.group(1)})
    if rc != 0 or not result["devices"]:
        result["error"] = "efsmi failed or listed no device (exit %d): %s" % (
            rc, _raw(text + " " + _text(stderr)))
    return result


def parse_efsmi_query(rc, stdout, stderr):
    """`efsmi -q`: per 'DEV ID N' block, its Health and memory."""
    text = _text(stdout)
    devices = []
    for block in re.split(r"^DEV ID ", text, flags=re.M)[1:]:
        index = re.match(r"(\d+)", block)
        health = re.search(r"^\s*Health\s*:\s*(\S+)", block, re.M)
        name = re.search(r"^\s*Dev Name\s*:\s*(.+?)\s*$", block, re.M)
        devices.append({"index": int(index.group(1)) if index else None,
                        "name": name.group(1) if name else None,
                        "healthy": bool(health) and health.group(1).lower() == "true",
                        "health_raw": health.group(1) if health else None})
    if rc != 0 or not devices:
        return {"devices": [], "error": "efsmi -q failed (exit %d): %s" % (
            rc, _raw(text + " " + _text(stderr)))}
    return {"devices": devices, "error": None}


def _float(token):
    try:
        return float(token)
    except ValueError:
        return None


def parse_perf_table(rc, stdout, stderr):
    """nccl-tests table (pre- and post-2.17 layouts, with or without a root column, with or
    without MPI `[r,n]<stdout>:` prefixes) -> rows, out-of-bounds count, average bus bandwidth."""
    lines = [MPI_PREFIX.sub("", ln) for ln in _text(stdout).splitlines()]
    result = {"rows": [], "ranks": 0, "out_of_bounds": None, "avg_busbw_gbps": None,
              "error": None}
    for line in lines:
        line = line.rstrip()
        if re.match(r"^#\s+Rank\s+\d+", line):
            result["ranks"] += 1
        m = re.match(r"^#\s*Out of bounds values\s*:\s*(\d+)\s*(\S*)", line)
        if m:
            result["out_of_bounds"] = int(m.group(1))
        m = re.match(r"^#\s*Avg bus bandwidth\s*:\s*([\d.eE+-]+)", line)
        if m:
            result["avg_busbw_gbps"] = float(m.group(1))
        if line.startswith("#") or not line.strip():
            continue
        tok = line.split()
        # size count type [redop [root]] + two halves of (time algbw busbw #wrong|error);
        # the oldest layout has no root column and an empty redop, so count from the end.
        if len(tok) < 11 or not tok[0].isdigit() or not tok[1].isdigit():
            continue
        oop, inp = tok[-8:-4], tok[-4:]
        result["rows"].append({
            "size": int(tok[0]), "count": int(tok[1]), "type": tok[2],
            "redop": tok[3] if len(tok) >= 12 else "",
            "oop_time_us": _float(oop[0]), "oop_algbw": _float(oop[1]),
            "oop_busbw": _float(oop[2]), "oop_wrong": oop[3],
            "ip_time_us": _float(inp[0]), "ip_algbw": _float(inp[1]),
            "ip_busbw": _float(inp[2]), "ip_wrong": inp[3]})
    if rc != 0 or result["avg_busbw_gbps"] is None or not result["rows"]:
        result["error"] = "perf test failed or printed no result table (exit %d): %s" % (
            rc, _raw(_text(stdout)[-600:] + " " + _text(stderr)))
    return result
