# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Gather one Ascend node's facts: npu-smi (inventory, health, processes, SuperPoD ids,
versions) and hccn_tool (every device's network state, /etc/hccn.conf).  Runs on the node.

The work is split into query rounds so that one module run can do both tools with as few
sequential rounds as possible: round 1 is `npu-smi info`, `-l`, `-m` (they say which series and
which devices there are); round 2 is every device's `spod-info` / `health` query together with
every hccn_tool query.  The rules (module_utils/fabric.py) run once both are in, so the SDID /
vNIC rule has what it needs.  npu_facts and hccn_facts run one tool each with the same code.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os

from ansible_collections.npu.cluster.plugins.module_utils import fabric, hccn, npu_smi
from ansible_collections.npu.cluster.plugins.module_utils.text import read_file

# Argument specs shared by npu_facts, hccn_facts and ascend_facts (documented in the
# doc fragments npu.cluster.ascend.npu_smi and npu.cluster.ascend.hccn).
NPU_SMI_ARGS = dict(
    npu_smi=dict(type="path", default="/usr/local/bin/npu-smi"),
    ascend_root=dict(type="path", default="/usr/local/Ascend"),
    install_info=dict(type="path", default="/etc/ascend_install.info"),
    expected_devices=dict(type="int", default=0),
    allow_processes=dict(type="bool", default=False),
)
HCCN_ARGS = dict(
    hccn_tool=dict(type="path", default=hccn.HCCN_TOOL),
    hccn_conf=dict(type="path", default="/etc/hccn.conf"),
)

HCCN_QUERIES = [("link", hccn.parse_link), ("net_health", hccn.parse_net_health),
                ("lldp", hccn.parse_lldp), ("netdetect", hccn.parse_netdetect),
                ("gateway", hccn.parse_gateway), ("ip", hccn.parse_ip), ("tls", hccn.parse_tls)]


# ------------------------------------------------------------------ npu-smi


def npu_round1(tool):
    return [[tool, "info"], [tool, "info", "-l"], [tool, "info", "-m"]]


def npu_start(tool, results, series="auto"):
    """npu facts from round 1 and the round-2 jobs [(kind, device, argv)] they call for."""
    facts = _empty_npu()
    info, listing, mapping = results
    table = npu_smi.parse_info(*info)
    lst = npu_smi.parse_list(*listing)
    chips = npu_smi.parse_mapping(*mapping)
    for part in (table, lst, chips):
        if part["error"]:
            facts["errors"].append(part["error"])
    facts["versions"]["npu_smi"] = table["npu_smi_version"]
    facts["warnings"] = table["warnings"]
    by_chip = dict(((c["npu_id"], c["chip_id"]), c) for c in chips["chips"])
    two_dies = any(n["chip_count"] == 2 for n in lst["npus"]) or any(
        d.get("phy_id") is not None for d in table["devices"])
    series = series if series != "auto" else ("a3" if two_dies else "a2")
    facts["series"] = series
    for dev in table["devices"]:
        chip = by_chip.get((dev["npu_id"], dev["chip_id"]), {})
        phy = dev.get("phy_id")
        if phy is None:
            phy = chip.get("phy_id", dev["npu_id"])
        facts["devices"].append({
            "npu_id": dev["npu_id"], "chip_id": dev["chip_id"], "phy_id": phy,
            "logic_id": chip.get("logic_id", phy), "name": dev["name"],
            "health": dev["health"], "bus_id": dev["bus_id"],
            "hbm_used_mb": dev["hbm_used_mb"], "hbm_total_mb": dev["hbm_total_mb"]})
    phy_of = dict(((d["npu_id"], d["chip_id"]), d["phy_id"]) for d in facts["devices"])
    for proc in table["processes"]:
        proc["device"] = phy_of.get((proc["npu_id"], proc["chip_id"]))
        facts["processes"].append(proc)
    facts["device_count"] = len(facts["devices"])
    facts["npu_count"] = lst["total"] or len(set(d["npu_id"] for d in facts["devices"]))
    facts["chip_name"] = facts["devices"][0]["name"] if facts["devices"] else None
    jobs = []
    if series == "a3":
        jobs = [("spod", d, [tool, "info", "-t", "spod-info", "-i", str(d["npu_id"]),
                             "-c", str(d["chip_id"])]) for d in facts["devices"]]
    jobs += [("health", d, [tool, "info", "-t", "health", "-i", str(d["npu_id"]), "-c",
                            str(d["chip_id"])])
             for d in facts["devices"] if d["health"] != "OK"]
    return facts, jobs


def npu_round2(facts, jobs, results):
    for (kind, dev, _argv), res in zip(jobs, results):
        if kind == "spod":
            spod = npu_smi.parse_spod_info(*res)
            if spod["error"]:
                facts["errors"].append("device %s: %s" % (dev["phy_id"], spod["error"]))
            elif spod["supported"]:
                spod.pop("error")
                spod.pop("supported")
                spod["device"] = dev["phy_id"]
                facts["spod"].append(spod)
        else:
            health = npu_smi.parse_health(*res)
            dev["error_code"] = health.get("error_code")
            dev["error_info"] = health.get("error_info")


def _empty_npu():
    return {"series": None, "chip_name": None, "npu_count": 0, "device_count": 0,
            "devices": [], "processes": [], "spod": [], "versions": {}, "errors": [],
            "warnings": []}


def npu_missing(tool):
    facts = _empty_npu()
    facts["errors"] = ["npu-smi not found or not executable at %s" % tool]
    return facts


def npu_finish(facts, host, ascend_root="/usr/local/Ascend",
               install_info="/etc/ascend_install.info", expected_devices=0,
               allow_processes=False, skip=None):
    """Versions and the install record from their files, then the node rules."""
    driver = npu_smi.parse_kv_file(read_file(os.path.join(ascend_root, "driver",
                                                          "version.info")))
    firmware = npu_smi.parse_kv_file(read_file(os.path.join(ascend_root, "firmware",
                                                            "version.info")))
    cann_files = sorted(glob.glob(os.path.join(ascend_root, "ascend-toolkit", "latest", "*",
                                               "ascend_toolkit_install.info")))
    cann = npu_smi.parse_kv_file(read_file(cann_files[0])) if cann_files else {}
    install = npu_smi.parse_kv_file(read_file(install_info))
    facts["versions"].update({"driver": driver.get("Version"),
                              "firmware": firmware.get("Version"),
                              "cann": cann.get("version")})
    facts["driver_install_complete"] = (install.get("Driver_Install_Status") == "complete"
                                        if install else None)
    problems = fabric.npu_problems(host, facts, expected_devices=expected_devices,
                                   allow_processes=allow_processes, skip=skip)
    facts["checks"] = problems
    facts["problems"] = [x["message"] for x in problems]
    facts["healthy"] = not problems
    return facts


def sdids_of(npu_facts):
    return dict((s["device"], s.get("sdid")) for s in npu_facts.get("spod") or []
                if s.get("sdid") is not None)


# ------------------------------------------------------------------ hccn_tool


def hccn_jobs(tool, series, ids):
    """[(device, query, parser, argv)] for every device id in `ids`."""
    queries = HCCN_QUERIES + ([("vnic", hccn.parse_vnic)] if series == "a3" else [])
    return [(d, name, parser, [tool, "-i", str(d), "-" + name, "-g"])
            for d in ids for name, parser in queries]


def hccn_finish(host, tool, series, ids, jobs, results, conf_path, sdids=None, skip=None,
                tool_ok=True):
    """hccn facts from the query results, /etc/hccn.conf and the node rules."""
    ids = list(ids)
    facts = {"series": series, "device_count": len(ids), "devices": [], "conf": {},
             "tool": tool}
    problems = []
    if not tool_ok:
        problems.append(fabric.problem(host, None, "tool_output", tool,
                                       "hccn_tool not found or not executable at %s; install "
                                       "the Ascend driver or set hccn_tool" % tool))
    else:
        devices = dict((d, {"id": d, "errors": {}}) for d in ids)
        for (d, name, parser, _argv), (rc, out, err) in zip(jobs, results):
            parsed = parser(rc, out, err)
            error = parsed.pop("error", None)
            devices[d]["errors"][name] = error
            devices[d].update(parsed)
        facts["devices"] = [devices[d] for d in ids]
        try:
            with open(conf_path) as fh:
                facts["conf"] = hccn.parse_hccn_conf(fh.read())
        except (IOError, OSError) as exc:
            problems.append(fabric.problem(host, None, "hccn_conf", conf_path,
                                           "cannot read %s: %s" % (conf_path, exc)))
        problems += fabric.hccn_problems(host, series, facts["devices"], facts["conf"],
                                         sdids=dict((int(k), int(v)) for k, v in
                                                    (sdids or {}).items()))
        for dev in facts["devices"]:
            dev["errors"] = dict((k, v) for k, v in dev["errors"].items() if v)
    problems = fabric.keep(problems, skip)
    facts["checks"] = problems
    facts["problems"] = [x["message"] for x in problems]
    facts["healthy"] = not problems
    # JSON-friendly conf keys (string device ids).
    facts["conf"] = dict((str(k), v) for k, v in facts["conf"].items())
    return facts


# ------------------------------------------------------------------ both, in two rounds


def gather(run, host, npu_opts, hccn_opts):
    """Both tools in one run: {npu, hccn}.  `run(argvs)` runs argv lists concurrently and
    returns [(rc, out, err)] in order.  npu_opts: npu_smi, ascend_root, install_info, series,
    expected_devices, allow_processes, skip; hccn_opts: hccn_tool, hccn_conf, devices (when
    npu-smi cannot say), skip."""
    tool = npu_opts["npu_smi"]
    smi_ok = os.access(tool, os.X_OK)
    if smi_ok:
        npu, npu_jobs = npu_start(tool, run(npu_round1(tool)), npu_opts.get("series", "auto"))
    else:
        npu, npu_jobs = npu_missing(tool), []
    # without npu-smi: the series asked for, else A2
    series = npu["series"] or {"a3": "a3"}.get(npu_opts.get("series"), "a2")
    # The devices npu-smi lists (a device it does not show is its device_count problem, not
    # a string of hccn_tool errors); when it lists none, the count the inventory expects.
    ids = sorted(d["phy_id"] for d in npu["devices"]) or list(range(
        hccn_opts.get("devices") or (16 if series == "a3" else 8)))
    htool = hccn_opts["hccn_tool"]
    hccn_ok = os.access(htool, os.X_OK)
    jobs = hccn_jobs(htool, series, ids) if hccn_ok else []
    results = run([job[2] for job in npu_jobs] + [job[3] for job in jobs])
    npu_round2(npu, npu_jobs, results[:len(npu_jobs)])
    npu = npu_finish(npu, host, npu_opts.get("ascend_root", "/usr/local/Ascend"),
                     npu_opts.get("install_info", "/etc/ascend_install.info"),
                     npu_opts.get("expected_devices") or 0,
                     npu_opts.get("allow_processes", False), npu_opts.get("skip"))
    net = hccn_finish(host, htool, series, ids, jobs, results[len(npu_jobs):],
                      hccn_opts["hccn_conf"], sdids=sdids_of(npu), skip=hccn_opts.get("skip"),
                      tool_ok=hccn_ok)
    return {"npu": npu, "hccn": net}
