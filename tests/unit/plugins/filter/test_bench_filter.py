# -*- coding: utf-8 -*-
"""The bench filters over files laid out as the role fetches them: `raw/<run>.json` for vLLM's
clients, `raw/<run>/` with AISBench's own files; a missing result is an error naming the run."""
import json
import shutil
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.npu.cluster.plugins.filter import bench as bench_filter

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "bench"


def runs(client, *names):
    conf = bench_filter.bench_settings([{"client": client, "num_prompts": 16},
                                        {"runs": [{"name": n} for n in names]}])
    assert conf["problems"] == []
    return conf["runs"]


def test_aisbench_files_per_run(tmp_path):
    ok, failed = tmp_path / "ok", tmp_path / "all-failed"
    ok.mkdir()
    failed.mkdir()
    shutil.copy(FIX / "ais-bench-3.1.20260630-ok.json", ok / "synthetic.json")
    shutil.copy(FIX / "ais-bench-3.1.20260630-ok.csv", ok / "synthetic.csv")
    # with a request rate AISBench also writes a plot's data as JSON: not a result
    (ok / "synthetic_rps_distribution_plot.json").write_text('{"data": [], "layout": {}}')
    shutil.copy(FIX / "ais-bench-3.1.20260630-wrong-model-failed.jsonl",
                failed / "synthetic_failed.jsonl")
    out = bench_filter.bench_records(runs("aisbench", "ok", "all-failed"), str(tmp_path),
                                     "aisbench", "3.1.20260630")
    good, bad = out["records"]
    assert good["client"] == {"name": "ais_bench", "version": "3.1.20260630"}
    assert (good["completed"], good["metrics"]["ttft_ms"]["mean"]) == (16, 203.3)
    assert good["run"]["num_prompts"] == 16
    assert out["problems"] == ["bench run all-failed: every request failed (16 of 16): first "
                               "error: Not Found"]
    assert out["table"].splitlines()[1].split()[:3] == ["ok", "16", "0"]
    with pytest.raises(AnsibleFilterError, match="bench run gone: no AISBench result"):
        bench_filter.bench_records(runs("aisbench", "gone"), str(tmp_path), "aisbench")


def test_vllm_json_per_run(tmp_path):
    shutil.copy(FIX / "vllm-bench-serve-0.32.0-ok.json", tmp_path / "r.json")
    out = bench_filter.bench_records(runs("vllm", "r"), str(tmp_path), "vllm", "0.32.0")
    assert out["records"][0]["client"] == {"name": "vllm bench serve", "version": "0.32.0"}
    with pytest.raises(AnsibleFilterError, match=r"bench run gone: its result \S+gone.json could "
                                                 r"not be read"):
        bench_filter.bench_records(runs("vllm", "gone"), str(tmp_path), "vllm")


def test_aisbench_config_filter_names_the_run():
    run, = runs("aisbench", "r")
    assert "'host_port': 8000" in bench_filter.bench_aisbench_config(run, "http://h:8000", "m", "/t")
    with pytest.raises(AnsibleFilterError, match="bench run r: no AISBench config"):
        bench_filter.bench_aisbench_config(run, "h:8000", "m", "/t")
    assert json.loads(json.dumps(bench_filter.bench_argv(run, "aisbench", "", "", "", "", "/r")))[
        :2] == ["ais_bench", "/r/r.py"]
