# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Topologies: small planner units (controller only).  Each takes the profile and the serving
nodes (already validated, head first) and says which processes run where, in which stages,
what each stage waits for, and where the public endpoint is.  The planner (planner.py) does
everything they share: inputs, environment, engine command line, checks and rendering.

A unit returns {"roles": {host: role}, "processes": {host: [process spec]}, "stages": [...],
"endpoint": {"host", "process"}, "groups": {...}}; a process spec is what
planner.engine_process needs (role, local DP size, start rank, stage, probe)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


def single(profile, nodes):
    """One `vllm serve` on one node (runbook 002's W8A8 single-node variant)."""
    head = nodes[0]
    return {
        "roles": {head["name"]: "single"},
        "processes": {head["name"]: [{"name": "vllm-serve", "role": "single", "local": 1,
                                      "start": 0, "stage": 0, "ready": True}]},
        "stages": [{"name": "engine", "wait": "ready",
                    "processes": [{"host": head["name"], "name": "vllm-serve"}]}],
        "endpoint": {"host": head["name"], "process": "vllm-serve"},
        "groups": {},
    }


def dp_headless(profile, nodes):
    """One `vllm serve` per node: the head (API server, DP master) and `--headless` nodes
    holding consecutive DP ranks (runbooks 000 and 002).  The headless nodes start first and
    wait for the head; the head is ready when every rank joined and it serves."""
    par = profile["parallel"]
    start = 0
    roles, processes = {}, {}
    for index, node in enumerate(nodes):
        role = "head" if index == 0 else "headless"
        roles[node["name"]] = role
        processes[node["name"]] = [{"name": "vllm-serve", "role": role, "local": node["local"],
                                    "start": start, "stage": 1 if role == "head" else 0,
                                    "ready": role == "head"}]
        start += node["local"]
    head = nodes[0]["name"]
    headless = [n["name"] for n in nodes[1:]]
    stages = []
    if headless:
        stages.append({"name": "headless ranks", "wait": "started",
                       "processes": [{"host": h, "name": "vllm-serve"} for h in headless]})
    stages.append({"name": "head", "wait": "ready",
                   "processes": [{"host": head, "name": "vllm-serve"}]})
    return {
        "roles": roles, "processes": processes, "stages": stages,
        "endpoint": {"host": head, "process": "vllm-serve"},
        "groups": {"serve": {"kind": "data_parallel", "size": int(par.get("dp", 1)),
                             "local_sizes": dict((n["name"], n["local"]) for n in nodes),
                             "master": {"host": head}}},
        "dp_total": start,
    }


def ray(profile, nodes):
    """Runbook 001: a Ray cluster across the nodes, then one engine on the head that uses it.
    `ray start --head` first; then the workers join one at a time, each stage ready only when
    Ray shows every node so far alive with its serving IP and its NPUs (joining many at once
    is a reported failure); then `vllm serve --distributed-executor-backend ray` on the head."""
    head = nodes[0]["name"]
    roles = {head: "ray_head"}
    processes = {head: [{"name": "ray-head", "kind": "ray_head", "role": "ray_head",
                         "stage": 0, "joined": [n["name"] for n in nodes[:1]]}]}
    stages = [{"name": "ray head", "wait": "ready",
               "processes": [{"host": head, "name": "ray-head"}]}]
    for index, node in enumerate(nodes[1:], 1):
        roles[node["name"]] = "ray_worker"
        processes[node["name"]] = [{"name": "ray-worker", "kind": "ray_worker",
                                    "role": "ray_worker", "stage": index,
                                    "joined": [n["name"] for n in nodes[:index + 1]],
                                    "last": index == len(nodes) - 1}]
        stages.append({"name": "ray worker %s" % node["name"], "wait": "ready",
                       "processes": [{"host": node["name"], "name": "ray-worker"}]})
    if len(nodes) == 1:
        processes[head][0]["last"] = True
    processes[head].append({"name": "vllm-serve", "kind": "vllm_serve", "role": "ray_driver",
                            "local": 1, "start": 0, "stage": len(stages), "ready": True})
    stages.append({"name": "engine", "wait": "ready",
                   "processes": [{"host": head, "name": "vllm-serve"}]})
    return {
        "roles": roles, "processes": processes, "stages": stages,
        "endpoint": {"host": head, "process": "vllm-serve"},
        "groups": {"ray": {"kind": "ray", "size": len(nodes), "master": {"host": head}}},
    }


def dp_per_rank(profile, nodes):
    """One engine process per data-parallel rank (runbook 004): every node runs
    parallel.dp_per_node engines, each on its own device slice and port, joined into one DP
    group through the VLLM_DP_* environment (master: the first node); with a `router` in the
    profile, a router on the first node in front of every engine is the public endpoint, started
    once every engine answers."""
    head = nodes[0]["name"]
    roles, processes, engines = {}, {}, []
    rank = 0
    for index, node in enumerate(nodes):
        roles[node["name"]] = "master" if index == 0 else "rank"
        processes[node["name"]] = []
        for local in range(node["local"]):
            name = "vllm-dp%d" % rank
            processes[node["name"]].append({"name": name, "role": "rank", "local": 1,
                                            "start": rank, "slot": local, "stage": 0,
                                            "ready": True, "completion": False})
            engines.append({"host": node["name"], "name": name})
            rank += 1
    stages = [{"name": "engines", "wait": "ready", "processes": engines}]
    endpoint = {"host": engines[0]["host"], "process": engines[0]["name"]}
    if profile.get("router"):
        processes[head].append({"name": "router", "kind": "router", "role": "router",
                                "stage": 1})
        stages.append({"name": "router", "wait": "ready",
                       "processes": [{"host": head, "name": "router"}]})
        endpoint = {"host": head, "process": "router"}
    return {
        "roles": roles, "processes": processes, "stages": stages, "endpoint": endpoint,
        "groups": {"serve": {"kind": "data_parallel", "size": int(profile["parallel"]["dp"]),
                             "local_sizes": dict((n["name"], n["local"]) for n in nodes),
                             "master": {"host": head}}},
        "dp_total": rank,
    }


def pd_disaggregated(profile, nodes):
    """Prefill/decode disaggregation (runbook 003): the hosts whose npu_cluster_pd_role is
    `prefill` and `decode`, each in inventory order, run one engine per DP rank; a side with
    master `each_node` makes every node a DP group of its own (its own master), `first_node` one
    group over the side's nodes mastered by the first.  Every rank of both sides starts at once
    (one stage, ready when each answers), then a supervisor on every node that stops the node's
    ranks when one of them dies, then the proxy or router on the head host, ready when a
    completion goes through it."""
    head = nodes[0]["name"]
    ordered = sorted(nodes, key=lambda n: n["order"])
    roles, processes, engines, groups = {}, {}, [], {}
    for side in ("prefill", "decode"):
        conf = profile[side]
        par = conf["parallel"]
        mine = [n for n in ordered if n["pd_role"] == side]
        for index, node in enumerate(mine):
            group = "%s-%d" % (side, index) if conf["master"] == "each_node" else side
            master = node if conf["master"] == "each_node" else mine[0]
            first_rank = 0 if conf["master"] == "each_node" else index * par["dp_per_node"]
            roles[node["name"]] = side
            processes[node["name"]] = []
            for local in range(par["dp_per_node"]):
                rank = first_rank + local
                name = "vllm-%s-dp%d" % (side[0], rank)
                processes[node["name"]].append({
                    "name": name, "role": side, "group": group, "local": 1, "start": rank,
                    "slot": local, "stage": 0, "ready": True, "completion": False,
                    "dp": par["dp"], "dp_local": par["dp_per_node"], "master": master["name"],
                    "instance": index if conf["master"] == "each_node" else 0})
                engines.append({"host": node["name"], "name": name})
            groups.setdefault(group, {"kind": "data_parallel", "size": par["dp"], "side": side,
                                      "local_sizes": {}, "master": {"host": master["name"]}})
            groups[group]["local_sizes"][node["name"]] = par["dp_per_node"]
    # one supervisor per node, once its ranks are up: if one of them dies, it stops the node's
    # others (no silent half-group), and a stop of the deployment stops it first
    supervisors = []
    for node in ordered:
        ranks = [p["name"] for p in processes[node["name"]]]
        processes[node["name"]].append({"name": "supervisor", "kind": "supervisor",
                                        "role": node["pd_role"], "stage": 1, "watch": ranks})
        supervisors.append({"host": node["name"], "name": "supervisor"})
    processes.setdefault(head, []).append({"name": "proxy", "kind": "proxy", "role": "proxy",
                                           "stage": 2})
    return {
        "roles": roles, "processes": processes,
        "stages": [{"name": "prefill and decode ranks", "wait": "ready", "processes": engines},
                   {"name": "rank supervisors", "wait": "started", "processes": supervisors},
                   {"name": "proxy", "wait": "ready",
                    "processes": [{"host": head, "name": "proxy"}]}],
        "endpoint": {"host": head, "process": "proxy"}, "groups": groups,
    }


UNITS = {"single": single, "dp_headless": dp_headless, "ray": ray, "dp_per_rank": dp_per_rank,
         "pd_disaggregated": pd_disaggregated}
