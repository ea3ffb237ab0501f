# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Pure parsers for `npu-smi` output and the Ascend version / install-info files.

Tables are parsed by cells (split on '|'), not by column offsets, so both the 96-column
(HDK 23.0 .. 25.5) and 99-column (2026 driver) layouts, A2 (one chip per NPU) and A3 (two dies,
`Chip Phy-ID`) read the same.  Unknown text comes back in `error`, never as a crash.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.npu.cluster.plugins.module_utils.text import shorten as _raw
from ansible_collections.npu.cluster.plugins.module_utils.text import to_text as _text

BUS_ID = re.compile(r"^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]$")
HEALTH_VALUES = ("OK", "Warning", "Alarm", "Critical", "UNKNOWN")


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _num(text):
    try:
        return float(text) if "." in text else int(text)
    except (TypeError, ValueError):
        return None


def parse_info(rc, stdout, stderr):
    """`npu-smi info`: version, devices (two rows each) and the process table."""
    text = _text(stdout)
    result = {"npu_smi_version": None, "devices": [], "processes": [], "warnings": [],
              "error": None}
    if rc != 0 or "NPU" not in text:
        result["error"] = "npu-smi info failed (exit %d): %s" % (rc, _raw(text + " " +
                                                                          _text(stderr)))
        return result
    m = re.search(r"npu-smi\s+(\S+)\s+Version:\s*(\S+)", text)
    if m:
        result["npu_smi_version"] = m.group(2)
    in_procs = False
    pending = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[WARNING]"):
            result["warnings"].append(stripped)
            continue
        if not stripped.startswith("|"):
            continue
        cells = _cells(stripped)
        if "Process id" in stripped:
            in_procs = True
            continue
        if in_procs:
            m = re.match(r"No running processes found in NPU (\d+)", cells[0])
            if m:
                continue
            if len(cells) >= 4:
                head = cells[0].split()
                pid = _num(cells[1])
                if len(head) >= 1 and pid is not None:
                    result["processes"].append({
                        "npu_id": _num(head[0]), "chip_id": _num(head[1]) if len(head) > 1
                        else 0, "pid": pid, "name": cells[2],
                        "memory_mb": _num(cells[3].split()[0]) if cells[3] else None})
            continue
        if len(cells) < 3 or cells[0].startswith("NPU") or cells[0].startswith("Chip"):
            continue
        first = cells[0].split()
        if BUS_ID.match(cells[1]):
            if pending is None:
                continue
            # Row 2: "<chip> [<phy>] | <bus id> | <aicore> <mem used> / <total> <hbm> / <total>"
            pairs = re.findall(r"(\d+)\s*/\s*(\d+)", cells[2])
            aicore = cells[2].split()[0] if cells[2].split() else None
            dev = dict(pending)
            dev.update({"chip_id": _num(first[0]) if first else None,
                        "phy_id": _num(first[1]) if len(first) > 1 else None,
                        "bus_id": cells[1], "aicore_pct": _num(aicore),
                        "hbm_used_mb": int(pairs[-1][0]) if pairs else None,
                        "hbm_total_mb": int(pairs[-1][1]) if pairs else None})
            result["devices"].append(dev)
            pending = None
        elif len(first) >= 2 and first[0].isdigit():
            # Row 1: "<npu> <name> | <health> | <power or -> <temp> <hugepages> / <total>"
            metrics = cells[2].split()
            pending = {"npu_id": _num(first[0]), "name": " ".join(first[1:]),
                       "health": cells[1],
                       "power_w": _num(metrics[0]) if metrics else None,
                       "temp_c": _num(metrics[1]) if len(metrics) > 1 else None}
    if not result["devices"]:
        result["error"] = "no devices found in npu-smi info output: %s" % _raw(text)
    return result


def parse_list(rc, stdout, stderr):
    """`npu-smi info -l`: Total Count and per-NPU Chip Count (TAB or spaces)."""
    text = _text(stdout)
    total = re.search(r"Total Count\s*:\s*(\d+)", text)
    if rc != 0 or not total:
        return {"total": None, "npus": [], "error": "npu-smi info -l failed (exit %d): %s" % (
            rc, _raw(text + " " + _text(stderr)))}
    npus = []
    for npu, chips in re.findall(r"NPU ID\s*:\s*(\d+)\s*\n\s*Chip Count\s*:\s*(\d+)", text):
        npus.append({"npu_id": int(npu), "chip_count": int(chips)})
    return {"total": int(total.group(1)), "npus": npus, "error": None}


def parse_mapping(rc, stdout, stderr):
    """`npu-smi info -m`: A2 4 columns, A3 5 columns (Chip Phy-ID); Mcu rows skipped."""
    text = _text(stdout)
    rows = []
    header = None
    for line in text.splitlines():
        if not line.strip():
            continue
        cols = re.split(r"\s{2,}|\t", line.strip())
        cols = [c.strip() for c in cols if c.strip()]
        if cols and cols[0] == "NPU ID":
            header = cols
            continue
        if header is None or not cols or not cols[0].isdigit():
            continue
        if cols[-1] == "Mcu":
            continue
        rec = dict(zip(header, cols))
        rows.append({"npu_id": _num(rec.get("NPU ID")), "chip_id": _num(rec.get("Chip ID")),
                     "logic_id": _num(rec.get("Chip Logic ID")),
                     "phy_id": _num(rec.get("Chip Phy-ID", rec.get("Chip Logic ID"))),
                     "name": rec.get("Chip Name")})
    if rc != 0 or header is None:
        return {"chips": [], "error": "npu-smi info -m failed (exit %d): %s" % (
            rc, _raw(text + " " + _text(stderr)))}
    return {"chips": rows, "error": None}


def parse_colon_block(text):
    """'\\tLabel    : value' lines -> {label: value}; continuation lines (': more') append."""
    result = {}
    last = None
    for line in _text(text).splitlines():
        m = re.match(r"^\s*(\S.*?)?\s*:\s*(.*)$", line)
        if not m:
            continue
        label, value = m.group(1), m.group(2).strip()
        if label:
            result[label] = value
            last = label
        elif last:
            result[last] = (result[last] + "; " + value).strip("; ")
    return result


def parse_spod_info(rc, stdout, stderr):
    text = _text(stdout)
    if "does not support querying spod-info" in text:
        return {"supported": False, "error": None}
    block = parse_colon_block(text)
    keys = {"SDID": "sdid", "Super Pod Size": "super_pod_size", "Super Pod ID": "super_pod_id",
            "Server Index": "server_index", "Chassis ID": "chassis_id"}
    out = {v: _num(block[k]) for k, v in keys.items() if k in block}
    if rc != 0 or "sdid" not in out:
        return {"supported": None, "error": "spod-info failed (exit %d): %s" % (
            rc, _raw(text + " " + _text(stderr)))}
    out.update({"supported": True, "error": None})
    return out


def parse_health(rc, stdout, stderr):
    text = _text(stdout)
    block = parse_colon_block(text)
    if rc != 0 or "Health Status" not in block:
        return {"health": None, "error": "health query failed (exit %d): %s" % (
            rc, _raw(text + " " + _text(stderr)))}
    return {"health": block["Health Status"], "error_code": block.get("Error Code"),
            "error_info": block.get("Error Information"), "error": None}


def parse_kv_file(text):
    """key=value files: version.info, ascend_install.info, *_install.info."""
    result = {}
    for line in _text(text).splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            result[key.strip()] = value.strip()
    return result
