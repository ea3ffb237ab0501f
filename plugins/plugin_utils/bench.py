# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Benchmark records: one normalised record per client run, the baseline gate, and comparison.

Controller-only, pure.  A record (schema version 1, `schemas/bench_record.schema.json`):

    {"schema": 1, "client": {"name", "version"}, "run": {the client's parameters},
     "completed", "failed", "duration_s", "first_error",
     "metrics": {"request_throughput", "output_throughput", "total_token_throughput",
                 "ttft_ms": {"mean", "median", "p99"}, "tpot_ms": {...}, "itl_ms": {...},
                 "e2el_ms": {...}},
     "deployment": {...}}   # filled by the caller: plan, engine, hosts, fabric verdict

Readers: `vllm bench serve --save-result` JSON (vLLM 0.1x-0.3x), the older schema of the
Enflame fork's `vllm_utils.benchmark_serving` (no `failed` field: derived from the prompt count),
and AISBench's perf mode (`ais_bench`, ais-bench-benchmark 3.1.x): its common metrics
`<dataset>.json`, its per-request statistics `<dataset>.csv` and its `<dataset>_failed.jsonl`.
A metric name in a baseline or a comparison is a path: `output_throughput`, `tpot_ms.p99`.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import json

try:
    from urllib.parse import urlsplit
except ImportError:   # Python 2 (ansible-test's import sanity)
    from urlparse import urlsplit

SCHEMA_VERSION = 1
RATES = (("request_throughput", "req/s"), ("output_throughput", "tok/s"),
         ("total_token_throughput", "tok/s"))
LATENCIES = ("ttft", "tpot", "itl", "e2el")
STATS = ("mean", "median", "p99")
# higher is better for throughputs, lower for latencies
HIGHER_IS_BETTER = frozenset(name for name, _unit in RATES)


class BenchError(ValueError):
    """A raw result that is not a benchmark client's output."""


def _number(value):
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def from_vllm_bench(raw, client="vllm bench serve", version=None):
    """A `vllm bench serve` (or `vllm_utils.benchmark_serving`) result dict -> a record."""
    if not isinstance(raw, dict) or "completed" not in raw or "duration" not in raw:
        raise BenchError("not a vLLM benchmark result (no 'completed' and 'duration' fields)")
    prompts = raw.get("num_prompts")
    completed = int(raw.get("completed") or 0)
    failed = raw.get("failed")
    if failed is None and prompts is not None:
        failed = max(int(prompts) - completed, 0)
    metrics = dict((name, _number(raw.get(name))) for name, _unit in RATES)
    for lat in LATENCIES:
        metrics[lat + "_ms"] = dict(
            (stat, _number(raw.get("%s_%s_ms" % (stat, lat)))) for stat in STATS)
    errors = [e for e in (raw.get("errors") or []) if e]
    first_error = None
    if errors:
        lines = [line for line in str(errors[0]).strip().splitlines() if line.strip()]
        first_error = lines[-1].strip() if lines else None
    run = {"model": raw.get("model_id"), "tokenizer": raw.get("tokenizer_id"),
           "num_prompts": prompts, "request_rate": raw.get("request_rate"),
           "max_concurrency": raw.get("max_concurrency"), "burstiness": raw.get("burstiness"),
           "backend": raw.get("backend"), "date": raw.get("date"),
           "total_input_tokens": raw.get("total_input_tokens"),
           "total_output_tokens": raw.get("total_output_tokens")}
    return {"schema": SCHEMA_VERSION, "client": {"name": client, "version": version},
            "run": run, "completed": completed,
            "failed": int(failed) if failed is not None else None,
            "duration_s": _number(raw.get("duration")), "first_error": first_error,
            "metrics": metrics}


def _unit_number(value, unit):
    """AISBench's `"2050.7589 ms"`, `"7.802 req/s"`, `"124.8 token/s"` or a bare number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value or "").strip()
    if unit and text.endswith(unit):
        text = text[:-len(unit)].strip()
    return _number(text)


def _total(common, key):
    value = common.get(key)
    return value.get("total") if isinstance(value, dict) else value


# the dataset abbreviation aisbench_config gives its synthetic dataset: AISBench names its result
# files after it (<abbr>.json, <abbr>.csv, <abbr>_failed.jsonl; with a request rate also
# <abbr>_rps_distribution_plot.json, which is not read)
AISBENCH_DATASET = "synthetic"
AISBENCH_FILES = {"common": AISBENCH_DATASET + ".json", "csv": AISBENCH_DATASET + ".csv",
                  "failed": AISBENCH_DATASET + "_failed.jsonl"}
AISBENCH_ROWS = {"TTFT": "ttft", "TPOT": "tpot", "ITL": "itl", "E2EL": "e2el"}
AISBENCH_STATS = {"mean": "Average", "median": "Median", "p99": "P99"}


def from_aisbench(common=None, details_csv=None, failed_lines=None, run=None, version=None):
    """AISBench perf-mode results -> a record.  `common` is `<dataset>.json` (Benchmark Duration,
    Total/Failed/Success Requests, Request/Output/Total Token Throughput, each under the stage
    `total`), `details_csv` the text of `<dataset>.csv` (rows E2EL, TTFT, TPOT, ITL with
    Average/Median/P99 in ms), `failed_lines` the lines of `<dataset>_failed.jsonl` (each with
    the request's `error_info`).  When every request fails AISBench writes only the failed
    list (its summariser then stops): the record says so, with the first error."""
    run = dict(run or {})
    failed_list = []
    for line in failed_lines or []:
        line = line.strip()
        if not line:
            continue
        try:
            failed_list.append(json.loads(line))
        except ValueError:
            raise BenchError("not an AISBench failed-request line: %r" % line[:80])
    if common is None and not failed_list:
        raise BenchError("no AISBench result (neither <dataset>.json nor <dataset>_failed.jsonl)")
    if common is not None and (not isinstance(common, dict) or "Total Requests" not in common):
        raise BenchError("not an AISBench perf result (no 'Total Requests' common metric)")
    errors = [str(item.get("error_info") or "").strip() for item in failed_list
              if isinstance(item, dict)]
    first_error = next((e.splitlines()[-1].strip() for e in errors if e), None)
    metrics = dict((name, None) for name, _unit in RATES)
    for lat in LATENCIES:
        metrics[lat + "_ms"] = dict((stat, None) for stat in STATS)
    if common is None:
        completed, failed, duration, total_in, total_out = 0, len(failed_list), None, None, None
    else:
        completed = int(_number(_total(common, "Success Requests")) or 0)
        failed = _number(_total(common, "Failed Requests"))
        failed = int(failed) if failed is not None else len(failed_list)
        duration = _unit_number(_total(common, "Benchmark Duration"), "ms")
        duration = duration / 1000.0 if duration is not None else None
        metrics["request_throughput"] = _unit_number(_total(common, "Request Throughput"),
                                                     "req/s")
        metrics["output_throughput"] = _unit_number(_total(common, "Output Token Throughput"),
                                                    "token/s")
        metrics["total_token_throughput"] = _unit_number(
            _total(common, "Total Token Throughput"), "token/s")
        total_in = _number(_total(common, "Total Input Tokens"))
        total_out = _number(_total(common, "Total Generated Tokens"))
    if details_csv:
        rows = list(csv.DictReader(io.StringIO(details_csv)))
        if rows and "Performance Parameters" not in rows[0]:
            raise BenchError("not an AISBench per-request table (no 'Performance Parameters' "
                             "column)")
        for row in rows:
            lat = AISBENCH_ROWS.get((row.get("Performance Parameters") or "").strip())
            if lat is None or (row.get("Stage") or "total").strip() != "total":
                continue
            metrics[lat + "_ms"] = dict((stat, _unit_number(row.get(column), "ms"))
                                        for stat, column in AISBENCH_STATS.items())
    elif completed:
        raise BenchError("an AISBench result with completed requests but no per-request table")
    out_run = {"model": run.get("model"), "tokenizer": run.get("tokenizer"),
               "num_prompts": run.get("num_prompts"), "request_rate": run.get("request_rate"),
               "max_concurrency": run.get("max_concurrency"), "burstiness": None,
               "backend": "VLLMCustomAPIChat (stream)", "date": None,
               "total_input_tokens": int(total_in) if total_in is not None else None,
               "total_output_tokens": int(total_out) if total_out is not None else None}
    return {"schema": SCHEMA_VERSION, "client": {"name": "ais_bench", "version": version},
            "run": out_run, "completed": completed, "failed": failed, "duration_s": duration,
            "first_error": first_error, "metrics": metrics}


def problems(record, label="benchmark"):
    """Plain-words problems of one record: every request failed, some failed."""
    out = []
    failed, completed = record.get("failed") or 0, record.get("completed") or 0
    if completed == 0:
        out.append("%s: every request failed (%d of %d)%s" % (
            label, failed, failed + completed,
            (": first error: %s" % record["first_error"]) if record.get("first_error") else
            " (the client saved no error text)"))
    elif failed:
        out.append("%s: %d of %d requests failed%s" % (
            label, failed, failed + completed,
            (": first error: %s" % record["first_error"]) if record.get("first_error") else ""))
    return out


def metric(record, path):
    """The value of a metric path (`output_throughput`, `tpot_ms.p99`) or None."""
    value = record.get("metrics") or {}
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value if not isinstance(value, dict) else None


def metric_names():
    return [name for name, _unit in RATES] + ["%s_ms.%s" % (lat, stat) for lat in LATENCIES
                                              for stat in STATS]


def baseline_problems(baseline):
    """What is wrong with a baseline's form ({metric: {expected, tolerance[, both_ways]}})."""
    out = []
    if not isinstance(baseline, dict) or not baseline:
        return ["the baseline must be a mapping of metric: {expected, tolerance}"]
    known = metric_names()
    for name, spec in sorted(baseline.items()):
        if name not in known:
            out.append("baseline metric %r is unknown (known: %s)" % (name, ", ".join(known)))
            continue
        if not isinstance(spec, dict) or _number(spec.get("expected")) is None:
            out.append("baseline metric %s needs a number `expected`" % name)
            continue
        tol = _number(spec.get("tolerance"))
        if tol is None or tol < 0:
            out.append("baseline metric %s needs `tolerance`, a fraction >= 0 (0.1 is 10 %%)"
                       % name)
    return out


def gate(record, baseline):
    """Failures of a record against a baseline, each naming the metric, the expected value, the
    tolerance and the measured value.  A throughput fails below expected x (1 - tolerance), a
    latency above expected x (1 + tolerance); with `both_ways: true` either side fails."""
    out = []
    for name, spec in sorted(baseline.items()):
        expected, tol = float(spec["expected"]), float(spec["tolerance"])
        measured = metric(record, name)
        low, high = expected * (1 - tol), expected * (1 + tol)
        higher = name in HIGHER_IS_BETTER
        both = bool(spec.get("both_ways"))
        if measured is None:
            out.append("%s: not measured (expected %s +/- %s%%)" % (name, _fmt(expected),
                                                                    _fmt(tol * 100)))
        elif (measured < low and (higher or both)) or (measured > high and (not higher or both)):
            out.append("%s: measured %s, expected %s within %s%% (%s %s)" % (
                name, _fmt(measured), _fmt(expected), _fmt(tol * 100),
                "at least" if higher and not both else "at most" if not both else "between",
                _fmt(low) if higher and not both else _fmt(high) if not both
                else "%s and %s" % (_fmt(low), _fmt(high))))
    return out


def _fmt(value):
    if value is None:
        return "-"
    return ("%.2f" % value).rstrip("0").rstrip(".") if abs(value) < 1e6 else "%.3g" % value


def compare(a, b):
    """Rows (metric, a, b, ratio b/a or None) for every metric either record has."""
    rows = []
    for name in metric_names():
        va, vb = metric(a, name), metric(b, name)
        if va is None and vb is None:
            continue
        rows.append((name, va, vb, (vb / va) if va and vb is not None else None))
    for name in ("completed", "failed", "duration_s"):
        va, vb = a.get(name), b.get(name)
        rows.append((name, va, vb, (float(vb) / va) if va and vb is not None else None))
    return rows


def compare_text(a, b, label_a="A", label_b="B"):
    lines = ["%-22s %14s %14s %8s" % ("metric", label_a[:14], label_b[:14], "B/A")]
    for name, va, vb, ratio in compare(a, b):
        shown = "%.3f" % ratio if ratio is not None else "-"
        lines.append("%-22s %14s %14s %8s" % (name, _fmt(va), _fmt(vb), shown))
    return "\n".join(lines)


def table(records):
    """A short table of records (one line each) for the end of a play."""
    head = ("%-16s %5s %6s %10s %10s %9s %9s %9s %9s" % (
        "run", "ok", "failed", "req/s", "out tok/s", "TTFT ms", "TPOT ms", "ITL ms", "E2EL ms"))
    lines = [head]
    for rec in records:
        m = rec.get("metrics") or {}
        lines.append("%-16s %5s %6s %10s %10s %9s %9s %9s %9s" % (
            str(rec.get("name", "-"))[:16], rec.get("completed"), rec.get("failed"),
            _fmt(m.get("request_throughput")), _fmt(m.get("output_throughput")),
            _fmt((m.get("ttft_ms") or {}).get("mean")), _fmt((m.get("tpot_ms") or {}).get("mean")),
            _fmt((m.get("itl_ms") or {}).get("mean")), _fmt((m.get("e2el_ms") or {}).get("mean"))))
    return "\n".join(lines)


# ------------------------------------------------------------------ the client's command line

# what a run may set (the profile's `bench`, the inventory's npu_cluster_bench, a run's own)
RUN_KEYS = ("dataset", "input_len", "output_len", "num_prompts", "request_rate",
            "max_concurrency", "seed", "percentiles", "trust_remote_code", "ignore_eos")
DEFAULTS = {"client": "vllm", "dataset": "random", "input_len": 1024, "output_len": 128,
            "num_prompts": 200, "request_rate": "inf", "max_concurrency": None, "seed": None,
            "warmup_prompts": 0, "percentiles": [99], "trust_remote_code": False,
            "ignore_eos": True, "runs": [{}],
            "baseline": {}}
CLIENTS = {"vllm": ["vllm", "bench", "serve"],
           "vllm_utils": ["python3", "-m", "vllm_utils.benchmark_serving"],
           "aisbench": ["ais_bench"]}
# the name a record gives its client
CLIENT_NAMES = {"vllm": "vllm bench serve", "vllm_utils": "vllm_utils.benchmark_serving",
                "aisbench": "ais_bench"}


def settings(*layers):
    """The benchmark settings: DEFAULTS, then each layer (profile `bench`, inventory) on top;
    `runs` becomes a list of complete runs, each with a unique `name`."""
    out = dict(DEFAULTS)
    for layer in layers:
        out.update(dict((k, v) for k, v in (layer or {}).items() if v is not None))
    runs = []
    for index, run in enumerate(out.get("runs") or [{}]):
        full = dict((k, out[k]) for k in RUN_KEYS)
        full.update(dict((k, v) for k, v in (run or {}).items() if k in RUN_KEYS))
        full["name"] = str((run or {}).get("name") or _run_name(full, index))
        full["baseline"] = (run or {}).get("baseline", out.get("baseline") or {})
        runs.append(full)
    out["runs"] = runs
    return out


def _run_name(run, index):
    name = "rate-%s" % run["request_rate"]
    if run.get("max_concurrency"):
        name += "-c%s" % run["max_concurrency"]
    return "%d-%s" % (index + 1, name)


def problems_of_settings(conf):
    """Plain-words problems of the settings (before anything runs)."""
    out = []
    if conf.get("client") not in CLIENTS:
        out.append("bench.client %r is not one of %s" % (
            conf.get("client"), ", ".join(sorted(CLIENTS))))
    names = [r["name"] for r in conf["runs"]]
    if len(set(names)) != len(names):
        out.append("bench.runs: run names repeat (%s)" % ", ".join(names))
    for run in conf["runs"]:
        for key in ("input_len", "output_len", "num_prompts"):
            if not isinstance(run.get(key), int) or isinstance(run.get(key), bool) or run[key] < 1:
                out.append("bench run %s: %s must be a whole number >= 1, got %r" % (
                    run["name"], key, run.get(key)))
        rate = run.get("request_rate")
        if rate != "inf" and (_number(rate) is None or _number(rate) <= 0):
            out.append("bench run %s: request_rate must be a number > 0 or \"inf\", got %r" % (
                run["name"], rate))
        if run.get("baseline"):
            out += ["bench run %s: %s" % (run["name"], p)
                    for p in baseline_problems(run["baseline"])]
    if conf.get("client") == "aisbench":
        out += ["bench run %s: AISBench runs its synthetic dataset (random token ids, the "
                "equivalent of `random`), not %r" % (run["name"], run.get("dataset"))
                for run in conf["runs"] if run.get("dataset") != "random"]
    if not isinstance(conf.get("warmup_prompts"), int) or conf["warmup_prompts"] < 0:
        out.append("bench.warmup_prompts must be a whole number >= 0")
    return out


def argv(client, run, base_url, model, served_model_name, tokenizer, result_dir=None,
         result_name=None, save=True):
    """The client's argv for one run.  AISBench: `ais_bench <dir>/<name>.py --mode perf
    --work-dir <dir>/<name> --num-warmups 0` (the config `aisbench_config` makes, written there
    first; the role's own warm-up replaces AISBench's one-request warm-up).  The others: see
    `vllm_argv`."""
    if client == "aisbench":
        if not result_dir:
            raise ValueError("ais_bench needs a directory for its config and results")
        name = result_name or run["name"]
        return list(CLIENTS[client]) + [
            "%s/%s.py" % (result_dir, name), "--mode", "perf",
            "--work-dir", "%s/%s" % (result_dir, name), "--num-warmups", "0"]
    return vllm_argv(client, run, base_url, model, served_model_name, tokenizer,
                     result_dir if save else None, result_name)


def vllm_argv(client, run, base_url, model, served_model_name, tokenizer, result_dir=None,
              result_name=None):
    """The client's argv for one run (a list: nothing goes through a shell), in the runbooks'
    form (`--model <model id> --served-model-name <name> --dataset-name random
    --random-input-len .. --random-output-len .. --num-prompts .. --request-rate ..`) plus what a
    record needs: always `--tokenizer` (a local directory, never the hub), the end-to-end
    latency percentiles, and, with a result directory, the saved result (without one, the
    warm-up, nothing is saved)."""
    out = list(CLIENTS[client]) + [
        "--model", model, "--served-model-name", served_model_name, "--tokenizer", tokenizer,
        "--dataset-name", run["dataset"],
        "--random-input-len", str(run["input_len"]), "--random-output-len", str(run["output_len"]),
        "--num-prompts", str(run["num_prompts"]), "--base-url", base_url,
        "--request-rate", str(run["request_rate"]),
        "--percentile-metrics", "ttft,tpot,itl,e2el"]
    if list(run.get("percentiles") or [99]) != [99]:
        out += ["--metric-percentiles", ",".join(str(p) for p in run["percentiles"])]
    if run.get("max_concurrency"):
        out += ["--max-concurrency", str(run["max_concurrency"])]
    if run.get("seed") is not None:
        out += ["--seed", str(run["seed"])]
    if run.get("trust_remote_code"):
        out.append("--trust-remote-code")
    if result_dir:
        out += ["--save-result", "--result-dir", result_dir, "--result-filename",
                "%s.json" % (result_name or run["name"])]
        if client == "vllm":
            out.append("--save-detailed")
    return out


def _endpoint_parts(base_url):
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the endpoint %r is not an http(s)://host:port URL" % base_url)
    return (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
            parts.scheme == "https")


def aisbench_config(run, base_url, served_model_name, tokenizer, abbr="npu-cluster"):
    """AISBench's config file for one run (Python source, every value a literal made by
    repr(): nothing from the inventory becomes code).  The runbook's model config
    (`VLLMCustomAPIChat`, streaming, so TTFT is measured: host_ip, host_port, model, path =
    the tokenizer directory, request_rate, batch_size = the concurrency, max_out_len,
    retry 2, generation_kwargs; api_key from the client's OPENAI_API_KEY, so a key is never in
    the file) with the plan's endpoint; the dataset is AISBench's synthetic
    one (nothing to download): `num_prompts` requests of `input_len` random token ids, each
    answered with `output_len` tokens (exactly, with `ignore_eos` -- the default, as `vllm bench
    serve`'s random dataset does); the summariser is its default perf one."""
    host, port, ssl = _endpoint_parts(base_url)
    rate = 0.0 if str(run["request_rate"]) == "inf" else float(run["request_rate"])
    generation = {"temperature": 0, "ignore_eos": bool(run.get("ignore_eos", True))}
    if run.get("seed") is not None:
        generation["seed"] = int(run["seed"])
    model = {"attr": "service", "abbr": abbr, "path": str(tokenizer),
             "model": str(served_model_name), "stream": True, "request_rate": rate,
             "use_timestamp": False, "retry": 2, "host_ip": host,
             "host_port": int(port), "url": "", "enable_ssl": ssl,
             "max_out_len": int(run["output_len"]),
             "batch_size": int(run.get("max_concurrency") or run["num_prompts"]),
             "trust_remote_code": bool(run.get("trust_remote_code")),
             "generation_kwargs": generation}
    synthetic = {"Type": "tokenid", "RequestCount": int(run["num_prompts"]),
                 "TrustRemoteCode": bool(run.get("trust_remote_code")),
                 "TokenIdConfig": {"RequestSize": int(run["input_len"]), "PrefixLen": 0}}
    return "\n".join([
        "# AISBench perf config written by npu.cluster's benchmark role: run %s" % run["name"],
        "from ais_bench.benchmark.models import VLLMCustomAPIChat",
        "from ais_bench.benchmark.openicl.icl_prompt_template import PromptTemplate",
        "from ais_bench.benchmark.openicl.icl_retriever import ZeroRetriever",
        "from ais_bench.benchmark.openicl.icl_inferencer import GenInferencer",
        "from ais_bench.benchmark.datasets import SyntheticDataset, MATHEvaluator, "
        "math_postprocess_v2",
        "from ais_bench.benchmark.summarizers import DefaultPerfSummarizer",
        "from ais_bench.benchmark.calculators import DefaultPerfMetricCalculator",
        "",
        "# the deployment's API key, if any, from the client's environment (never in this file;",
        "# not an import statement: AISBench's config loader turns those into lazy objects)",
        "models = [dict(type=VLLMCustomAPIChat,",
        "               api_key=__import__('os').environ.get('OPENAI_API_KEY', ''),",
        "               **%r)]" % (model,),
        "datasets = [dict(",
        "    abbr=%r, type=SyntheticDataset, config=%r," % (AISBENCH_DATASET, synthetic),
        "    reader_cfg=dict(input_columns=['question', 'max_out_len'], output_column='answer'),",
        "    infer_cfg=dict(prompt_template=dict(type=PromptTemplate, template='{question}'),",
        "                   retriever=dict(type=ZeroRetriever), inferencer=dict(type=GenInferencer)),",
        "    eval_cfg=dict(evaluator=dict(type=MATHEvaluator, version='v2'),",
        "                  pred_postprocessor=dict(type=math_postprocess_v2)))]",
        "summarizer = dict(attr='performance', type=DefaultPerfSummarizer, calculator=dict(",
        "    type=DefaultPerfMetricCalculator,",
        "    stats_list=['Average', 'Min', 'Max', 'Median', 'P75', 'P90', 'P99']))",
        ""])


def deployment(plan, fabric=None, fabric_source=None):
    """What a record says it measured, from the plan: profile, engine version, endpoint, every
    host's role and processes (argv, environment -- the plan holds secret names only, never
    their values) and the fabric verdict that run had (or that it was not checked)."""
    plan = plan or {}
    hosts = {}
    versions = set()
    for name, host in sorted((plan.get("hosts") or {}).items()):
        if host.get("engine_version"):
            versions.add(str(host["engine_version"]))
        hosts[name] = {"role": host.get("role"), "processes": [
            {"name": p.get("name"), "argv": list(p.get("argv") or []),
             "env": dict(p.get("env") or {}), "secret_env": sorted(p.get("secret_env") or [])}
            for p in host.get("processes") or []]}
    verdict = {"verdict": "not checked", "source": None, "failing_hosts": []}
    if fabric:
        verdict = {"verdict": fabric.get("verdict"), "source": fabric_source,
                   "failing_hosts": list(fabric.get("failing_hosts") or [])}
    return {"profile": plan.get("profile"), "engine_version": ", ".join(sorted(versions)) or None,
            "endpoint": plan.get("endpoint"), "served_model_name": plan.get("served_model_name"),
            "hosts": hosts, "fabric": verdict}


def records(results, deployment=None):
    """[{name, raw | aisbench {common, csv, failed_lines} and run, client_name, version,
    baseline}] -> {"records", "problems", "warnings",
    "gate"}: one record per run with the deployment it measured; problems are runs whose every
    request failed, warnings runs with some failed requests, gate the baseline misses (each
    names its run)."""
    out = {"records": [], "problems": [], "warnings": [], "gate": []}
    for res in results:
        try:
            if "aisbench" in res:
                ais = res["aisbench"]
                rec = from_aisbench(ais.get("common"), ais.get("csv"), ais.get("failed_lines"),
                                    run=res.get("run"), version=res.get("version"))
            else:
                rec = from_vllm_bench(res["raw"], version=res.get("version"),
                                      client=res.get("client_name") or "vllm bench serve")
        except BenchError as exc:
            raise BenchError("bench run %s: %s" % (res["name"], exc))
        rec["name"] = res["name"]
        rec["deployment"] = deployment or {}
        label = "bench run %s" % res["name"]
        # a run with no completed request fails the play; some failed requests are reported
        out["problems" if not rec["completed"] else "warnings"] += problems(rec, label)
        if res.get("baseline") and rec["completed"]:
            rec["baseline"] = res["baseline"]
            rec["gate"] = gate(rec, res["baseline"])
            out["gate"] += ["%s: %s" % (label, g) for g in rec["gate"]]
        out["records"].append(rec)
    return out
