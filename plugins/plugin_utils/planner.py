# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""The launch planner (controller only): inventory + deployment profile + node facts -> the
plan, the one format the roles, `npu-cluster plan --json` and the Python API consume.

Pure functions, no Ansible run and no I/O: the `serving_plan` filter feeds it hostvars and
`npu-cluster plan` feeds it the inventory alone (facts that need a host then show as marked
unknowns).  The format is specified by schemas/plan.schema.json (checked in the tests):

    {"schema": "npu.cluster/plan/2", "profile", "topology", "served_model_name", "head",
     "endpoint": {"url", "host", "process"}, "paths": {"serving_dir", "log_dir"},
     "hosts": {host: {"role", "hardware", "serving_ip", "nic", "device_count",
                      "engine_version", "container": {name, image, devices, mounts,
                                                      privileged},
                      "processes": [{"name", "host", "kind", "group", "stage",
                                     "lifecycle": {"type": "foreground"} | {"type": "daemon",
                                                   "stop": argv, "status": argv},
                                     "argv", "env", "secret_env": [names], "ports",
                                     "devices", "dp_ranks",
                                     "probe": null | {"type": "http"|"tcp"|"cmd"|"openai"...},
                                     "log", "script", "launch_script"}]}},
     "groups": {name: {"kind", "size", "master": {"host", "address", "port"}}},
     "stages": [{"name", "wait": "started"|"ready", "processes": [{"host", "name"}]}],
     "errors": [...], "warnings": [...], "unknowns": [...]}

Stages run in order; a stage is done when every process in it is running ("started") or,
for "ready", also answers its probe.  Topologies are small units in topologies.py.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.npu.cluster.plugins.plugin_utils import (
    hardware, inputs, profile as profiles, render, topologies, vllm_args)

SCHEMA = "npu.cluster/plan/2"
UNKNOWN = "<unknown: %s>"
DEFAULTS = {"serving_dir": "/etc/npu-cluster/serving", "log_dir": "/var/log/npu-cluster"}
# environment the planner owns (the per-host additions may not set it)
PLANNER_ENV_PREFIXES = ("VLLM_DP_",)


def is_unknown(value):
    return isinstance(value, str) and value.startswith("<unknown")


# ---------------------------------------------------------------------------- rendering

def _value(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_args(args, sch):
    """engine_args mapping -> argv list. true -> `--flag`; false -> `--no-flag` for a
    boolean --x/--no-x option; a mapping or list -> compact JSON; None -> omitted."""
    argv = []
    for key, value in args.items():
        flag = "--" + profiles.norm_flag(key)
        if value is None:
            continue
        if isinstance(value, bool):
            found = sch.lookup(flag) if sch else None
            if value:
                argv.append(flag)
            elif found and found[0]["boolean_optional"]:
                argv.append("--no-" + flag[2:])
            continue
        argv += [flag, _value(value)]
    return argv


# ---------------------------------------------------------------------------- facts

def nic_of(facts, ip):
    """Name of the interface that owns ip in a node's facts, or None."""
    for name, info in sorted((facts or {}).get("interfaces", {}).items()):
        if ip in (info.get("ipv4") or []):
            return name
    return None


def _docker_bridge(name):
    """docker0 / br-<id>: Docker's bridges, which other nodes cannot reach."""
    return name.startswith(("docker", "br-"))


# ---------------------------------------------------------------------------- inputs

def _host_inputs(name, hv, profile, errors):
    """The planner's inputs of one host, converted ("false" is false, "2" is 2) or refused by
    name.  Returns a dict, or None when a value is unusable."""
    out, bad = {}, False

    def take(problem_value):
        nonlocal bad
        value, problem = problem_value
        if problem:
            errors.append(problem)
            bad = True
        return value

    out["head"] = take(inputs.to_bool(name, "npu_cluster_head", hv.get("npu_cluster_head")))
    par = profile["parallel"]
    local = hv.get("npu_cluster_dp_size_local")
    out["local"] = take(inputs.to_int(name, "npu_cluster_dp_size_local", local, 1)) \
        if local not in (None, "") else int(par.get("dp_per_node", 1))
    port = hv.get("npu_cluster_http_port")
    out["http_port"] = take(inputs.to_port(name, "npu_cluster_http_port", port)) \
        if port not in (None, "") else int(profile["ports"]["http"])
    expected = hv.get("npu_cluster_expected_devices")
    out["expected_devices"] = take(inputs.to_int(name, "npu_cluster_expected_devices",
                                                 expected, 1)) \
        if expected not in (None, "") else None
    pd_role = hv.get("npu_cluster_pd_role")
    out["pd_role"] = str(pd_role).strip() if pd_role not in (None, "") else None
    version = hv.get("npu_cluster_engine_version")
    out["engine_version"] = str(version).strip() if version not in (None, "") else \
        profile["engine"]["version"]
    ip = hv.get("npu_cluster_serving_ip")
    if ip not in (None, ""):
        problem = inputs.address_problem(name, "npu_cluster_serving_ip", ip)
        if problem:
            errors.append(problem)
            bad = True
        out["serving_ip"] = str(ip).strip()
    else:
        out["serving_ip"] = None
    nic = hv.get("npu_cluster_serving_nic")
    if nic not in (None, "") and not (isinstance(nic, str) and inputs.IFNAME.match(nic)):
        errors.append("%s: npu_cluster_serving_nic=%r is not an interface name" % (name, nic))
        bad = True
    out["nic"] = nic if nic not in (None, "") else None
    for var, key in (("npu_cluster_image", "image"), ("npu_cluster_model_cache", "model_cache"),
                     ("npu_cluster_pip_wheel_dir", "pip_wheel_dir")):
        value = hv.get(var)
        if value not in (None, "") and (not isinstance(value, str) or not value.strip()):
            errors.append("%s: %s=%r must be a non-empty string" % (name, var, value))
            bad = True
        out[key] = value if value not in (None, "") else None
    for var, key in (("npu_cluster_model_cache", "model_cache"),
                     ("npu_cluster_pip_wheel_dir", "pip_wheel_dir")):
        if out[key] is not None and not str(out[key]).startswith("/"):
            errors.append("%s: %s=%r must be an absolute path" % (name, var, out[key]))
            bad = True
    for var in ("npu_cluster_extra_env", "npu_cluster_secret_env", "npu_cluster_extra_engine_args"):
        value = hv.get(var)
        if value in (None, ""):
            out[var] = {}
        elif not isinstance(value, dict):
            errors.append("%s: %s must be a mapping, got %s" % (name, var, type(value).__name__))
            bad = True
        else:
            out[var] = value
    owned_env = _planner_env(profile)
    for var in ("npu_cluster_extra_env", "npu_cluster_secret_env"):
        for key in out.get(var) or {}:
            problem = inputs.env_name_problem("%s: %s" % (name, var), key)
            if problem:
                errors.append(problem)
                bad = True
            elif key in owned_env or key.startswith(PLANNER_ENV_PREFIXES):
                errors.append("%s: %s sets %s, which the planner owns (it is derived from the "
                              "serving IP, its NIC and the parallel layout); remove it" % (
                                  name, var, key))
                bad = True
    for key in out.get("npu_cluster_extra_engine_args") or {}:
        if profiles.norm_flag(key) in profiles.PLANNER_FLAGS:
            errors.append("%s: npu_cluster_extra_engine_args sets --%s, which the planner owns "
                          "(from the profile's parallel, ports, model and served_model_name); "
                          "remove it" % (name, profiles.norm_flag(key)))
            bad = True
    return None if bad else out


def _planner_env(profile):
    hw = hardware.get(profile["hardware"])
    owned = set(hw["comm_ifname_env"]) | {hw["visible_devices_env"]}
    if hw["comm_ip_env"]:
        owned.add(hw["comm_ip_env"])
    if profile.get("topology") == "ray" and hw.get("ray_noset_env"):
        owned.add(hw["ray_noset_env"])
    return owned


# ---------------------------------------------------------------------------- the plan

def plan(profile, hosts, options=None):
    """Plan a deployment.

    profile: dict (see profiles/*.yml and schemas/profile.schema.json).
    hosts: ordered list of {"name": str, "vars": {inventory variables}, "facts": {...} or None}
      where facts (all optional) are {"default_ipv4", "interfaces": {nic: {"ipv4": [..],
      "type"}}, "device_count", "listening": [{"port", "address", "name", "pid"}],
      "serving_running": bool}.
    options: {"serving_dir", "log_dir", "profile_file": the profile's file stem or None}.
    """
    opts = dict(DEFAULTS, **(options or {}))
    result = {"schema": SCHEMA,
              "profile": (profile or {}).get("name") if isinstance(profile, dict) else None,
              "topology": None, "served_model_name": None, "head": None, "endpoint": None,
              "paths": {"serving_dir": opts["serving_dir"], "log_dir": opts["log_dir"]},
              "hosts": {}, "groups": {}, "stages": [], "errors": [], "warnings": [],
              "unknowns": []}
    errors = result["errors"]
    problems = profiles.problems(profile, opts.get("profile_file"))
    if problems:
        errors.extend(problems)
        return result
    if not hosts:
        errors.append("inventory: the serving group has no hosts")
        return result
    topo = profile["topology"]
    need = int(profile.get("nodes") or len(hosts))
    if len(hosts) < need:
        errors.append("inventory: profile %s needs %d nodes, the serving group has %d (%s)" % (
            profile["name"], need, len(hosts), ", ".join(h["name"] for h in hosts)))
        return result
    host_inputs = {}
    for h in hosts:
        host_inputs[h["name"]] = _host_inputs(h["name"], h.get("vars") or {}, profile, errors)
    if errors:
        return result
    serving = hosts[:need]
    for idle in hosts[need:]:
        result["hosts"][idle["name"]] = {"role": "idle", "processes": []}
        result["warnings"].append("%s: not used by profile %s (%d node%s)" % (
            idle["name"], profile["name"], need, "" if need == 1 else "s"))
        if host_inputs[idle["name"]]["head"]:
            errors.append("%s: npu_cluster_head is true, but profile %s uses only the first %d "
                          "host%s of the serving group (%s)" % (
                              idle["name"], profile["name"], need, "" if need == 1 else "s",
                              ", ".join(h["name"] for h in serving)))
    heads = [h["name"] for h in serving if host_inputs[h["name"]]["head"]]
    if len(heads) > 1:
        errors.append("inventory: npu_cluster_head is true on %s; exactly one host may be the "
                      "head" % ", ".join(heads))
    if errors:
        return result
    if topo == "pd_disaggregated":
        _check_pd_roles(profile, serving, host_inputs, errors)
    if errors:
        return result
    head = heads[0] if heads else serving[0]["name"]
    ordered = [h for h in serving if h["name"] == head] + [h for h in serving
                                                           if h["name"] != head]
    nodes = [{"name": h["name"], "vars": h.get("vars") or {}, "facts": h.get("facts"),
              "in": host_inputs[h["name"]], "local": host_inputs[h["name"]]["local"],
              "order": serving.index(h), "pd_role": host_inputs[h["name"]]["pd_role"]}
             for h in ordered]
    unit = topologies.UNITS[topo](profile, nodes)
    result.update(topology=topo, served_model_name=profile["served_model_name"], head=head)
    dp = int(profile["parallel"].get("dp", 1))
    if topo in ("dp_headless", "dp_per_rank") and unit["dp_total"] != dp:
        errors.append("profile %s: parallel.dp = %d but the per-node DP sizes sum to %d (%s); "
                      "data-parallel size must equal the sum of every node's "
                      "data-parallel-size-local" % (profile["name"], dp, unit["dp_total"],
                                                    ", ".join("%s=%d" % (n["name"], n["local"])
                                                              for n in nodes)))
    for node in nodes:
        result["hosts"][node["name"]] = _plan_host(profile, node, unit, dp, result)
    if topo == "ray":
        par = profile["parallel"]
        need = int(par.get("tp", 1)) * int(par.get("pp", 1))
        have = dict((n["name"], result["hosts"][n["name"]]["device_count"]) for n in nodes)
        if sum(have.values()) < need:
            errors.append("profile %s: tensor-parallel-size %d x pipeline-parallel-size %d = %d "
                          "NPUs, but the Ray cluster has %d (%s)" % (
                              profile["name"], par.get("tp", 1), par.get("pp", 1), need,
                              sum(have.values()), ", ".join("%s=%d" % kv for kv in have.items())))
    head_entry = result["hosts"][head]
    head_ip = head_entry["serving_ip"]
    endpoint_port = [p for p in head_entry["processes"]
                     if p["name"] == unit["endpoint"]["process"]][0]["ports"]["http"]
    url = "http://%s:%s" % (head_ip, endpoint_port)
    result["endpoint"] = {"url": url, "host": head, "process": unit["endpoint"]["process"]}
    for name, group in unit["groups"].items():
        group = dict(group)
        if "master" in group:
            port = profiles.ray_ports(profile)["ray_gcs"] if group["kind"] == "ray" else \
                int(profile["ports"].get("dp_rpc", 0)) or None
            master = group["master"].get("host", head)
            if topo in ("dp_per_rank", "pd_disaggregated"):
                port = int(profile["ports"]["dp_master"])
            group["master"] = {"host": master,
                               "address": result["hosts"][master]["serving_ip"], "port": port}
        result["groups"][name] = group
    ips = dict((n["name"], str(result["hosts"][n["name"]]["serving_ip"])) for n in nodes)
    for node in nodes:
        entry = result["hosts"][node["name"]]
        for proc in entry["processes"]:
            proc["argv"] = [_fill(a, head_ip, ips) for a in proc["argv"]]
            proc["env"] = dict((k, _fill(v, head_ip, ips)) for k, v in proc["env"].items())
            if "{pd_backends}" in proc["argv"]:
                at = proc["argv"].index("{pd_backends}")
                proc["argv"][at:at + 1] = pd_proxy_backends(profile, nodes, result)
            if proc.get("probe") and proc["probe"].get("type") == "openai" and \
                    not proc["probe"]["url"]:
                proc["probe"]["url"] = url
            if "{engine_urls}" in proc["argv"]:
                at = proc["argv"].index("{engine_urls}")
                proc["argv"][at:at + 1] = [
                    p["probe"]["url"] for n in nodes for p in result["hosts"][n["name"]]["processes"]
                    if p["kind"] == "vllm_serve"]
            if proc.get("probe") and proc["probe"].get("type") == "ray":
                probe = proc["probe"]
                probe["address"] = probe["address"].replace("{head_ip}", str(head_ip))
                probe["nodes"] = [{"host": h, "ip": result["hosts"][h]["serving_ip"],
                                   "npus": result["hosts"][h]["device_count"]}
                                  for h in probe.pop("joined")]
                probe["all_ips"] = [result["hosts"][n["name"]]["serving_ip"] for n in nodes]
            proc["script"] = render.process_body(proc)
            proc["launch_script"] = render.launch_script(
                proc, opts["serving_dir"], opts["log_dir"],
                title="%s on %s (%s, %s)" % (proc["name"], node["name"], profile["name"],
                                             entry["role"]))
    # a process's stage is its stage's position in the plan
    for index, stage in enumerate(unit["stages"]):
        for ref in stage["processes"]:
            for proc in result["hosts"][ref["host"]]["processes"]:
                if proc["name"] == ref["name"]:
                    proc["stage"] = index
    result["stages"] = unit["stages"]
    _check_consistency(result, nodes, profile)
    result["hosts"] = dict((h["name"], result["hosts"][h["name"]]) for h in hosts)
    return result


def _plan_host(profile, node, unit, dp, result):
    name, facts, hin = node["name"], node["facts"], node["in"]
    errors, unknowns = result["errors"], result["unknowns"]
    hw = hardware.get(profile["hardware"])
    version = hin["engine_version"]
    try:
        sch = vllm_args.schema(version)
    except ValueError as exc:
        errors.append("%s: npu_cluster_engine_version / profile engine.version: %s" % (name, exc))
        sch = None

    # serving IP and its NIC
    ip = hin["serving_ip"] or (facts or {}).get("default_ipv4")
    if not ip:
        ip = UNKNOWN % "serving IP, from facts"
        unknowns.append("%s: npu_cluster_serving_ip (the default-route address needs facts)"
                        % name)
    elif not hin["serving_ip"]:
        problem = inputs.address_problem(name, "the default-route address", ip)
        if problem:
            errors.append(problem + " (set npu_cluster_serving_ip)")
    _check_bridge(name, ip, facts, errors)
    nic = hin["nic"]
    if facts and "interfaces" in facts and not is_unknown(ip):
        owner = nic_of(facts, ip)
        if nic and owner != nic:
            errors.append("%s: npu_cluster_serving_nic is %s, but %s does not own the serving IP "
                          "%s (%s); HCCL/GLOO/TP sockets would bind the wrong NIC: set "
                          "npu_cluster_serving_nic to %s or remove it" % (
                              name, nic, nic, ip,
                              ("it is on %s" % owner) if owner else "no interface has it",
                              owner or "the NIC that has the address"))
        elif not owner:
            errors.append("%s: npu_cluster_serving_ip %s is not an address of any interface on "
                          "the node (interfaces: %s)" % (name, ip, ", ".join(
                              sorted(facts["interfaces"])) or "none"))
        nic = nic or owner
    if not nic:
        nic = UNKNOWN % ("NIC owning %s, from facts" % ip)
        unknowns.append("%s: the NIC owning the serving IP (set npu_cluster_serving_nic or "
                        "let the play read it from the node's facts)" % name)

    devices = (facts or {}).get("device_count") or hin["expected_devices"] or hw["devices"]
    secret_names = profiles.secret_names(profile) | set(hin["npu_cluster_secret_env"])
    processes = []
    for spec in unit["processes"][name]:
        if spec.get("kind") in ("ray_head", "ray_worker"):
            processes.append(ray_process(profile, node, spec, ip, nic, devices, secret_names))
        elif spec.get("kind") == "router":
            processes.append(router_process(profile, node, spec, ip, secret_names))
        elif spec.get("kind") == "proxy":
            processes.append(pd_proxy_process(profile, node, spec, ip, secret_names))
        elif spec.get("kind") == "supervisor":
            processes.append(supervisor_process(node, spec, result["paths"]["serving_dir"]))
        elif spec["role"] in profiles.PD_SIDES:
            view = dict(profile, parallel=dict(profile["parallel"],
                                               **profile[spec["role"]]["parallel"]))
            processes.append(engine_process(view, node, spec, spec["dp"], ip, nic, devices,
                                            sch, version, secret_names, result))
        else:
            processes.append(engine_process(profile, node, spec, dp, ip, nic, devices, sch,
                                            version, secret_names, result))
    _check_ports(name, processes, facts, errors)
    image = hin["image"] or profile["image"]
    spec = profile.get("container") or {}
    cache = hin["model_cache"] or spec.get("model_cache", "/root/.cache")
    mounts = [{"type": "bind", "source": m.rstrip("/") or "/", "target": m.rstrip("/") or "/",
               "read_only": False} for m in hw["mounts"]]
    if cache:
        mounts.append({"type": "bind", "source": cache, "target": "/root/.cache",
                       "read_only": False})
    for item in spec.get("mounts") or []:
        parts = item.split(":")
        mounts.append({"type": "bind", "source": parts[0], "target": parts[1],
                       "read_only": parts[2:] == ["ro"]})
    return {"role": unit["roles"][name], "hardware": profile["hardware"], "serving_ip": ip,
            "nic": nic, "device_count": devices, "engine_version": version,
            "driver_version": (facts or {}).get("driver_version"),
            "container": {"name": (profile.get("container") or {}).get("name", "vllm"),
                          "image": image,
                          "devices": hardware.device_nodes(profile["hardware"], devices)
                          + hw["control_devices"],
                          # bind mounts: a missing source fails instead of becoming an empty
                          # directory (docker -v would create one)
                          "mounts": mounts,
                          "privileged": bool(hw["privileged"]),
                          # the runbook's container options (Enflame's: env, host IPC, root,
                          # core ulimit, seccomp unconfined)
                          "env": dict((k, _value(v)) for k, v in (spec.get("env") or {}).items()),
                          "ipc_mode": spec.get("ipc", ""), "user": spec.get("user", ""),
                          "shm_size": str(spec.get("shm_size", "")),
                          "ulimits": list(spec.get("ulimits") or []),
                          "security_opts": list(spec.get("security_opts") or []),
                          "pip_packages": list(spec.get("pip_packages") or []),
                          "pip_wheel_dir": hin["pip_wheel_dir"] or spec.get("pip_wheel_dir",
                                                                            "")},
            "processes": processes}


def engine_process(profile, node, spec, dp, ip, nic, devices, sch, version, secret_names,
                   result):
    """One `vllm serve` process of a node: its environment, command line, ports, devices,
    DP ranks, lifecycle and probe."""
    name, hin = node["name"], node["in"]
    errors = result["errors"]
    par = profile["parallel"]
    hw = hardware.get(profile["hardware"])
    role, local, start = spec["role"], spec["local"], spec["start"]
    per_rank = int(par.get("tp", 1)) * int(par.get("pp", 1))
    need = local * per_rank
    if role == "ray_driver":
        need = 0   # Ray hands out the NPUs of every node (checked when the workers join)
    slot = spec.get("slot")
    if slot is not None:
        # one engine per DP rank: its own slice of the node's devices
        need = (slot + 1) * per_rank
    if slot is not None and slot == devices // per_rank:
        # one engine per rank: said once per node, at the first engine that finds no devices
        engines = spec.get("dp_local", node["local"])
        errors.append("%s: %d engines x tensor-parallel-size %d%s = %d NPUs > %d NPUs on %s (%s "
                      "and the engines after it have no devices)" % (
                          name, engines, par.get("tp", 1),
                          (" x pipeline-parallel-size %d" % par.get("pp"))
                          if par.get("pp", 1) > 1 else "", engines * per_rank, devices,
                          name, spec["name"]))
    elif slot is None and need > devices:
        errors.append("%s: data-parallel-size-local %d x tensor-parallel-size %d%s = %d > %d NPUs "
                      "on %s" % (name, local, par.get("tp", 1),
                                 (" x pipeline-parallel-size %d" % par.get("pp"))
                                 if par.get("pp", 1) > 1 else "", need, devices, name))
    if role == "headless" and start + local > dp:
        errors.append("%s: data-parallel-start-rank %d + data-parallel-size-local %d > "
                      "data-parallel-size %d" % (name, start, local, dp))

    # env: network first (multi-node only), then the profile's, the role's, the host's;
    # secret values never enter the plan (only their names)
    env = _network_env(hw, ip, nic) if role != "single" else {}
    if role == "ray_driver":
        env.update(_ray_env(hw, devices))
    pd_side = role in profiles.PD_SIDES
    if pd_side:
        external, kv_form, _proxy_form = profiles.pd_modes(profile)
        env.update(_pd_rank_env(profile, hw, spec, per_rank, external))
    elif slot is not None:
        env.update(_rank_env(profile, hw, slot, per_rank, start, dp))
    secret_env = _apply_env(env, env_layers(profile, role, hin["npu_cluster_extra_env"]),
                            secret_names, hin["npu_cluster_secret_env"])

    ports = profile["ports"]
    http_port = hin["http_port"]
    if profile["engine"].get("entrypoint") == "api_server":
        argv = [profile["engine"].get("python", "python"), "-m",
                "vllm.entrypoints.openai.api_server", "--model", profile["model"]]
    else:
        argv = ["vllm", "serve", profile["model"]]
    if slot is not None:
        http_port += slot
    if "listen_host" in profile:
        argv += ["--host", str(profile["listen_host"])]
    elif slot is not None:
        argv += ["--host", ip]      # runbook 004: every engine listens on its serving IP
    argv += ["--port", str(http_port)]
    if pd_side and external == "flags":
        # current vllm-ascend's external DP: the rank on the command line, one process each
        argv += ["--data-parallel-size", str(dp), "--data-parallel-rank", str(start),
                 "--data-parallel-address", "{ip:%s}" % spec["master"],
                 "--data-parallel-rpc-port", str(ports["dp_master"])]
    proc_ports = {"http": http_port}
    if slot is not None and start == 0:
        proc_ports["dp_master"] = int(ports["dp_master"])
    if role == "headless":
        argv.append("--headless")
        if profile["engine"].get("entrypoint") == "api_server":
            # only `vllm serve` runs headless: the api_server module takes the flag and starts
            # a full server, and the head then fails with "Remote engine 1 must use --headless
            # unless in external or hybrid dp lb mode" (seen with vLLM 0.32.0 in the lab)
            errors.append("%s: engine.entrypoint api_server cannot start a headless rank: "
                          "`python -m vllm.entrypoints.openai.api_server --headless` starts an "
                          "API server and the head refuses the rank (\"Remote engine %d must use "
                          "--headless\"); drop engine.entrypoint to start it with `vllm serve` "
                          "(profile %s)" % (name, start, profile["name"]))
    if role in ("head", "headless"):
        argv += ["--data-parallel-size", str(dp), "--data-parallel-size-local", str(local)]
        if role == "headless":
            argv += ["--data-parallel-start-rank", str(start)]
        argv += ["--data-parallel-address", ip if role == "head" else "{head_ip}",
                 "--data-parallel-rpc-port", str(ports["dp_rpc"])]
        if role == "head":
            proc_ports["dp_rpc"] = int(ports["dp_rpc"])
    if role == "ray_driver":
        argv += ["--distributed-executor-backend", "ray"]
    argv += ["--tensor-parallel-size", str(par.get("tp", 1))]
    if int(par.get("pp", 1)) > 1:
        argv += ["--pipeline-parallel-size", str(par["pp"])]
        # pipeline parallel over Ray needs the in-process frontend where the engine still has
        # the option (runbook 001); vLLM 0.33.0 removed it and rejects it
        if role == "ray_driver" and sch is not None and \
                sch.lookup("--disable-frontend-multiprocessing"):
            argv.append("--disable-frontend-multiprocessing")
    if profile["served_model_name"] != profile["model"]:
        argv += ["--served-model-name", profile["served_model_name"]]
    if par.get("ep"):
        argv.append("--enable-expert-parallel")
    args = dict(profile.get("engine_args") or {})
    args.update((profile.get(role) or {}).get("engine_args") or {})
    args.update(hin["npu_cluster_extra_engine_args"])
    port_ranges = {}
    if pd_side:
        if "additional_config" in profile[role]:
            args["additional-config"] = profile[role]["additional_config"]
        kv_config, port_ranges["kv"] = _kv_transfer(profile, spec, kv_form, per_rank)
        args["kv-transfer-config"] = kv_config
        if kv_form == "current":
            _check_transport_range(name, profile, devices, port_ranges["kv"], errors)
    argv += render_args(args, sch)
    if sch is not None:
        # placeholders parse as the values they stand for
        # the options after `vllm serve MODEL` or `python -m ... --model MODEL`
        first = argv.index("--model") + 2 if argv[1] == "-m" else 2
        parsed = vllm_args.parse(version, [("0.0.0.0" if a == "{head_ip}" or is_unknown(a)
                                            else a) for a in argv[first:]])
        for err in parsed["errors"]:
            errors.append("%s: vLLM %s rejects the command line: %s (profile %s, "
                          "engine.version %s)" % (name, version, err, profile["name"], version))
    ranks = list(range(start, start + local)) if role not in ("single", "ray_driver") else [0]
    probe = None
    if spec.get("ready"):
        probe = {"type": "openai", "url": None, "model": profile["served_model_name"],
                 "completion": spec.get("completion", True), "api_key_env": "VLLM_API_KEY"
                 if "VLLM_API_KEY" in secret_env else None}
        if slot is not None:
            probe["url"] = "http://%s:%d" % (ip, http_port)    # every engine on its own port
    return {"name": spec["name"], "host": name, "kind": "vllm_serve",
            "group": spec.get("group", "serve"),
            "role": role, "stage": spec["stage"], "lifecycle": {"type": "foreground"},
            "argv": argv, "env": env, "secret_env": secret_env, "ports": proc_ports,
            "port_ranges": port_ranges,
            "devices": list(range(need - per_rank, need)) if slot is not None
            else list(range(need)), "dp_ranks": ranks, "probe": probe,
            "inputs": {"model": profile["model"], "data_parallel_size": dp
                       if role not in ("single", "ray_driver") else 1, "tensor_parallel_size": int(par.get("tp", 1)),
                       "pipeline_parallel_size": int(par.get("pp", 1)),
                       "expert_parallel": bool(par.get("ep")), "engine_version": version}}


def env_layers(profile, role, host_extra):
    """The environment layers of a process, in order: the profile's `env`, its role's (`head`,
    `headless`, `ray_driver`; `ray.env` for `ray start`; `router.env`), the host's
    npu_cluster_extra_env.  One rule for the plan and for the secrets files."""
    if role in ("ray_head", "ray_worker"):
        own = (profile.get("ray") or {}).get("env")
    else:
        own = (profile.get(role) or {}).get("env")
    return [profile.get("env") or {}, own or {}, host_extra or {}]


def _apply_env(env, layers, secret_names, host_secret):
    """Layer onto env; a secret name leaves env (only its name reaches the plan).  Returns the
    sorted secret names of the process."""
    secret_env = set(host_secret or {})
    for layer in layers:
        for key, value in layer.items():
            if str(key) in secret_names:
                secret_env.add(str(key))
                env.pop(str(key), None)
            else:
                env[str(key)] = _value(value)
    return sorted(secret_env)


def _network_env(hw, ip, nic):
    """The collective-communication sockets' address and NIC (multi-node processes)."""
    env = {}
    if hw["comm_ip_env"]:
        env[hw["comm_ip_env"]] = ip
    for key in hw["comm_ifname_env"]:
        env[key] = nic
    return env


def _rank_env(profile, hw, slot, per_rank, rank, dp):
    """One DP rank's engine (runbook 004): its device slice, and the DP group through vLLM's
    VLLM_DP_* environment (master: the first node; rank: the host's position in the inventory
    group, not `hostname -I`); ECCL's all-to-all buffer by the runbook's formula."""
    env = {hw["visible_devices_env"]: ",".join(str(d) for d in range(slot * per_rank,
                                                                     (slot + 1) * per_rank)),
           "VLLM_DP_MASTER_IP": "{head_ip}",
           "VLLM_DP_MASTER_PORT": str(profile["ports"]["dp_master"]),
           "VLLM_DP_SIZE": str(dp), "VLLM_DP_RANK": str(rank)}
    eccl = profile.get("eccl_alltoallv")
    if eccl:
        # runbook 004: max_num_batched_tokens x dp_size x (7168 + 16 + 16) x 2
        env["ECCL_ALLTOALLV_MAXSIZE"] = str(int(eccl["tokens"]) * dp * int(eccl["row_bytes"]))
    return env


def _fill(text, head_ip, ips):
    """The placeholders of a planned value: {head_ip}, and {ip:HOST} (a group's master)."""
    text = text.replace("{head_ip}", str(head_ip))
    if "{ip:" in text:
        for host, ip in ips.items():
            text = text.replace("{ip:%s}" % host, ip)
    return text


def _pd_rank_env(profile, hw, spec, per_rank, external):
    """One prefill or decode rank (runbook 003).  env: the runbook's VLLM_DP_* (vllm-ascend
    0.9.x places the rank on its devices by VLLM_DP_RANK_LOCAL itself, so the visible devices
    stay whole: narrowing them too would shift the slice twice); flags: the rank's devices in
    the visible-devices variable, its rank on the command line."""
    env = {}
    if external == "env":
        env.update({"VLLM_DP_SIZE": str(spec["dp"]), "VLLM_DP_MASTER_IP": "{ip:%s}" % spec["master"],
                    "VLLM_DP_MASTER_PORT": str(profile["ports"]["dp_master"]),
                    "VLLM_DP_RANK_LOCAL": str(spec["slot"]), "VLLM_DP_RANK": str(spec["start"]),
                    "VLLM_DP_SIZE_LOCAL": str(spec["dp_local"])})
    else:
        env[hw["visible_devices_env"]] = ",".join(
            str(d) for d in range(spec["slot"] * per_rank, (spec["slot"] + 1) * per_rank))
    return env


def _kv_transfer(profile, spec, form, per_rank):
    """(--kv-transfer-config of one rank, its kv port range).  A rank of a DP group takes
    kv_port + rank x tp x pp upwards, one port per TP x PP rank (MooncakeConnectorV1)."""
    kv = profile["kv_transfer"]
    port = int(profile["ports"]["kv"])
    role = "kv_producer" if spec["role"] == "prefill" else "kv_consumer"
    if form == "v0.9.1":
        config = {"kv_connector": kv["connector"],
                  "kv_buffer_device": kv.get("buffer_device", "npu"),
                  "kv_role": role, "kv_parallel_size": "1", "kv_port": str(port),
                  "engine_id": str(kv.get("engine_id", "0"))}
    else:
        config = {"kv_connector": kv["connector"], "kv_role": role, "kv_port": str(port),
                  "engine_id": "%s-%d" % (spec["role"], spec["instance"]),
                  "kv_connector_extra_config": dict(
                      (side, {"dp_size": profile[side]["parallel"]["dp"],
                              "tp_size": profile[side]["parallel"]["tp"]})
                      for side in profiles.PD_SIDES)}
    low = port + spec["start"] * per_rank
    return config, [low, low + per_rank - 1]


def _check_transport_range(name, profile, devices, kv_range, errors):
    """Mooncake's AscendDirectTransport binds random ports in [20000, 20000 + NPUs x 1000)."""
    low, high = 20000, 20000 + devices * 1000 - 1
    if kv_range[0] <= high and kv_range[1] >= low:
        errors.append("%s: kv ports %d-%d fall inside Mooncake AscendDirectTransport's random "
                      "port range %d-%d (%d NPUs); set ports.kv to %d or above" % (
                          name, kv_range[0], kv_range[1], low, high, devices, high + 1))


def pd_proxy_process(profile, node, spec, ip, secret_names):
    """The public endpoint of a prefill/decode deployment on the head host: vllm-ascend's
    example proxy (run from the image) or vllm-router in PD mode, in front of every rank."""
    proxy = profile["proxy"]
    port = int(profile["ports"]["proxy"])
    host = str(proxy.get("listen_host") or ip)
    env = {}
    secret_env = _apply_env(env, env_layers(profile, "proxy", node["in"]["npu_cluster_extra_env"]),
                            secret_names, node["in"]["npu_cluster_secret_env"])
    if proxy["kind"] == "vendor_example":
        argv = [profile["engine"].get("python", "python"), proxy["script"], "--port", str(port),
                "--host", host, "{pd_backends}"]
        health = "/healthcheck"     # answers without asking any backend: the completion counts
    else:
        argv = ["vllm-router", "--vllm-pd-disaggregation", "{pd_backends}", "--host", host,
                "--port", str(port)]
        for key in ("policy", "prefill_policy", "decode_policy"):
            if proxy.get(key):
                argv += ["--" + key.replace("_", "-"), proxy[key]]
        health = "/health"
    return {"name": spec["name"], "host": node["name"], "kind": "proxy", "group": "proxy",
            "role": "proxy", "stage": spec["stage"], "lifecycle": {"type": "foreground"},
            "argv": argv, "env": env, "secret_env": secret_env, "ports": {"http": port},
            "devices": [], "dp_ranks": [],
            "probe": {"type": "openai", "url": None, "model": profile["served_model_name"],
                      "completion": True, "api_key_env": None, "health": health},
            "inputs": {"model": profile["served_model_name"]}}


# a node's rank supervisor: every few seconds the status of each rank's launch script; when one
# is not running, the others are stopped and the supervisor exits 1 naming it
SUPERVISOR = r'''dir=$1; shift
echo "watching $# ranks: $*"
while :; do
  for name in "$@"; do
    state=$(sh "$dir/$name.sh" status)
    if [ "$state" != running ]; then
      echo "ERROR $name is $state: stopping this node's other ranks"
      for other in "$@"; do
        [ "$other" = "$name" ] || echo "$other: $(sh "$dir/$other.sh" stop)"
      done
      exit 1
    fi
  done
  sleep 2
done'''


def supervisor_process(node, spec, serving_dir):
    """The rank supervisor of one node (topology pd_disaggregated): if one of the node's ranks
    dies, the node's group stops instead of running on as a silent half-group."""
    return {"name": spec["name"], "host": node["name"], "kind": "supervisor",
            "group": "supervisor", "role": spec["role"], "stage": spec["stage"],
            "lifecycle": {"type": "foreground"},
            "argv": ["sh", "-c", SUPERVISOR, "supervisor", serving_dir] + list(spec["watch"]),
            "env": {}, "secret_env": [], "ports": {}, "devices": [], "dp_ranks": [],
            "probe": None, "inputs": {"watch": list(spec["watch"])}}


def pd_proxy_backends(profile, nodes, result):
    """The proxy's backend arguments: the example proxy's v0.9.1 form (one host per node with
    its rank count, its first port and the port increment), its current form (one host and one
    port per rank), or vllm-router's --prefill / --decode URL per rank."""
    ranks = dict((side, []) for side in profiles.PD_SIDES)
    for node in sorted(nodes, key=lambda n: n["order"]):
        for proc in result["hosts"][node["name"]]["processes"]:
            if proc["kind"] == "vllm_serve" and proc["role"] in ranks:
                ranks[proc["role"]].append((node["name"], result["hosts"][node["name"]]
                                            ["serving_ip"], proc["ports"]["http"]))
    if profile["proxy"]["kind"] == "vllm_router":
        out = []
        for side in profiles.PD_SIDES:
            for _host, ip, port in ranks[side]:
                out += ["--" + side, "http://%s:%d" % (ip, port)]
        return out
    out = []
    _external, _kv, form = profiles.pd_modes(profile)
    for side, word in (("prefill", "prefiller"), ("decode", "decoder")):
        if form == "v0.9.1":
            per_node = []
            for host, ip, port in ranks[side]:
                if per_node and per_node[-1][0] == host:
                    per_node[-1][3] += 1
                else:
                    per_node.append([host, ip, port, 1])
            out += ["--%s-hosts" % word] + [str(n[1]) for n in per_node]
            out += ["--%s-hosts-num" % word] + [str(n[3]) for n in per_node]
            out += ["--%s-ports" % word] + [str(n[2]) for n in per_node]
            out += ["--%s-ports-inc" % word] + [str(n[3]) for n in per_node]
        else:
            out += ["--%s-hosts" % word] + [str(r[1]) for r in ranks[side]]
            out += ["--%s-ports" % word] + [str(r[2]) for r in ranks[side]]
    return out


def _check_pd_roles(profile, serving, host_inputs, errors):
    """Every serving host names its side; the sides have the profile's node counts."""
    seen = dict((side, []) for side in profiles.PD_SIDES)
    for h in serving:
        role = host_inputs[h["name"]]["pd_role"]
        if role not in seen:
            errors.append("%s: npu_cluster_pd_role is %r; topology pd_disaggregated needs "
                          "prefill or decode on every serving host (set it in the inventory's "
                          "group_vars/prefill.yml and group_vars/decode.yml)" % (h["name"], role))
        else:
            seen[role].append(h["name"])
    if errors:
        return
    for side in profiles.PD_SIDES:
        if len(seen[side]) != profile[side]["nodes"]:
            errors.append("inventory: profile %s needs %d %s nodes, the inventory has %d (%s)" % (
                profile["name"], profile[side]["nodes"], side, len(seen[side]),
                ", ".join(seen[side]) or "none"))


def router_process(profile, node, spec, ip, secret_names):
    """The router on the master node (runbook 004), in front of every engine of the plan."""
    router = profile["router"]
    port = int(profile["ports"]["router"])
    module = router.get("module", "vllm_utils.router")
    env = {}
    secret_env = _apply_env(env, env_layers(profile, "router", node["in"]["npu_cluster_extra_env"]),
                            secret_names, node["in"]["npu_cluster_secret_env"])
    argv = [profile["engine"].get("python", "python"), "-m", module, "--server-urls",
            "{engine_urls}", "--host", ip, "--port", str(port), "--model",
            profile["served_model_name"]]
    return {"name": spec["name"], "host": node["name"], "kind": "router", "group": "router",
            "role": "router", "stage": spec["stage"], "lifecycle": {"type": "foreground"},
            "argv": argv, "env": env, "secret_env": secret_env, "ports": {"http": port}, "devices": [], "dp_ranks": [],
            "probe": {"type": "openai", "url": None, "model": profile["served_model_name"],
                      "completion": True, "api_key_env": None},
            "inputs": {"model": profile["served_model_name"]}}


def _ray_env(hw, devices):
    """Runbook 001: Ray must not rewrite the visible devices of its workers, and every NPU of
    the node is visible (set before `ray start`: Ray's workers inherit it)."""
    env = {}
    if hw.get("ray_noset_env"):
        env[hw["ray_noset_env"]] = "1"
    env[hw["visible_devices_env"]] = ",".join(str(d) for d in range(devices))
    return env


# a raylet runs in the container (its status; no procps needed in a vendor image)
RAYLET_ALIVE = ('for f in /proc/[0-9]*/comm; do [ "$(cat "$f" 2>/dev/null)" = raylet ] '
                '&& exit 0; done; exit 1')


def ray_process(profile, node, spec, ip, nic, devices, secret_names):
    """`ray start` on one node (runbook 001): the head or a worker joining it, with the
    network and device environment set before it, the NPUs registered as Ray's NPU resource
    (or the runbook's --num-gpus form), Ray's planned ports, and a probe that waits until Ray
    shows every node joined so far with its serving IP and NPU count."""
    name, hin = node["name"], node["in"]
    hw = hardware.get(profile["hardware"])
    ports = profiles.ray_ports(profile)
    head = spec["kind"] == "ray_head"
    env = _network_env(hw, ip, nic)
    env.update(_ray_env(hw, devices))
    secret_env = _apply_env(env, env_layers(profile, spec["role"], hin["npu_cluster_extra_env"]),
                            secret_names, hin["npu_cluster_secret_env"])
    argv = ["ray", "start"]
    if head:
        # no --ray-client-server-port: the client server needs ray[client], which the vendor
        # images do not have (`ray start` then refuses the option)
        argv += ["--head", "--node-ip-address=%s" % ip, "--port=%d" % ports["ray_gcs"]]
    else:
        argv += ["--address={head_ip}:%d" % ports["ray_gcs"], "--node-ip-address=%s" % ip]
    argv += ["--object-manager-port=%d" % ports["ray_object_manager"],
             "--node-manager-port=%d" % ports["ray_node_manager"],
             "--min-worker-port=%d" % ports["ray_worker_min"],
             "--max-worker-port=%d" % ports["ray_worker_max"]]
    npus = (profile.get("ray") or {}).get("npus", "resources")
    if npus == "resources":
        argv.append("--resources=%s" % json.dumps({hw["ray_resource"]: devices},
                                                  separators=(",", ":")))
    elif npus == "num_gpus":
        argv.append("--num-gpus=%d" % devices)
    if head:
        argv.append("--include-dashboard=false")
    # no usage report to Ray's servers from a production cluster (or from the lab)
    argv.append("--disable-usage-stats")
    proc_ports = {"ray_object_manager": ports["ray_object_manager"],
                  "ray_node_manager": ports["ray_node_manager"]}
    if head:
        proc_ports.update(ray_gcs=ports["ray_gcs"])
    par = profile["parallel"]
    logs = ["/tmp/ray/session_latest/logs/raylet.out"]
    if head:
        logs.append("/tmp/ray/session_latest/logs/gcs_server.out")
    return {"name": spec["name"], "host": name, "kind": spec["kind"], "group": "ray",
            "role": spec["role"], "stage": spec["stage"],
            "lifecycle": {"type": "daemon", "stop": ["ray", "stop"],
                          "status": ["sh", "-c", RAYLET_ALIVE],
                          # `ray start --address` retries an unreachable head for good
                          "start_timeout": int((profile.get("ray") or {}).get(
                              "start_timeout", 60))},
            "argv": argv, "env": env, "secret_env": secret_env, "ports": proc_ports,
            "port_ranges": {"ray_worker": [ports["ray_worker_min"], ports["ray_worker_max"]]},
            "devices": list(range(devices)), "dp_ranks": [],
            "probe": {"type": "ray", "address": "{head_ip}:%d" % ports["ray_gcs"],
                      "resource": hw["ray_resource"], "joined": spec["joined"], "nodes": [],
                      "counted_by": "ray" if npus == "auto" else "plan",
                      "all_ips": [],
                      "min_total": int(par.get("tp", 1)) * int(par.get("pp", 1))
                      if spec.get("last") else 0,
                      "forbid": ["GPU"]},
            "logs": logs,
            "inputs": {"ray_npus": npus, "ray_gcs": ports["ray_gcs"]}}


def _check_bridge(name, ip, facts, errors):
    for nic, info in sorted(((facts or {}).get("interfaces") or {}).items()):
        if str(ip) in (info.get("ipv4") or []) and _docker_bridge(nic):
            errors.append("%s: npu_cluster_serving_ip %s belongs to the docker bridge %s, which "
                          "other nodes cannot reach: use the node's address on the serving "
                          "network" % (name, ip, nic))


def _check_ports(name, processes, facts, errors):
    seen = {}
    for proc in processes:
        for purpose, port in proc["ports"].items():
            if port in seen:
                errors.append("%s: ports.%s and ports.%s are both %d; every port must be "
                              "distinct" % (name, seen[port], purpose, port))
            seen[port] = purpose
    ranges = [(purpose, low, high, proc["name"]) for proc in processes
              for purpose, (low, high) in sorted((proc.get("port_ranges") or {}).items())]
    for purpose, low, high, owner in ranges:
        for port, other in sorted(seen.items()):
            if low <= port <= high:
                errors.append("%s: port %d (%s) is inside the %s port range %d-%d of %s" % (
                    name, port, other, purpose, low, high, owner))
    if facts and not facts.get("serving_running"):
        for item in facts.get("listening") or []:
            for purpose, low, high, owner in ranges:
                if low <= (item.get("port") or 0) <= high:
                    errors.append("%s: port %d is in the %s port range %d-%d of %s and already "
                                  "in use by %s (pid %s); stop it or move the range" % (
                                      name, item["port"], purpose, low, high, owner,
                                      item.get("name") or "a process", item.get("pid") or "?"))
            if item.get("port") in seen:
                errors.append("%s: port %d (%s) is already in use by %s (pid %s); stop it or "
                              "choose another port" % (
                                  name, item["port"], seen[item["port"]],
                                  item.get("name") or "a process", item.get("pid") or "?"))


def _check_consistency(result, nodes, profile):
    """Every process of a data-parallel group runs the same model, DP size, TP, PP, expert
    parallelism and engine version: compared on the planner's inputs, not on argv."""
    procs = [(n["name"], p) for n in nodes for p in result["hosts"][n["name"]]["processes"]
             if p["kind"] == "vllm_serve"]
    refs = {}
    for host, proc in procs:
        if proc["group"] not in refs:
            refs[proc["group"]] = (host, proc)
            continue
        ref_host, ref = refs[proc["group"]]
        for what, value in proc["inputs"].items():
            if value != ref["inputs"][what]:
                result["errors"].append(
                    "%s: %s is %s but %s on the head %s; every node of a data-parallel group "
                    "must run the same" % (host, what.replace("_", " "), value,
                                           ref["inputs"][what], ref_host))


def secret_values(profile, result, hostvars):
    """{host: {process name: {NAME: value}}}: the secret environment of every planned
    process (the profile's env entries whose names are secret, the host's npu_cluster_extra_env
    ones and its npu_cluster_secret_env).  Only for the task that writes the secrets files
    (no_log); never part of the plan."""
    names = profiles.secret_names(profile)
    out = {}
    for host, entry in (result.get("hosts") or {}).items():
        hv = hostvars.get(host) or {}
        for proc in entry.get("processes") or []:
            values = {}
            for layer in env_layers(profile, proc.get("role"), hv.get("npu_cluster_extra_env")):
                for key, value in layer.items():
                    if str(key) in names:
                        values[str(key)] = _value(value)
            for key, value in (hv.get("npu_cluster_secret_env") or {}).items():
                values[str(key)] = _value(value)
            if values:
                out.setdefault(host, {})[proc["name"]] = values
    return out
