# -*- coding: utf-8 -*-
"""Benchmark records from real `vllm bench serve` output (vLLM 0.32.0, captured against the
lab's real engine): a good run, every request refused by a wrong model name, and every request
failing to connect; the baseline gate; comparison."""
import json
from pathlib import Path

import jsonschema
import pytest

from ansible_collections.npu.cluster.plugins.plugin_utils import bench

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "bench"
SCHEMA = json.loads((Path(bench.__file__).parent / "schemas" / "bench_record.schema.json")
                    .read_text())


def valid(record):
    """Every record is an instance of the documented format."""
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(json.dumps(record)))
    return record


def raw(name):
    return json.loads((FIX / ("vllm-bench-serve-0.32.0-%s.json" % name)).read_text())


def test_a_good_run_becomes_one_record():
    rec = valid(bench.from_vllm_bench(raw("ok"), version="0.32.0"))
    assert rec["schema"] == 1 and rec["client"] == {"name": "vllm bench serve",
                                                    "version": "0.32.0"}
    assert (rec["completed"], rec["failed"], rec["first_error"]) == (8, 0, None)
    assert rec["duration_s"] == pytest.approx(0.4455, abs=1e-3)
    m = rec["metrics"]
    assert m["request_throughput"] == pytest.approx(17.9588, abs=1e-3)
    assert m["output_throughput"] == pytest.approx(287.3406, abs=1e-3)
    assert m["ttft_ms"] == pytest.approx({"mean": 54.0753, "median": 54.1830, "p99": 73.7370},
                                         abs=1e-3)
    assert m["tpot_ms"]["p99"] == pytest.approx(12.4018, abs=1e-3)
    assert m["e2el_ms"]["median"] == pytest.approx(221.3978, abs=1e-3)
    assert rec["run"]["num_prompts"] == 8 and rec["run"]["max_concurrency"] == 4
    assert rec["run"]["request_rate"] == "inf" and rec["run"]["model"] == "tiny-llama"
    assert bench.problems(rec) == []
    # the printed summary says the same (the JSON is what is read; this pins the capture)
    text = (FIX / "vllm-bench-serve-0.32.0-ok.stdout").read_text()
    assert "Output token throughput (tok/s):         287.34" in text


def test_every_request_failed_names_the_first_error():
    rec = valid(bench.from_vllm_bench(raw("wrong-model")))
    assert (rec["completed"], rec["failed"]) == (0, 4)
    assert bench.problems(rec, "bench run rate-inf") == [
        "bench run rate-inf: every request failed (4 of 4): first error: Not Found"]
    rec = bench.from_vllm_bench(raw("refused"))
    assert bench.problems(rec) == [
        "benchmark: every request failed (4 of 4): first error: aiohttp.client_exceptions."
        "ClientConnectorError: Cannot connect to host 127.0.0.1:18099 ssl:default [Connect call "
        "failed ('127.0.0.1', 18099)]"]


def test_the_older_enflame_schema_has_no_failed_field():
    old = raw("ok")
    del old["failed"]
    old["completed"] = 6
    rec = bench.from_vllm_bench(old, client="vllm_utils.benchmark_serving")
    assert rec["failed"] == 2
    assert bench.problems(rec) == ["benchmark: 2 of 8 requests failed"]


@pytest.mark.parametrize("bad", [{}, {"completed": 1}, [], "text"])
def test_not_a_result(bad):
    with pytest.raises(bench.BenchError):
        bench.from_vllm_bench(bad)


def test_the_gate_names_metric_expected_tolerance_and_measured():
    rec = bench.from_vllm_bench(raw("ok"))
    met = {"output_throughput": {"expected": 280, "tolerance": 0.1},
           "tpot_ms.mean": {"expected": 11, "tolerance": 0.2}}
    assert bench.baseline_problems(met) == [] and bench.gate(rec, met) == []
    missed = {"output_throughput": {"expected": 400, "tolerance": 0.1},
              "tpot_ms.p99": {"expected": 10, "tolerance": 0.1},
              "ttft_ms.mean": {"expected": 100, "tolerance": 0.1, "both_ways": True}}
    assert bench.gate(rec, missed) == [
        "output_throughput: measured 287.34, expected 400 within 10% (at least 360)",
        "tpot_ms.p99: measured 12.4, expected 10 within 10% (at most 11)",
        "ttft_ms.mean: measured 54.08, expected 100 within 10% (between 90 and 110)"]
    # faster than expected is not a failure unless both_ways
    assert bench.gate(rec, {"tpot_ms.mean": {"expected": 50, "tolerance": 0.1}}) == []


def test_bad_baselines_are_refused_in_words():
    assert bench.baseline_problems({"tpot": {"expected": 1, "tolerance": 0.1}})[0].startswith(
        "baseline metric 'tpot' is unknown (known: request_throughput, ")
    assert bench.baseline_problems({"tpot_ms.mean": {"tolerance": 0.1}}) == [
        "baseline metric tpot_ms.mean needs a number `expected`"]
    assert bench.baseline_problems({"tpot_ms.mean": {"expected": 1, "tolerance": -1}}) == [
        "baseline metric tpot_ms.mean needs `tolerance`, a fraction >= 0 (0.1 is 10 %)"]
    assert bench.baseline_problems([]) == [
        "the baseline must be a mapping of metric: {expected, tolerance}"]


def test_compare_gives_the_ratio_of_every_metric():
    a = bench.from_vllm_bench(raw("ok"))
    b = json.loads(json.dumps(a))
    b["metrics"]["output_throughput"] *= 2
    rows = dict((name, (va, vb, ratio)) for name, va, vb, ratio in bench.compare(a, b))
    assert rows["output_throughput"][2] == pytest.approx(2.0)
    assert rows["tpot_ms.mean"][2] == pytest.approx(1.0)
    assert rows["completed"] == (8, 8, 1.0)
    text = bench.compare_text(a, b, "before", "after")
    assert text.splitlines()[0].split() == ["metric", "before", "after", "B/A"]
    assert "output_throughput" in text and "2.000" in text


def test_table_has_one_line_per_run():
    rec = dict(bench.from_vllm_bench(raw("ok")), name="c4")
    lines = bench.table([rec]).splitlines()
    assert lines[0].split()[:3] == ["run", "ok", "failed"]
    assert lines[1].split()[:5] == ["c4", "8", "0", "17.96", "287.34"]


GOLDEN = Path(__file__).resolve().parents[3] / "unit" / "golden"
PROFILES = Path(__file__).resolve().parents[4] / "profiles"


def test_runbook_000s_benchmark_flag_for_flag():
    """Profile 000's bench section gives the runbook's `vllm bench serve` command, plus only
    --tokenizer (never the hub), the end-to-end percentiles and the saved result."""
    import shlex
    import yaml
    prof = yaml.safe_load((PROFILES / "000-a2-dsv31-w8a8-dp4.yml").read_text())
    conf = bench.settings(prof["bench"])
    assert bench.problems_of_settings(conf) == []
    run, = conf["runs"]
    ours = bench.argv(conf["client"], run, "http://192.168.1.10:8004", prof["model"],
                      prof["served_model_name"], "/bench/tokenizer", "/bench/results/t", run["name"])
    line = (GOLDEN / "000-bench.txt").read_text().replace("\\\n", " ").splitlines()[1]
    theirs = shlex.split(line.replace("{ node0 ip }", "192.168.1.10"))

    def options(argv):
        out, i = {}, 3
        while i < len(argv):
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                out[argv[i]] = argv[i + 1]
                i += 2
            else:
                out[argv[i]] = True
                i += 1
        return out
    mine, runbook = options(ours), options(theirs)
    assert ours[:3] == theirs[:3] == ["vllm", "bench", "serve"]
    assert dict((k, v) for k, v in mine.items() if k in runbook) == runbook
    assert sorted(set(mine) - set(runbook)) == [
        "--percentile-metrics", "--result-dir", "--result-filename", "--save-detailed",
        "--save-result", "--tokenizer"]
    assert run["name"] == "1-rate-1"


def test_settings_layer_and_runs_sweep():
    conf = bench.settings({"num_prompts": 100, "request_rate": 2, "baseline": {
        "output_throughput": {"expected": 10, "tolerance": 0.1}}},
        {"runs": [{"max_concurrency": 1}, {"name": "busy", "max_concurrency": 8,
                                           "baseline": {}}]})
    first, busy = conf["runs"]
    assert (first["name"], first["num_prompts"], first["max_concurrency"]) == ("1-rate-2-c1", 100, 1)
    assert first["baseline"] == {"output_throughput": {"expected": 10, "tolerance": 0.1}}
    assert (busy["name"], busy["baseline"]) == ("busy", {})
    assert bench.problems_of_settings(conf) == []
    bad = bench.settings({"client": "ab", "num_prompts": 0, "request_rate": "fast",
                          "runs": [{"name": "x"}, {"name": "x"}]})
    assert bench.problems_of_settings(bad) == [
        "bench.client 'ab' is not one of aisbench, vllm, vllm_utils",
        "bench.runs: run names repeat (x, x)",
        "bench run x: num_prompts must be a whole number >= 1, got 0",
        "bench run x: request_rate must be a number > 0 or \"inf\", got 'fast'",
        "bench run x: num_prompts must be a whole number >= 1, got 0",
        "bench run x: request_rate must be a number > 0 or \"inf\", got 'fast'"]


def test_the_warm_up_saves_nothing():
    run = bench.settings({})["runs"][0]
    argv = bench.argv("vllm", run, "http://h:1", "m", "s", "/t")
    assert "--save-result" not in argv and "--result-dir" not in argv
    assert argv[argv.index("--tokenizer") + 1] == "/t"
    old = bench.argv("vllm_utils", dict(run, seed=1, max_concurrency=4,
                                        percentiles=[50, 99]), "http://h:1", "m", "s", "/t",
                     "/r", "one")
    assert old[:3] == ["python3", "-m", "vllm_utils.benchmark_serving"]
    assert old[-5:] == ["--save-result", "--result-dir", "/r", "--result-filename", "one.json"]
    assert "--seed" in old and "--max-concurrency" in old and "--save-detailed" not in old
    assert old[old.index("--metric-percentiles") + 1] == "50,99"


def test_records_carry_the_deployment_and_sort_failures():
    plan = {"profile": "p", "served_model_name": "s", "endpoint": {"url": "http://h:1"},
            "hosts": {"n0": {"role": "head", "engine_version": "0.11.0", "processes": [
                {"name": "vllm-serve", "argv": ["vllm", "serve"], "env": {"A": "1"},
                 "secret_env": ["VLLM_API_KEY"]}]}}}
    dep = bench.deployment(plan, {"verdict": "PASS", "failing_hosts": []}, "this run")
    assert dep["engine_version"] == "0.11.0" and dep["fabric"] == {
        "verdict": "PASS", "source": "this run", "failing_hosts": []}
    assert dep["hosts"]["n0"]["processes"][0] == {"name": "vllm-serve", "argv": ["vllm", "serve"],
                                                  "env": {"A": "1"},
                                                  "secret_env": ["VLLM_API_KEY"]}
    assert bench.deployment(plan)["fabric"]["verdict"] == "not checked"
    out = bench.records([
        {"name": "good", "raw": raw("ok"), "baseline": {
            "output_throughput": {"expected": 1000, "tolerance": 0.5}}},
        {"name": "bad", "raw": raw("wrong-model"), "baseline": {
            "output_throughput": {"expected": 1000, "tolerance": 0.5}}}], dep)
    assert [valid(r)["name"] for r in out["records"]] == ["good", "bad"]
    assert out["records"][0]["deployment"]["profile"] == "p"
    assert out["problems"] == ["bench run bad: every request failed (4 of 4): first error: "
                               "Not Found"]
    # a run with nothing completed is not also gated
    assert out["gate"] == ["bench run good: output_throughput: measured 287.34, expected 1000 "
                           "within 50% (at least 500)"]


# ------------------------------------------------------------------ AISBench
# Captured from ais_bench (ais-bench-benchmark 3.1.20260630, its perf mode with the config
# aisbench_config writes) against the lab's simulated engine (TTFT 200 ms, 20 ms per token):
# 16 prompts, 16 output tokens, concurrency 4; then a wrong served model name (every request
# 404) and a closed port (every request refused): AISBench then writes only the failed list.
AIS = "ais-bench-3.1.20260630-"


def load_config(text):
    """An AISBench config's values as its loader sees them (its imports stubbed by name)."""
    scope = {}
    exec("\n".join(line for line in text.splitlines() if not line.startswith("from ")),
         dict((k, k) for k in ("VLLMCustomAPIChat", "PromptTemplate", "ZeroRetriever",
                               "GenInferencer", "SyntheticDataset", "MATHEvaluator",
                               "math_postprocess_v2", "DefaultPerfSummarizer",
                               "DefaultPerfMetricCalculator")), scope)
    return scope


def ais(name):
    return (FIX / (AIS + name)).read_text()


def test_aisbench_good_run_becomes_one_record():
    run = dict(bench.settings({"client": "aisbench", "num_prompts": 16, "max_concurrency": 4,
                               "input_len": 32, "output_len": 16})["runs"][0])
    rec = valid(bench.from_aisbench(json.loads(ais("ok.json")), ais("ok.csv"), [], run=run,
                                    version="3.1.20260630"))
    assert rec["client"] == {"name": "ais_bench", "version": "3.1.20260630"}
    assert (rec["completed"], rec["failed"], rec["first_error"]) == (16, 0, None)
    assert rec["duration_s"] == pytest.approx(2.0507589)
    m = rec["metrics"]
    assert m["request_throughput"] == pytest.approx(7.802)
    assert m["output_throughput"] == pytest.approx(124.8318)
    assert m["total_token_throughput"] == pytest.approx(210.1661)
    assert m["ttft_ms"] == {"mean": 203.3, "median": 203.0, "p99": 207.3}
    assert m["tpot_ms"] == {"mean": 20.3, "median": 20.3, "p99": 20.4}
    assert m["itl_ms"] == {"mean": 19.0, "median": 20.2, "p99": 20.5}
    assert m["e2el_ms"] == {"mean": 507.2, "median": 507.0, "p99": 510.6}
    assert (rec["run"]["num_prompts"], rec["run"]["max_concurrency"]) == (16, 4)
    assert (rec["run"]["total_input_tokens"], rec["run"]["total_output_tokens"]) == (175, 256)
    assert bench.problems(rec) == []
    # the printed tables say the same (the files are what is read; this pins the capture)
    text = ais("ok.stdout")
    assert "Output Token Throughput  │ total   │ 124.8318 token/s" in text
    assert "Performance Result files located in" in text


@pytest.mark.parametrize("case, error", [
    ("wrong-model", "Not Found"),
    ("refused", "After 2 retries, request failed with exception: ClientConnectorError: Cannot "
                "connect to host 127.0.0.1:18999 ssl:default [Connect call failed ('127.0.0.1', "
                "18999)]")])
def test_aisbench_every_request_failed_names_the_first_error(case, error):
    rec = valid(bench.from_aisbench(None, None, ais(case + "-failed.jsonl").splitlines()))
    assert (rec["completed"], rec["failed"], rec["first_error"]) == (0, 16, error)
    assert bench.problems(rec, "bench run r") == [
        "bench run r: every request failed (16 of 16): first error: " + error]
    assert all(v is None for v in rec["metrics"]["ttft_ms"].values())


def test_aisbench_some_requests_failed():
    common = json.loads(ais("ok.json"))
    common["Success Requests"]["total"], common["Failed Requests"]["total"] = 14, 2
    failed = ais("wrong-model-failed.jsonl").splitlines()[:2]
    rec = bench.from_aisbench(common, ais("ok.csv"), failed)
    assert bench.problems(rec) == ["benchmark: 2 of 16 requests failed: first error: Not Found"]


@pytest.mark.parametrize("common, table, failed", [
    (None, None, []),                                  # nothing at all
    ({"Benchmark Duration": {"total": "1 ms"}}, None, []),   # not the common metrics
    (None, None, ["not json"]),                        # not the failed list
    (json.loads((FIX / (AIS + "ok.json")).read_text()), None, []),   # no per-request table
    (json.loads((FIX / (AIS + "ok.json")).read_text()), "a,b\n1,2\n", []),   # another table
])
def test_aisbench_not_a_result(common, table, failed):
    with pytest.raises(bench.BenchError):
        bench.from_aisbench(common, table, failed)


def test_aisbench_config_is_the_runbooks_model_config_from_the_plan():
    conf = bench.settings({"client": "aisbench", "num_prompts": 64, "request_rate": 28,
                           "max_concurrency": 1536, "output_len": 10, "input_len": 256,
                           "seed": 1024})
    assert bench.problems_of_settings(conf) == []
    run = conf["runs"][0]
    text = bench.aisbench_config(run, "http://192.0.0.1:8000", "dsr1", "/bench/tokenizer")
    compile(text, "run.py", "exec")   # valid Python
    scope = load_config(text)   # the values, read back the way ais_bench's loader sees them
    model, = scope["models"]
    assert dict((k, model[k]) for k in ("type", "host_ip", "host_port", "model", "path",
                                        "request_rate", "batch_size", "max_out_len", "retry",
                                        "stream")) == {
        "type": "VLLMCustomAPIChat", "host_ip": "192.0.0.1", "host_port": 8000, "model": "dsr1",
        "path": "/bench/tokenizer", "request_rate": 28.0, "batch_size": 1536, "max_out_len": 10,
        "retry": 2, "stream": True}
    assert model["generation_kwargs"] == {"temperature": 0, "ignore_eos": True, "seed": 1024}
    dataset, = scope["datasets"]
    assert dataset["config"]["RequestCount"] == 64
    assert dataset["config"]["TokenIdConfig"] == {"RequestSize": 256, "PrefixLen": 0}
    assert scope["summarizer"]["attr"] == "performance"
    # an unlimited rate is AISBench's 0 (all at once); no concurrency: every prompt at once
    run = bench.settings({"client": "aisbench", "num_prompts": 8})["runs"][0]
    text = bench.aisbench_config(run, "https://h:9443", "m", "/t")
    assert "'request_rate': 0.0" in text and "'batch_size': 8" in text
    assert "'enable_ssl': True" in text and "'host_port': 9443" in text


def test_aisbench_config_keeps_inventory_text_out_of_the_code():
    run = bench.settings({"client": "aisbench"})["runs"][0]
    evil = "m'); import os; os.system('id'); ('"
    text = bench.aisbench_config(run, "http://h:1", evil, "/t\n'); boom('")
    scope = load_config(text)
    assert scope["models"][0]["model"] == evil and scope["models"][0]["path"] == "/t\n'); boom('"
    with pytest.raises(ValueError):
        bench.aisbench_config(run, "10.0.0.1:8000", "m", "/t")


def test_aisbench_argv_and_settings():
    conf = bench.settings({"client": "aisbench", "runs": [{"name": "a"}]})
    assert bench.argv("aisbench", conf["runs"][0], "http://h:1", "m", "s", "/t", "/r") == [
        "ais_bench", "/r/a.py", "--mode", "perf", "--work-dir", "/r/a", "--num-warmups", "0"]
    assert bench.argv("aisbench", conf["runs"][0], "http://h:1", "m", "s", "/t", "/r",
                      "warmup", save=False)[1] == "/r/warmup.py"
    with pytest.raises(ValueError):
        bench.argv("aisbench", conf["runs"][0], "http://h:1", "m", "s", "/t")
    bad = bench.settings({"client": "aisbench", "dataset": "sharegpt"})
    assert bench.problems_of_settings(bad) == [
        "bench run 1-rate-inf: AISBench runs its synthetic dataset (random token ids, the "
        "equivalent of `random`), not 'sharegpt'"]


def test_runbook_003s_aisbench_model_config():
    """Profile 003's bench section gives the runbook's AISBench model config (`vllm_api_stream_chat`
    as the runbook edits it), with the proxy's address from the plan."""
    import yaml
    prof = yaml.safe_load((PROFILES / "003-a3-dsr1-w8a8-pd-d64.yml").read_text())
    conf = bench.settings(prof["bench"])
    assert bench.problems_of_settings(conf) == [] and conf["client"] == "aisbench"
    assert conf["warmup_prompts"] > 0   # the FAQ: warm the prefill nodes up first
    text = bench.aisbench_config(conf["runs"][0], "http://192.0.0.1:8000",
                                 prof["served_model_name"], "/bench/tokenizer")
    scope = load_config(text)
    model = scope["models"][0]
    runbook = {"request_rate": 28, "retry": 2, "host_ip": "192.0.0.1", "host_port": 8000,
               "max_out_len": 10, "batch_size": 1536, "trust_remote_code": True,
               "generation_kwargs": {"temperature": 0, "seed": 1024, "ignore_eos": False},
               "attr": "service", "model": "deepseek_r1", "path": "/bench/tokenizer"}
    assert dict((k, model[k]) for k in runbook) == runbook


def test_profile_004_benchmarks_with_the_forks_client():
    import yaml
    prof = yaml.safe_load((PROFILES / "004-gcu-dsr1-awq-dp8-tp4.yml").read_text())
    conf = bench.settings(prof["bench"])
    assert bench.problems_of_settings(conf) == []
    run = conf["runs"][0]
    argv = bench.argv(conf["client"], run, "http://10.0.0.1:8002", prof["model"],
                      prof["served_model_name"], "/bench/tokenizer", "/bench/results/t")
    assert argv[:3] == ["python3", "-m", "vllm_utils.benchmark_serving"]
    # within the engines' max-model-len
    assert run["input_len"] + run["output_len"] <= prof["engine_args"]["max-model-len"]


def test_aisbench_config_takes_the_api_key_from_the_environment(monkeypatch):
    run = bench.settings({"client": "aisbench"})["runs"][0]
    text = bench.aisbench_config(run, "http://h:1", "m", "/t")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unit-only")
    scope = load_config(text)
    assert scope["models"][0]["api_key"] == "sk-unit-only" and "sk-unit-only" not in text
