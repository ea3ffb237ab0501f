# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Benchmark filters: thin edges over plugins/plugin_utils/bench.py.

bench_settings  [profile bench, inventory bench] | bench_settings   -> settings, runs, problems
bench_argv      run | bench_argv(client, url, model, served, tokenizer, dir) -> the client's argv
bench_records   runs | bench_records(raw_dir, client, version, plan, fabric) -> records, problems,
                gate, table
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible.errors import AnsibleFilterError
from ansible_collections.npu.cluster.plugins.plugin_utils import bench


def bench_settings(layers):
    if not isinstance(layers, list):
        raise AnsibleFilterError("bench_settings expects a list of mappings (profile bench, "
                                 "inventory npu_cluster_bench)")
    for layer in layers:
        if layer not in (None, "") and not isinstance(layer, dict):
            raise AnsibleFilterError("bench settings must be mappings, got %s"
                                     % type(layer).__name__)
    conf = bench.settings(*[layer or {} for layer in layers])
    conf["problems"] = bench.problems_of_settings(conf)
    return conf


def bench_argv(run, client, base_url, model, served_model_name, tokenizer, result_dir=None):
    return bench.argv(client, run, base_url, model, served_model_name, tokenizer,
                      result_dir or None, run.get("name"))


def bench_records(runs, raw_dir, client_name, version=None, plan=None, fabric=None,
                  fabric_source=None):
    """One record per run from `<raw_dir>/<run name>.json` (the client's result, fetched to the
    controller)."""
    results = []
    for run in runs:
        path = os.path.join(raw_dir, "%s.json" % run["name"])
        try:
            with open(path) as handle:
                raw = json.load(handle)
        except (OSError, ValueError) as exc:
            raise AnsibleFilterError("bench run %s: its result %s could not be read: %s" % (
                run["name"], path, exc))
        results.append({"name": run["name"], "raw": raw, "client_name": client_name,
                        "version": version, "baseline": run.get("baseline")})
    try:
        out = bench.records(results, bench.deployment(plan, fabric, fabric_source))
    except bench.BenchError as exc:
        raise AnsibleFilterError("a benchmark result could not be read: %s" % exc)
    out["table"] = bench.table(out["records"])
    return out


class FilterModule(object):
    def filters(self):
        return {"bench_settings": bench_settings, "bench_argv": bench_argv,
                "bench_records": bench_records}
