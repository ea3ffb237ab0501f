# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Serving filters: thin edges over plugins/plugin_utils/ (planner.py, profile.py, gate.py).

serving_profile    name | serving_profile(search_dirs)           -> {path, profile, problems}
serving_plan       hostvars | serving_plan(profile, hosts, opts) -> the plan (planner.py)
serving_secrets    hostvars | serving_secrets(profile, plan)     -> secret env (no_log only)
serving_plan_text  plan | serving_plan_text                      -> printable table per host
serving_gate       fabric_report | serving_gate(hosts)           -> may serving start?
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleFilterError
from ansible_collections.npu.cluster.plugins.plugin_utils import gate, planner, render
from ansible_collections.npu.cluster.plugins.plugin_utils import profile as profiles

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core requires PyYAML
    yaml = None

# inventory variables the planner reads (documented in the collection guide)
HOST_VARS = ("npu_cluster_serving_ip", "npu_cluster_serving_nic", "npu_cluster_head",
             "npu_cluster_dp_size_local", "npu_cluster_image", "npu_cluster_engine_version",
             "npu_cluster_extra_env", "npu_cluster_extra_engine_args", "npu_cluster_secret_env",
             "npu_cluster_expected_devices", "npu_cluster_model_cache", "npu_cluster_http_port",
             "npu_cluster_pip_wheel_dir", "npu_cluster_pd_role")


def node_facts(hostvars, host):
    """The planner's view of a host's facts (`serving` from npu.cluster.serving_facts, plus
    the device count of `npu` / `gcu`), or None when serving_facts did not run there."""
    hv = hostvars[host]
    facts = hv.get("ansible_facts") or {}
    serving = facts.get("serving")
    if not isinstance(serving, dict) or "interfaces" not in serving:
        return None
    interfaces = dict((nic, {"ipv4": list(info.get("ipv4") or []), "type": info.get("kind")})
                      for nic, info in (serving.get("interfaces") or {}).items())
    container = serving.get("container") or {}
    out = {"interfaces": interfaces,
           "default_ipv4": (serving.get("default_ipv4") or {}).get("address"),
           "serving_running": bool(container.get("running") and container.get("owned"))}
    npu = facts.get("npu") or facts.get("gcu") or {}
    if npu.get("device_count"):
        out["device_count"] = int(npu["device_count"])
    # the driver the fabric check read (npu-smi / efsmi, the driver's version file)
    driver = (npu.get("versions") or {}).get("driver")
    if driver:
        out["driver_version"] = str(driver)
    out["listening"] = [{"port": int(p.get("port")), "address": p.get("address"),
                         "name": p.get("name"), "pid": p.get("pid")}
                        for p in serving.get("tcp_listen") or []]
    return out


def _plain(value):
    """Inventory values as plain data (AnsibleUnicode and friends -> str)."""
    if isinstance(value, dict):
        return dict((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return value
    return str(value)


def serving_profile(name, search_dirs):
    """Resolve and load a profile (one rule for the roles and `npu-cluster plan`) and
    validate it: {"path", "stem", "profile", "problems"}; problems name profile, key, rule."""
    try:
        path = profiles.resolve(name, [str(d) for d in search_dirs or []])
    except ValueError as exc:
        return {"path": None, "stem": None, "profile": None, "problems": [str(exc)]}
    stem = os.path.splitext(os.path.basename(path))[0]
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        return {"path": path, "stem": stem, "profile": None,
                "problems": ["profile %s: cannot be read (%s): %s" % (stem, path, exc)]}
    return {"path": path, "stem": stem, "profile": data,
            "problems": profiles.problems(data, stem)}


def _entries(hostvars, hosts):
    entries = []
    for host in hosts:
        hv = hostvars[host]
        entries.append({"name": host,
                        "vars": dict((k, _plain(hv.get(k))) for k in HOST_VARS
                                     if hv.get(k) is not None),
                        "facts": node_facts(hostvars, host)})
    return entries


def serving_plan(hostvars, profile, hosts, options=None):
    if not isinstance(profile, dict):
        raise AnsibleFilterError("serving_plan: the profile must be a mapping (the loaded "
                                 "profile YAML), got %s" % type(profile).__name__)
    return planner.plan(_plain(profile), _entries(hostvars, hosts), _plain(options or {}))


def serving_secrets(hostvars, profile, plan):
    hvs = dict((h, dict((k, _plain(hostvars[h].get(k))) for k in
                        ("npu_cluster_extra_env", "npu_cluster_secret_env")
                        if hostvars[h].get(k) is not None))
               for h in (plan or {}).get("hosts") or {})
    return planner.secret_values(_plain(profile), plan, hvs)


def serving_plan_text(plan):
    return render.render_text(plan)


def serving_gate(report, hosts, bypass=False, allow_missing=False):
    """The fabric gate of the serving hosts: the verify play's one verdict (fabric_report,
    published once on the controller), or None when verify did not run."""
    return gate.gate_verdict(report if isinstance(report, dict) else None, list(hosts),
                             bypass=bypass, allow_missing=allow_missing)


class FilterModule(object):
    def filters(self):
        return {"serving_profile": serving_profile, "serving_plan": serving_plan,
                "serving_secrets": serving_secrets, "serving_plan_text": serving_plan_text,
                "serving_gate": serving_gate}
