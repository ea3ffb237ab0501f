# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Benchmark filters: thin edges over plugins/plugin_utils/bench.py.

bench_settings  [profile bench, inventory bench] | bench_settings   -> settings, runs, problems, aisbench_files
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
    conf["aisbench_files"] = sorted(bench.AISBENCH_FILES.values())   # what the role fetches
    return conf


def bench_argv(run, client, base_url, model, served_model_name, tokenizer, result_dir=None,
               save=True):
    try:
        return bench.argv(client, run, base_url, model, served_model_name, tokenizer,
                          result_dir or None, run.get("name"), save=save)
    except ValueError as exc:
        raise AnsibleFilterError("bench run %s: %s" % (run.get("name"), exc))


def bench_aisbench_config(run, base_url, served_model_name, tokenizer):
    try:
        return bench.aisbench_config(run, base_url, served_model_name, tokenizer)
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("bench run %s: no AISBench config: %s" % (run.get("name"), exc))


def _read(path, how):
    with open(path) as handle:
        return json.load(handle) if how == "json" else handle.read()


def _aisbench_result(run_dir):
    """AISBench's files for one run, fetched flat into <raw_dir>/<run>/: <dataset>.json,
    <dataset>.csv and <dataset>_failed.jsonl (any may be missing: with every request failed
    only the last is written)."""
    out = {"common": None, "csv": None, "failed_lines": []}
    for key, name in bench.AISBENCH_FILES.items():
        path = os.path.join(run_dir, name)
        if not os.path.exists(path):
            continue
        text = _read(path, "text")
        if key == "common":
            out["common"] = json.loads(text)
        elif key == "failed":
            out["failed_lines"] = text.splitlines()
        else:
            out["csv"] = text
    return out


def bench_records(runs, raw_dir, client, version=None, plan=None, fabric=None,
                  fabric_source=None):
    """One record per run from the client's result fetched to the controller:
    `<raw_dir>/<run name>.json` (vllm bench serve, vllm_utils) or the AISBench files in
    `<raw_dir>/<run name>/`."""
    results = []
    for run in runs:
        entry = {"name": run["name"], "client_name": bench.CLIENT_NAMES.get(client, client),
                 "version": version, "baseline": run.get("baseline"), "run": run}
        path = os.path.join(raw_dir, run["name"] if client == "aisbench"
                            else "%s.json" % run["name"])
        try:
            if client == "aisbench":
                entry["aisbench"] = _aisbench_result(path)
            else:
                entry["raw"] = _read(path, "json")
        except (OSError, ValueError) as exc:
            raise AnsibleFilterError("bench run %s: its result %s could not be read: %s" % (
                run["name"], path, exc))
        results.append(entry)
    try:
        out = bench.records(results, bench.deployment(plan, fabric, fabric_source))
    except bench.BenchError as exc:
        raise AnsibleFilterError("a benchmark result could not be read: %s" % exc)
    out["table"] = bench.table(out["records"])
    return out


class FilterModule(object):
    def filters(self):
        return {"bench_settings": bench_settings, "bench_argv": bench_argv,
                "bench_aisbench_config": bench_aisbench_config, "bench_records": bench_records}
