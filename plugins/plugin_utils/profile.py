# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Deployment profiles (controller only): the one lookup rule, and validation against the
JSON Schema the collection ships (schemas/profile.schema.json, usable by editors too) plus the
rules a schema cannot say.  Every problem names the profile, the key and the rule."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

try:
    import jsonschema
    HAS_JSONSCHEMA = True
except ImportError:  # pragma: no cover - reported as a problem, not a traceback
    HAS_JSONSCHEMA = False

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "schemas", "profile.schema.json")
TOPOLOGIES = ("dp_headless", "dp_per_rank", "pd_disaggregated", "ray", "single")
FUTURE_TOPOLOGIES = ()
# topology pd_disaggregated: the keys only it reads
PD_KEYS = ("prefill", "decode", "kv_transfer", "proxy", "external_dp")
PD_SIDES = ("prefill", "decode")
# topology ray: Ray's ports when the profile does not set them
RAY_PORTS = {"ray_gcs": 6379, "ray_object_manager": 8076,
             "ray_node_manager": 8077, "ray_worker_min": 10002, "ray_worker_max": 10999}
# engine options the planner derives (a profile or a host that sets one is refused)
PLANNER_FLAGS = ("host", "port", "headless", "data-parallel-size", "data-parallel-size-local",
                 "data-parallel-start-rank", "data-parallel-address", "data-parallel-rpc-port",
                 "data-parallel-rank", "kv-transfer-config",
                 "tensor-parallel-size", "pipeline-parallel-size", "served-model-name",
                 "enable-expert-parallel", "model", "api-key", "distributed-executor-backend")
# well-known secrets: never printed, whatever the profile says
SECRET_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_HUB_TOKEN",
              "MODELSCOPE_API_TOKEN", "VLLM_API_KEY", "OPENAI_API_KEY")

_schema = None
# the schema's patterns, in plain words
PATTERN_WORDS = {
    "\\S": "must not be empty or blank",
    "^[A-Za-z_][A-Za-z0-9_]*$": "is not a valid environment variable name (letters, digits and "
                                "_, not starting with a digit)",
    "^[A-Za-z0-9][A-Za-z0-9._-]*$": "must be letters, digits, '.', '_' or '-' (it is a file "
                                    "name, and it appears in scripts)",
    "^[A-Za-z0-9][A-Za-z0-9_.-]*$": "must be a container name (letters, digits, '.', '_' or "
                                    "'-')",
    "^[0-9]+\\.[0-9]+\\.[0-9]+$": "must be a version such as 0.11.0",
    "^-{0,2}[A-Za-z0-9][A-Za-z0-9_-]*$": "is not an engine option name",
    "^[0-9A-Fa-f.:]+$": "must be an IP address to listen on",
    "^/": "must be an absolute path",
}


def schema():
    global _schema  # pylint: disable=global-statement
    if _schema is None:
        with open(SCHEMA_PATH) as fh:
            _schema = json.load(fh)
    return _schema


def resolve(value, search_dirs):
    """A profile name (searched as <dir>/<name>.yml in search_dirs, in order) or a path ->
    the file's path; ValueError naming where it looked and the shipped profiles."""
    text = "" if value is None else str(value).strip()
    shipped = []
    for d in search_dirs:
        if d and os.path.isdir(d):
            shipped += [f[:-4] for f in sorted(os.listdir(d)) if f.endswith(".yml")]
    if not text:
        raise ValueError("no deployment profile: set npu_cluster_profile in the inventory's "
                         "group_vars or pass -e npu_cluster_profile=NAME; shipped profiles: "
                         + ", ".join(sorted(set(shipped))))
    if "/" in text or text.endswith((".yml", ".yaml")):
        candidates = [text]
    else:
        candidates = [os.path.join(d, text + ".yml") for d in search_dirs if d]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise ValueError("profile %r not found (looked at %s); shipped profiles: %s" % (
        text, ", ".join(candidates), ", ".join(sorted(set(shipped)))))


def norm_flag(key):
    return str(key).lstrip("-").replace("_", "-")


def _where(path):
    out = ""
    for part in path:
        out += "[%d]" % part if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(top level)"


def problems(profile, file_stem=None):
    """Every problem of a loaded profile, each 'profile NAME: key: rule'."""
    if not isinstance(profile, dict):
        return ["profile %s: expected a mapping of keys, got %s" % (
            file_stem or "?", type(profile).__name__)]
    name = profile.get("name") if isinstance(profile.get("name"), str) else (file_stem or "?")
    if not HAS_JSONSCHEMA:
        return ["profile %s: cannot be validated: the Python package jsonschema is missing on "
                "the controller (pip install jsonschema)" % name]
    out = []
    validator = jsonschema.Draft202012Validator(schema())
    for err in sorted(validator.iter_errors(profile), key=lambda e: (list(e.absolute_path),
                                                                     e.message)):
        message = err.message
        if err.validator == "pattern" and err.validator_value in PATTERN_WORDS:
            message = "%r %s" % (err.instance, PATTERN_WORDS[err.validator_value])
        out.append("profile %s: %s: %s" % (name, _where(err.absolute_path), message))
    if file_stem is not None and profile.get("name") != file_stem:
        out.append("profile %s: name: must equal the file name %s.yml (got %r)" % (
            name, file_stem, profile.get("name")))
    if out:
        return out
    topo = profile["topology"]
    if topo in FUTURE_TOPOLOGIES:
        out.append("profile %s: topology: %r is not one of %s (planned for a later release)" % (
            name, topo, ", ".join(TOPOLOGIES)))
    if topo == "dp_headless" and "dp_rpc" not in profile["ports"]:
        out.append("profile %s: ports.dp_rpc: required for topology dp_headless" % name)
    if topo == "dp_per_rank" and "dp_master" not in profile["ports"]:
        out.append("profile %s: ports.dp_master: required for topology dp_per_rank "
                   "(VLLM_DP_MASTER_PORT)" % name)
    if ("router" in profile) != ("router" in profile["ports"]):
        out.append("profile %s: router and ports.router: give both or neither" % name)
    elif "router" in profile and topo != "dp_per_rank":
        out.append("profile %s: router: only for topology dp_per_rank" % name)
    if topo == "pd_disaggregated":
        out += _pd_problems(name, profile)
    elif any(key in profile for key in PD_KEYS) or \
            any(key in profile["ports"] for key in ("kv", "proxy")):
        out.append("profile %s: %s and ports.kv / ports.proxy: only for topology "
                   "pd_disaggregated" % (name, ", ".join(PD_KEYS)))
    if topo == "ray":
        out += _ray_problems(name, profile)
    elif any(key.startswith("ray") for key in profile) or \
            any(key.startswith("ray_") for key in profile["ports"]):
        out.append("profile %s: ray, ray_driver and ports.ray_*: only for topology ray" % name)
    if len(set(profile["ports"].values())) < len(profile["ports"]):
        out.append("profile %s: ports: %s must be distinct" % (name, ", ".join(
            "%s=%s" % kv for kv in sorted(profile["ports"].items()))))
    for where, args in _arg_sections(profile):
        for key in args:
            if norm_flag(key) in PLANNER_FLAGS:
                out.append("profile %s: %s.%s: sets --%s, which the planner derives (from "
                           "parallel, ports, model, served_model_name or a secret); remove it"
                           % (name, where, key, norm_flag(key)))
    return out


def ray_ports(profile):
    """Ray's ports of a profile: its ports.ray_* over RAY_PORTS."""
    return dict(RAY_PORTS, **dict((k, v) for k, v in profile["ports"].items()
                                  if k.startswith("ray_")))


def _ray_problems(name, profile):
    out = []
    if not profile["hardware"].startswith("ascend"):
        out.append("profile %s: topology: ray is for Ascend nodes (runbook 001); hardware %s "
                   "has no Ray resource in this collection" % (name, profile["hardware"]))
    par = profile["parallel"]
    if int(par.get("dp", 1)) != 1 or "dp_per_node" in par:
        out.append("profile %s: parallel.dp: topology ray runs one engine over the Ray cluster "
                   "(tensor x pipeline parallel); data parallel over Ray is not supported, use "
                   "dp: 1 or topology dp_headless" % name)
    for key in ("head", "headless"):
        if key in profile:
            out.append("profile %s: %s: not used by topology ray (use ray_driver for the "
                       "engine, ray.env for `ray start`)" % (name, key))
    for where, args in _arg_sections(profile):
        if "disable-frontend-multiprocessing" in [norm_flag(k) for k in args]:
            out.append("profile %s: %s: sets --disable-frontend-multiprocessing, which topology "
                       "ray derives (pipeline parallel, where the engine version still has it); "
                       "remove it" % (name, where))
    ports = ray_ports(profile)
    low, high = ports["ray_worker_min"], ports["ray_worker_max"]
    if low >= high:
        out.append("profile %s: ports.ray_worker_min %d must be below ports.ray_worker_max %d"
                   % (name, low, high))
    for key, port in sorted(dict(profile["ports"], **ports).items()):
        if key not in ("ray_worker_min", "ray_worker_max") and low <= port <= high:
            out.append("profile %s: ports.%s %d is inside Ray's worker port range %d-%d" % (
                name, key, port, low, high))
    if len(set(ports.values()) | set(profile["ports"].values())) < \
            len(set(ports) | set(profile["ports"])):
        out.append("profile %s: ports: %s must be distinct" % (name, ", ".join(
            "%s=%s" % kv for kv in sorted(dict(profile["ports"], **ports).items()))))
    return out


def version_tuple(version):
    return tuple(int(part) for part in str(version).split(".")[:3])


def pd_modes(profile):
    """(external_dp, kv form, proxy form) of a pd_disaggregated profile: what it says, else what
    its engine version has (vllm-ascend 0.9.x, below vLLM 0.10: the runbook's VLLM_DP_*
    environment, kv config and proxy arguments; from 0.10: the CLI flags, the current kv
    config and one proxy host and port per rank)."""
    old = version_tuple(profile["engine"]["version"]) < (0, 10, 0)
    external = profile.get("external_dp") or ("env" if old else "flags")
    form = (profile.get("kv_transfer") or {}).get("form") or ("v0.9.1" if old else "current")
    return external, form, "v0.9.1" if old else "current"


def _pd_problems(name, profile):
    out = []
    version = profile["engine"]["version"]
    old = version_tuple(version) < (0, 10, 0)
    external, form, _proxy_form = pd_modes(profile)
    if external == "flags" and old:
        out.append("profile %s: external_dp: flags (--data-parallel-rank per process) needs vLLM "
                   "0.10 or later; engine.version %s has only the VLLM_DP_* environment: use "
                   "external_dp: env" % (name, version))
    if external == "env" and not old:
        out.append("profile %s: external_dp: env (VLLM_DP_*) is the vllm-ascend 0.9.x "
                   "distributed DP server; vLLM %s reads it only for offline data parallel: "
                   "use external_dp: flags" % (name, version))
    if form == "v0.9.1" and not old:
        out.append("profile %s: kv_transfer.form: v0.9.1 sets kv_parallel_size, which vLLM %s "
                   "rejects (not a field of KVTransferConfig): use form: current" % (
                       name, version))
    if form == "current" and profile["prefill"]["parallel"]["tp"] < \
            profile["decode"]["parallel"]["tp"]:
        out.append("profile %s: prefill.parallel.tp %d < decode.parallel.tp %d: "
                   "MooncakeConnectorV1 needs the prefill TP at least the decode TP" % (
                       name, profile["prefill"]["parallel"]["tp"],
                       profile["decode"]["parallel"]["tp"]))
    for key in ("dp", "dp_per_node", "tp", "pp"):
        if key in profile["parallel"]:
            out.append("profile %s: parallel.%s: topology pd_disaggregated sets it per side "
                       "(prefill.parallel, decode.parallel); parallel holds only ep" % (name, key))
    for side in PD_SIDES:
        group = profile[side]
        par = group["parallel"]
        if group["master"] == "each_node" and par["dp"] != par["dp_per_node"]:
            out.append("profile %s: %s.parallel: dp %d != dp_per_node %d; with master "
                       "each_node every node is a DP group of its own" % (
                           name, side, par["dp"], par["dp_per_node"]))
        if group["master"] == "first_node" and par["dp"] != group["nodes"] * par["dp_per_node"]:
            out.append("profile %s: %s.parallel: dp %d != nodes %d x dp_per_node %d; with master "
                       "first_node the side's nodes form one DP group" % (
                           name, side, par["dp"], group["nodes"], par["dp_per_node"]))
    if "nodes" in profile and profile["nodes"] != profile["prefill"]["nodes"] + \
            profile["decode"]["nodes"]:
        out.append("profile %s: nodes %d != prefill.nodes %d + decode.nodes %d" % (
            name, profile["nodes"], profile["prefill"]["nodes"], profile["decode"]["nodes"]))
    for side in PD_SIDES:
        if "additional_config" in profile[side] and any(
                norm_flag(k) == "additional-config" for where, args in _arg_sections(profile)
                if where in ("engine_args", side + ".engine_args") for k in args):
            out.append("profile %s: %s.additional_config and an engine_args additional-config: "
                       "give one" % (name, side))
    proxy = profile["proxy"]
    if proxy["kind"] == "vendor_example" and not proxy.get("script"):
        out.append("profile %s: proxy.script: required for kind vendor_example (the path of "
                   "load_balance_proxy_server_example.py in the image)" % name)
    if proxy["kind"] != "vllm_router" and any(k.endswith("policy") for k in proxy):
        out.append("profile %s: proxy.policy, prefill_policy, decode_policy: only for kind "
                   "vllm_router" % name)
    if form == "current" and ("buffer_device" in profile["kv_transfer"] or
                              "engine_id" in profile["kv_transfer"]):
        out.append("profile %s: kv_transfer.buffer_device and engine_id: only for form v0.9.1 "
                   "(the current form gets an engine_id per instance from the planner)" % name)
    return out


def _arg_sections(profile):
    yield "engine_args", profile.get("engine_args") or {}
    yield "ray_driver.engine_args", (profile.get("ray_driver") or {}).get("engine_args") or {}
    for role in ("head", "headless") + PD_SIDES:
        yield role + ".engine_args", (profile.get(role) or {}).get("engine_args") or {}


def secret_names(profile):
    return set(SECRET_ENV) | set((profile or {}).get("secret_env") or [])
