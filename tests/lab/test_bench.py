"""`--tags bench` on the a3x2 deployment (runbook 002's DP 2 x TP 16, simulated engine) with the
real client: vLLM's own `vllm bench serve` (the lab's CPU build, in the lab client image) and
the tiny model's tokenizer, built offline.

The simulated engine's time to first token and per-token time are set (200 ms, 20 ms); the
record's TTFT, TPOT and ITL must follow them within 25 %, which proves the fields are wired to
the right numbers, not just present.  Then a profile whose baseline is met passes and one whose
baseline is missed fails naming the metric; an endpoint that is down and a client missing from
the image fail with what to do.
"""
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import why

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
FAST = "query_ms=20,ping_ms=200"
ENGINE = {"npu_cluster_extra_env": {"NPU_LAB_VLLM_LOAD_SECONDS": "2", "NPU_LAB_VLLM_TOKEN_MS": "20",
                                    "NPU_LAB_VLLM_TTFT_MS": "200"}}
SMALL = {"input_len": 32, "output_len": 16, "num_prompts": 16, "max_concurrency": 4,
         "warmup_prompts": 4}


@pytest.fixture(scope="module")
def a3(lab_factory, tmp_path_factory):
    lab = lab_factory("a3x2", latency=FAST)
    tmp = tmp_path_factory.mktemp("bench")
    lab.vars = tmp / "bench-vars.json"
    lab.vars.write_text(lab.npu_lab_json("image-vars", "--variant", "bench"))
    lab.deploy(extra_vars=json.dumps(ENGINE), must=True)
    return lab


def bench(lab, *extra, settings=None):
    """`bench` through the API with the lab's client image; extra: more `-e` values.  The
    records are the run's (its artifacts' bench/<time>/records.json); the fabric verdict is
    the one the deploy run above left in the lab's artifacts folder."""
    res = lab.run("bench", extra_vars=[
        "@%s" % lab.vars,
        json.dumps({"npu_cluster_bench": dict(SMALL, **(settings or {}))})] + list(extra))
    return res, (res.bench or None)


def test_bench_records_what_the_engine_does(a3, tmp_path):
    res, records = bench(a3, settings={"runs": [{"name": "c4"},
                                                {"name": "c1", "max_concurrency": 1}]})
    assert res.ok, why(res, 5000)
    assert [r["name"] for r in records] == ["c4", "c1"]
    schema = json.loads((REPO / "plugins" / "plugin_utils" / "schemas" /
                         "bench_record.schema.json").read_text())
    for rec in records:
        jsonschema.Draft202012Validator(schema).validate(rec)
        assert (rec["completed"], rec["failed"]) == (16, 0), rec
        assert rec["client"] == {"name": "vllm bench serve", "version": "0.32.0"}
        m = rec["metrics"]
        # the engine's 200 ms to the first token and 20 ms per token, within 25 %
        assert 200 <= m["ttft_ms"]["mean"] <= 250, m
        assert 20 <= m["tpot_ms"]["mean"] <= 25, m
        assert 20 <= m["itl_ms"]["median"] <= 25, m
        # 16 tokens: TTFT + 15 x TPOT
        assert m["e2el_ms"]["mean"] == pytest.approx(m["ttft_ms"]["mean"] + 15 * m["tpot_ms"]["mean"],
                                                     rel=0.1), m
        dep = rec["deployment"]
        assert dep["profile"] == "002-a3-dsv32-exp-dp2-tp16" and dep["engine_version"] == "0.11.0"
        assert dep["fabric"]["verdict"] == "PASS"
        assert sorted(dep["hosts"]) == ["a3-node-0", "a3-node-1"]
        assert dep["hosts"]["a3-node-1"]["processes"][0]["argv"][:2] == ["vllm", "serve"]
    # one client at a time takes about four times as long as four
    assert records[1]["duration_s"] > 2.5 * records[0]["duration_s"], records
    assert re.search(r"^\s+\"c4\s+16\s+0\s+[\d.]+\s+[\d.]+\s+2\d\d\.\d+\s+2\d\.\d+", res.output(),
                     re.M), res.output()[-3000:]


def profile_with(tmp, name, baseline):
    prof = yaml.safe_load((REPO / "profiles" / "002-a3-dsv32-exp-dp2-tp16.yml").read_text())
    prof["name"] = name
    prof["bench"] = dict(SMALL, baseline=baseline)
    path = tmp / ("%s.yml" % name)
    path.write_text(yaml.safe_dump(prof))
    return path


def test_a_baseline_that_is_met_passes_and_one_that_is_missed_fails(a3, tmp_path):
    met = profile_with(tmp_path, "bench-met", {"tpot_ms.mean": {"expected": 21, "tolerance": 0.2},
                                               "ttft_ms.p99": {"expected": 210, "tolerance": 0.2}})
    res, records = bench(a3, "npu_cluster_profile=%s" % met, settings={})
    assert res.ok, why(res, 4000)
    assert records[0]["gate"] == [] and records[0]["deployment"]["profile"] == "bench-met"
    missed = profile_with(tmp_path, "bench-missed", {
        "tpot_ms.mean": {"expected": 5, "tolerance": 0.1},
        "output_throughput": {"expected": 100000, "tolerance": 0.5}})
    res, records = bench(a3, "npu_cluster_profile=%s" % missed, settings={})
    assert not res.ok
    tpot = records[0]["metrics"]["tpot_ms"]["mean"]
    measured = re.escape(("%.2f" % tpot).rstrip("0").rstrip("."))
    assert re.search(r"The benchmark missed its baseline \(\S+/records.json\): bench run 1-rate-inf-c4: "
                     r"output_throughput: measured [\d.]+, expected 100000 within 50% \(at least 50000\); "
                     r"bench run 1-rate-inf-c4: tpot_ms.mean: measured " + measured +
                     r", expected 5 within 10% \(at most 5.5\)", res.output()), res.output()[-4000:]


def test_bench_through_the_api(a3, tmp_path):
    import npu_cluster
    extra = dict(json.loads(a3.vars.read_text()), npu_cluster_bench=dict(SMALL, warmup_prompts=0))
    res = npu_cluster.bench(str(a3.inventory), extra_vars=extra,
                            artifacts_dir=str(tmp_path / "20261130T000000Z-bench"))
    assert res.ok, why(res)
    rec, = res.bench
    assert rec["completed"] == 16 and 20 <= rec["metrics"]["tpot_ms"]["mean"] <= 25
    assert list((tmp_path / "20261130T000000Z-bench" / "bench").glob("*/records.json"))
    assert json.loads((tmp_path / "20261130T000000Z-bench" / "result.json").read_text())[
        "bench"][0]["name"] == rec["name"]


def test_aisbench_is_installed_once_and_records_what_the_engine_does(a3, tmp_path):
    """AISBench, chosen in the settings: the role installs PyPI's ais-bench-benchmark at its
    pinned version into the client container (from the shared wheel directory, --no-index, as
    from an operator's mirror), writes the runbook's model config from the plan, runs the
    warm-up and the run, and reads AISBench's own result files.  A second invocation installs
    nothing."""
    vars_file = tmp_path / "aisbench-vars.json"
    vars_file.write_text(a3.npu_lab_json("image-vars", "--variant", "bench-aisbench"))
    settings = {"npu_cluster_bench": dict(SMALL, client="aisbench", runs=[{"name": "c4"}])}
    install = (r"TASK \[npu\.cluster\.benchmark : Install AISBench at the pinned version into the "
               r"client container\] \*+\n(changed|skipping|ok): \[a3-node-0\]")
    for attempt in ("installs", "reuses"):
        if attempt == "reuses":   # the warm-up was exercised the first time
            settings["npu_cluster_bench"]["warmup_prompts"] = 0
        res = a3.run("bench", extra_vars=["@%s" % vars_file, json.dumps(settings)])
        assert res.ok, why(res, 5000)
        found = re.search(install, res.output())
        assert found and found.group(1) == ("changed" if attempt == "installs" else "skipping"), \
            (attempt, res.output()[-5000:])
        rec, = res.bench
        assert rec["client"] == {"name": "ais_bench", "version": "3.1.20260630"}
        assert (rec["name"], rec["completed"], rec["failed"]) == ("c4", 16, 0), rec
        m = rec["metrics"]
        # the engine's 200 ms to the first token and 20 ms per token, within 25 %
        assert 200 <= m["ttft_ms"]["mean"] <= 250 and 200 <= m["ttft_ms"]["p99"] <= 250, m
        assert 20 <= m["tpot_ms"]["mean"] <= 25 and 20 <= m["tpot_ms"]["median"] <= 25, m
        assert m["e2el_ms"]["mean"] == pytest.approx(m["ttft_ms"]["mean"] + 15 * m["tpot_ms"]["mean"],
                                                     rel=0.1), m
        assert rec["run"]["total_output_tokens"] == 16 * 16
        assert rec["deployment"]["fabric"]["verdict"] == "PASS"
    # AISBench's own files came back with the record, the warm-up's did not
    raw = sorted(p.name for p in Path(res.artifacts).glob("bench/*/raw/**/*") if p.is_file())
    assert raw == ["synthetic.csv", "synthetic.json"], raw


def test_a_client_missing_from_the_image_is_named(a3, tmp_path):
    """Without the lab client image the serving image is used (vendor images ship the client);
    the lab's simulated serving image does not."""
    image = json.loads(a3.vars.read_text())
    image.pop("npu_cluster_bench_image")
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(image))
    res = a3.run("bench", extra_vars="@%s" % plain)
    assert not res.ok
    assert re.search(r"a3-node-0: the benchmark client \(vllm\) is not in npu-lab/serving:\w+: no "
                     r"vllm distribution installed. Use an image that ships it "
                     r"\(npu_cluster_bench_image\). Nothing was benchmarked.", res.output()), \
        res.output()[-3000:]


def test_an_endpoint_that_is_down_is_named(a3, tmp_path):
    a3.exec(0, "docker", "exec", "vllm-ascend", "/bin/sh", "/etc/npu-cluster/serving/"
            "vllm-serve.sh", "stop", check=True)
    res, records = bench(a3, "benchmark_ready_timeout=5")
    assert not res.ok and records is None
    assert re.search(r"a3-node-0: the endpoint http://[\d.]+:8000 is not ready after 5s \(last: "
                     r"[^)]*\): deploy first \(site.yml\), or see `npu-cluster status`. Nothing was "
                     r"benchmarked.", res.output()), res.output()[-3000:]
    # the client container is ours: teardown removes it with the serving containers
    assert a3.teardown().ok
    assert a3.exec(0, "docker", "ps", "-aq", check=True).stdout.strip() == ""
