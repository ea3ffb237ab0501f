# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""The launch planner: inventory + deployment profile + node facts -> what runs on each host.

Pure functions, no Ansible and no I/O: the `serving_plan` filter feeds it hostvars and
`npu-cluster plan` feeds it the inventory alone (facts that need a host then show as marked
unknowns).  The plan format is the contract with the roles:

    {"profile": name, "topology": ..., "endpoint": "http://ip:port", "served_model_name": ...,
     "head": host, "stages": [[hosts started first], [then these]],
     "hosts": {host: {"role": "head"|"headless"|"single"|"idle", "serving_ip", "nic",
                      "device_count", "container": {name, image, devices, volumes},
                      "processes": [{"name", "kind", "group", "stage", "argv", "env",
                                     "ports": {purpose: port}, "devices": [ids],
                                     "dp_ranks": [ranks], "script"}]}},
     "errors": [...], "warnings": [...], "unknowns": [...]}

Later topologies fit in the same shape: a Ray cluster is a `ray` process per host in stage 0
and one `vllm serve` on the head in stage 1; one engine per DP rank is several processes per
host, each with its `VLLM_DP_*` env, port and device slice; prefill/decode are process
`group`s with their own DP master, plus a `proxy` process.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

try:
    from shlex import quote as _quote
except ImportError:  # pragma: no cover - Python 2 controllers are not supported
    from pipes import quote as _quote

from ansible_collections.npu.cluster.plugins.plugin_utils import vllm_args

TOPOLOGIES = ("dp_headless", "single")
FUTURE_TOPOLOGIES = ("ray", "dp_per_rank", "pd_disaggregated")
HARDWARE_DEVICES = {"ascend_a2": 8, "ascend_a3": 16, "enflame_gcu": 8}
UNKNOWN = "<unknown: %s>"
ASCEND_CONTROL_DEVICES = ("/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc")
ASCEND_MOUNTS = (
    "/usr/local/dcmi",
    "/usr/local/Ascend/driver/tools/hccn_tool",
    "/usr/local/bin/npu-smi",
    "/usr/local/Ascend/driver/lib64/",
    "/usr/local/Ascend/driver/version.info",
    "/etc/ascend_install.info",
    "/etc/hccn.conf",
)
# Flags the planner owns: a profile's engine_args must not set them.
PLANNER_FLAGS = {"host", "port", "headless", "data-parallel-size", "data-parallel-size-local",
                 "data-parallel-start-rank", "data-parallel-address", "data-parallel-rpc-port",
                 "tensor-parallel-size", "pipeline-parallel-size", "served-model-name",
                 "enable-expert-parallel"}
REQUIRED = ("name", "topology", "image", "engine", "model", "served_model_name", "parallel",
            "ports")


def is_unknown(value):
    return isinstance(value, str) and value.startswith("<unknown")


# ---------------------------------------------------------------------------- profile checks

def profile_problems(profile):
    """Schema errors of a profile (a dict loaded from YAML), each naming the key and rule."""
    name = (profile or {}).get("name", "?") if isinstance(profile, dict) else "?"
    if not isinstance(profile, dict):
        return ["profile: expected a mapping, got %s" % type(profile).__name__]
    out = []
    for key in REQUIRED:
        if key not in profile:
            out.append("profile %s: %s is required" % (name, key))
    if out:
        return out
    if profile["topology"] not in TOPOLOGIES:
        hint = (" (planned for a later release)" if profile["topology"] in FUTURE_TOPOLOGIES
                else "")
        out.append("profile %s: topology %r is not one of %s%s" % (
            name, profile["topology"], ", ".join(TOPOLOGIES), hint))
    engine = profile["engine"]
    if not isinstance(engine, dict) or "version" not in engine:
        out.append("profile %s: engine must be a mapping with name and version" % name)
    par = profile["parallel"]
    if not isinstance(par, dict):
        return out + ["profile %s: parallel must be a mapping" % name]
    for key in ("dp", "dp_per_node", "tp", "pp"):
        val = par.get(key, 1)
        if not isinstance(val, int) or isinstance(val, bool) or val < 1:
            out.append("profile %s: parallel.%s must be a positive integer, got %r" % (
                name, key, val))
    ports = profile["ports"]
    if not isinstance(ports, dict) or "http" not in ports:
        out.append("profile %s: ports.http is required" % name)
    elif profile["topology"] == "dp_headless" and "dp_rpc" not in ports:
        out.append("profile %s: ports.dp_rpc is required for topology dp_headless" % name)
    for section in ("env", "engine_args"):
        for scope, where in ((profile, section), (profile.get("head") or {}, "head." + section),
                             (profile.get("headless") or {}, "headless." + section)):
            val = scope.get(section) if isinstance(scope, dict) else None
            if val is not None and not isinstance(val, dict):
                out.append("profile %s: %s must be a mapping" % (name, where))
    for where, args in _arg_sections(profile):
        for key in args:
            if _norm(key) in PLANNER_FLAGS:
                out.append("profile %s: %s sets --%s, which the planner derives from parallel/"
                           "ports/served_model_name; remove it" % (name, where, _norm(key)))
    return out


def _arg_sections(profile):
    yield "engine_args", profile.get("engine_args") or {}
    for role in ("head", "headless"):
        yield role + ".engine_args", (profile.get(role) or {}).get("engine_args") or {}


def _norm(key):
    return str(key).lstrip("-").replace("_", "-")


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
        flag = "--" + _norm(key)
        if value is None:
            continue
        if isinstance(value, bool):
            found = sch.lookup(flag) if sch else None
            if value:
                argv.append(flag)
            elif found and found[0]["boolean_optional"]:
                argv.append("--no-" + flag[2:])
            else:
                # not negatable: leaving it out is `false`
                continue
            continue
        argv += [flag, _value(value)]
    return argv


def launch_script(process):
    """The /bin/sh script that runs one process: every value quoted, exec'd so signals reach
    the engine."""
    lines = ["#!/bin/sh", "# Written by npu.cluster (%s on %s); do not edit: re-run the playbook."
             % (process["name"], process.get("host", "?")), "set -e"]
    for key, value in process["env"].items():
        lines.append("export %s=%s" % (key, _quote(str(value))))
    argv = [_quote(a) for a in process["argv"]]
    body, line = [], "exec " + " ".join(argv[:3])
    rest = argv[3:]
    i = 0
    while i < len(rest):
        item = rest[i]
        if item.startswith("--") and i + 1 < len(rest) and not rest[i + 1].startswith("--"):
            item += " " + rest[i + 1]
            i += 1
        body.append(line)
        line = "  " + item
        i += 1
    body.append(line)
    lines.append(" \\\n".join(body))
    return "\n".join(lines) + "\n"


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


# ---------------------------------------------------------------------------- the plan

def plan(profile, hosts):
    """Plan a deployment.

    profile: dict (see profiles/*.yml).  hosts: ordered list of
      {"name": str, "vars": {inventory variables}, "facts": {...} or None}
    where facts (all optional) are {"default_ipv4", "interfaces": {nic: {"ipv4": [..],
    "type"}}, "device_count", "listening": [{"port", "address", "name", "pid"}],
    "serving_running": bool}.
    """
    result = {"profile": (profile or {}).get("name") if isinstance(profile, dict) else None,
              "hosts": {}, "stages": [], "errors": [], "warnings": [], "unknowns": []}
    errors = result["errors"]
    problems = profile_problems(profile)
    if problems:
        errors.extend(problems)
        return result
    if not hosts:
        errors.append("inventory: the serving group has no hosts")
        return result
    par = profile["parallel"]
    topo = profile["topology"]
    need = int(profile.get("nodes") or len(hosts))
    if len(hosts) < need:
        errors.append("inventory: profile %s needs %d nodes, the serving group has %d (%s)" % (
            profile["name"], need, len(hosts), ", ".join(h["name"] for h in hosts)))
        return result
    serving = hosts[:need]
    for idle in hosts[need:]:
        result["hosts"][idle["name"]] = {"role": "idle", "processes": []}
        result["warnings"].append("%s: not used by profile %s (%d node%s)" % (
            idle["name"], profile["name"], need, "" if need == 1 else "s"))
    heads = [h["name"] for h in serving if (h.get("vars") or {}).get("npu_cluster_head")]
    if len(heads) > 1:
        errors.append("inventory: npu_cluster_head is true on %s; exactly one host may be the "
                      "head" % ", ".join(heads))
        return result
    head = heads[0] if heads else serving[0]["name"]
    ordered = [h for h in serving if h["name"] == head] + [h for h in serving
                                                           if h["name"] != head]
    result["head"] = head
    result["topology"] = topo
    result["served_model_name"] = profile["served_model_name"]

    # per-node DP slices: start ranks are cumulative, head first
    start = 0
    nodes = []
    for h in ordered:
        hv = h.get("vars") or {}
        local = hv.get("npu_cluster_dp_size_local", par.get("dp_per_node", 1))
        nodes.append({"host": h, "local": int(local), "start": start})
        start += int(local)
    dp = int(par.get("dp", 1))
    if topo == "dp_headless" and start != dp:
        errors.append("profile %s: parallel.dp = %d but the per-node DP sizes sum to %d (%s); "
                      "data-parallel size must equal the sum of every node's "
                      "data-parallel-size-local" % (profile["name"], dp, start, ", ".join(
                          "%s=%d" % (n["host"]["name"], n["local"]) for n in nodes)))
    head_ip = None
    versions = {}
    for index, node in enumerate(nodes):
        h = node["host"]
        name, hv, facts = h["name"], h.get("vars") or {}, h.get("facts")
        role = "single" if topo == "single" else ("head" if index == 0 else "headless")
        entry = _plan_host(profile, name, hv, facts, role, node, dp, result)
        result["hosts"][name] = entry
        versions[name] = entry.pop("_version")
        if role in ("head", "single"):
            head_ip = entry["serving_ip"]
    # head address into the headless argv, then render scripts
    for node in nodes:
        entry = result["hosts"][node["host"]["name"]]
        for proc in entry["processes"]:
            proc["argv"] = [head_ip if a == "{head_ip}" else a for a in proc["argv"]]
            proc["script"] = launch_script(proc)
    result["endpoint"] = "http://%s:%s" % (head_ip, profile["ports"]["http"])
    headless = [n["host"]["name"] for n in nodes[1:]]
    result["stages"] = ([headless, [head]] if headless else [[head]])
    _check_consistency(result, versions, nodes)
    result["hosts"] = {h["name"]: result["hosts"][h["name"]] for h in hosts}
    return result


def _plan_host(profile, name, hv, facts, role, node, dp, result):
    par = profile["parallel"]
    errors, unknowns = result["errors"], result["unknowns"]
    version = str(hv.get("npu_cluster_engine_version") or profile["engine"]["version"])
    try:
        sch = vllm_args.schema(version)
    except ValueError as exc:
        errors.append("%s: npu_cluster_engine_version / profile engine.version: %s" % (name, exc))
        sch = None

    # serving IP and its NIC
    ip = hv.get("npu_cluster_serving_ip") or (facts or {}).get("default_ipv4")
    if not ip:
        ip = UNKNOWN % "serving IP, from facts"
        unknowns.append("%s: npu_cluster_serving_ip (the default-route address needs facts)"
                        % name)
    else:
        _check_ip(name, ip, facts, errors)
    nic = hv.get("npu_cluster_serving_nic")
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

    # devices
    devices = (facts or {}).get("device_count") or hv.get("npu_cluster_expected_devices") or \
        HARDWARE_DEVICES.get(profile.get("hardware"), 0)
    per_rank = int(par.get("tp", 1)) * int(par.get("pp", 1))
    local = node["local"]
    if role == "single":
        local = 1
    need = local * per_rank
    if need > devices:
        errors.append("%s: data-parallel-size-local %d x tensor-parallel-size %d%s = %d > %d NPUs "
                      "on %s" % (name, local, par.get("tp", 1),
                                 (" x pipeline-parallel-size %d" % par.get("pp"))
                                 if par.get("pp", 1) > 1 else "", need, devices, name))
    if role == "headless" and node["start"] + local > dp:
        errors.append("%s: data-parallel-start-rank %d + data-parallel-size-local %d > "
                      "data-parallel-size %d" % (name, node["start"], local, dp))

    # env: network first (multi-node only), then the profile's, the role's, the host's
    env = {}
    if role != "single":
        env.update({"HCCL_IF_IP": ip, "GLOO_SOCKET_IFNAME": nic, "TP_SOCKET_IFNAME": nic,
                    "HCCL_SOCKET_IFNAME": nic})
    env.update({str(k): _value(v) for k, v in (profile.get("env") or {}).items()})
    env.update({str(k): _value(v) for k, v in
                ((profile.get(role) or {}).get("env") or {}).items()})
    env.update({str(k): _value(v) for k, v in (hv.get("npu_cluster_extra_env") or {}).items()})

    # argv
    ports = profile["ports"]
    http_port = int(hv.get("npu_cluster_http_port") or ports["http"])
    argv = ["vllm", "serve", profile["model"], "--host", str(profile.get("listen_host",
                                                                         "0.0.0.0")),
            "--port", str(http_port)]
    proc_ports = {"http": http_port}
    if role == "headless":
        argv.append("--headless")
    if role in ("head", "headless"):
        argv += ["--data-parallel-size", str(dp), "--data-parallel-size-local", str(local)]
        if role == "headless":
            argv += ["--data-parallel-start-rank", str(node["start"])]
        argv += ["--data-parallel-address", ip if role == "head" else "{head_ip}",
                 "--data-parallel-rpc-port", str(ports["dp_rpc"])]
        if role == "head":
            proc_ports["dp_rpc"] = int(ports["dp_rpc"])
    argv += ["--tensor-parallel-size", str(par.get("tp", 1))]
    if int(par.get("pp", 1)) > 1:
        argv += ["--pipeline-parallel-size", str(par["pp"])]
    argv += ["--served-model-name", profile["served_model_name"]]
    if par.get("ep"):
        argv.append("--enable-expert-parallel")
    args = dict(profile.get("engine_args") or {})
    args.update((profile.get(role) or {}).get("engine_args") or {})
    args.update(hv.get("npu_cluster_extra_engine_args") or {})
    argv += render_args(args, sch)
    if sch is not None:
        # placeholders parse as the values they stand for
        parsed = vllm_args.parse(version, [("0.0.0.0" if a == "{head_ip}" or is_unknown(a)
                                            else a) for a in argv[2:]])
        for err in parsed["errors"]:
            errors.append("%s: vLLM %s rejects the command line: %s (profile %s, "
                          "engine.version %s)" % (name, version, err, profile["name"], version))

    # ports distinct and free
    seen = {}
    for purpose, port in proc_ports.items():
        if port in seen:
            errors.append("%s: ports.%s and ports.%s are both %d; every port must be distinct"
                          % (name, seen[port], purpose, port))
        seen[port] = purpose
    if facts and not facts.get("serving_running"):
        for item in facts.get("listening") or []:
            if item.get("port") in seen:
                errors.append("%s: port %d (%s) is already in use by %s (pid %s); stop it or "
                              "choose another port" % (
                                  name, item["port"], seen[item["port"]],
                                  item.get("name") or "a process", item.get("pid") or "?"))

    ranks = list(range(node["start"], node["start"] + local)) if role != "single" else [0]
    image = hv.get("npu_cluster_image") or profile["image"]
    cache = hv.get("npu_cluster_model_cache") or (profile.get("container") or {}).get(
        "model_cache", "/root/.cache")
    proc = {"name": "vllm-serve", "kind": "vllm_serve", "group": "serve", "host": name,
            "stage": 1 if role == "head" else 0,
            "argv": argv, "env": env, "ports": proc_ports,
            "devices": list(range(need)), "dp_ranks": ranks}
    return {"role": role, "serving_ip": ip, "nic": nic, "device_count": devices,
            "engine_version": version,
            "container": {"name": (profile.get("container") or {}).get("name", "vllm"),
                          "image": image,
                          "devices": ["/dev/davinci%d" % d for d in range(devices)] +
                          list(ASCEND_CONTROL_DEVICES),
                          "volumes": ["%s:%s" % (m, m) for m in ASCEND_MOUNTS] +
                          ["%s:/root/.cache" % cache],
                          # the same as bind mounts: a missing source fails instead of
                          # becoming an empty directory (docker -v would create one)
                          "mounts": [{"type": "bind", "source": m.rstrip("/") or "/",
                                      "target": m.rstrip("/") or "/", "read_only": False}
                                     for m in ASCEND_MOUNTS] +
                          [{"type": "bind", "source": cache, "target": "/root/.cache",
                            "read_only": False}]},
            "processes": [proc], "_version": version}


def _check_ip(name, ip, facts, errors):
    try:
        addr = ipaddress.ip_address(str(ip))
    except ValueError:
        errors.append("%s: npu_cluster_serving_ip %r is not an IP address" % (name, ip))
        return
    if addr.is_loopback:
        errors.append("%s: npu_cluster_serving_ip %s is a loopback address; other nodes cannot "
                      "reach it: use the node's address on the serving network" % (name, ip))
    for nic, info in sorted(((facts or {}).get("interfaces") or {}).items()):
        if str(ip) in (info.get("ipv4") or []) and _docker_bridge(nic):
            errors.append("%s: npu_cluster_serving_ip %s belongs to the docker bridge %s, which "
                          "other nodes cannot reach: use the node's address on the serving "
                          "network" % (name, ip, nic))


def _check_consistency(result, versions, nodes):
    """The same model, DP size, EP flag and engine version on every node."""
    def key(host):
        proc = result["hosts"][host]["processes"][0]
        argv = proc["argv"]
        dp_size = argv[argv.index("--data-parallel-size") + 1] \
            if "--data-parallel-size" in argv else "1"
        return {"model": argv[2], "data-parallel-size": dp_size,
                "expert parallel": "--enable-expert-parallel" in argv,
                "engine version": versions[host]}
    hosts = [n["host"]["name"] for n in nodes]
    if len(hosts) < 2:
        return
    ref = key(hosts[0])
    for host in hosts[1:]:
        other = key(host)
        for what in ref:
            if ref[what] != other[what]:
                result["errors"].append(
                    "%s: %s is %s but %s on the head %s; every node of a data-parallel group "
                    "must run the same" % (host, what, other[what], ref[what], hosts[0]))


# ---------------------------------------------------------------------------- text output

def render_text(result):
    """The plan as a readable table per host (what `npu-cluster plan` prints)."""
    out = []
    if result.get("profile"):
        out.append("profile %s (%s), endpoint %s, served as %s" % (
            result["profile"], result.get("topology", "?"), result.get("endpoint", "?"),
            result.get("served_model_name", "?")))
        if result.get("stages"):
            out.append("start order: " + " -> ".join(", ".join(s) for s in result["stages"]))
    for host, entry in result["hosts"].items():
        out.append("")
        if entry["role"] == "idle":
            out.append("== %s: idle (not used by this profile)" % host)
            continue
        out.append("== %s: %s, serving IP %s on %s, %s NPUs, vLLM %s" % (
            host, entry["role"], entry["serving_ip"], entry["nic"], entry["device_count"],
            entry["engine_version"]))
        out.append("   container %s from %s" % (entry["container"]["name"],
                                                entry["container"]["image"]))
        for proc in entry["processes"]:
            out.append("   process %s (stage %d): ports %s, devices %s, DP ranks %s" % (
                proc["name"], proc["stage"], ", ".join("%s=%s" % kv for kv in
                                                       sorted(proc["ports"].items())),
                _ranges(proc["devices"]), _ranges(proc["dp_ranks"])))
            for line in proc["script"].splitlines()[3:]:
                out.append("     " + line)
    for title, items in (("unknown until facts are gathered", result["unknowns"]),
                         ("warnings", result["warnings"]), ("errors", result["errors"])):
        if items:
            out.append("")
            out.append("%s:" % title)
            out.extend("  - " + item for item in items)
    return "\n".join(out) + "\n"


def _ranges(items):
    items = list(items)
    if not items:
        return "-"
    if items == list(range(items[0], items[-1] + 1)) and len(items) > 2:
        return "%d-%d" % (items[0], items[-1])
    return ",".join(str(i) for i in items)
