"""`vllm serve` option tables per version, parsed the way vLLM's argparse parser does."""
import pytest

from ansible_collections.npu.cluster.plugins.plugin_utils import vllm_args


def test_versions_and_unknown_version():
    assert vllm_args.versions() == ["0.9.1", "0.9.2", "0.11.0", "0.32.0", "0.33.0"]
    with pytest.raises(ValueError, match="no option table for vLLM 1.0"):
        vllm_args.schema("1.0")


def test_the_032_table_is_that_vllms_own():
    """vllm-0.32.0.json was read from vLLM 0.32.0's parser (the lab's CPU build): options 0.33.0
    added are unknown to it, and its negative boolean spellings are its own."""
    assert vllm_args.schema("0.32.0").version == "0.32.0"
    assert vllm_args.parse("0.32.0", ["m", "--sleep-mode-backend", "cumem"])["errors"] == [
        "unrecognized arguments: --sleep-mode-backend cumem"]
    assert vllm_args.parse("0.33.0", ["m", "--sleep-mode-backend", "cumem"])["errors"] == []
    assert vllm_args.parse("0.32.0", ["m", "--no-enable-auto-tool-choice"])["errors"] == []
    r = vllm_args.parse("0.32.0", ["m", "--headless", "--data-parallel-start-rank", "1",
                                   "--enforce-eager", "--max-model-len", "512"])
    assert r["errors"] == [] and r["values"]["headless"] is True


def test_flags_values_and_spellings():
    r = vllm_args.parse("0.33.0", [
        "m", "--tensor_parallel_size", "8", "-dp", "2", "--data-parallel-rpc-port=13389",
        "--no-enable-prefix-caching", "--disable-expert-parallel", "--served-model-name", "a",
        "b", "--gpu-memory-utilization", "0.92", "--trust-remote-code"])
    assert r["errors"] == [] and r["model"] == "m"
    v = r["values"]
    assert v["tensor_parallel_size"] == 8 and v["data_parallel_size"] == 2
    assert v["data_parallel_rpc_port"] == 13389
    assert v["enable_prefix_caching"] is False and v["enable_expert_parallel"] is False
    assert v["served_model_name"] == ["a", "b"] and v["gpu_memory_utilization"] == 0.92
    assert v["trust_remote_code"] is True


@pytest.mark.parametrize("args,error", [
    (["m", "--num-scheduler-steps", "8"], "unrecognized arguments: --num-scheduler-steps 8"),
    (["m", "--port"], "argument --port: expected one argument"),
    (["m", "--seed", "x"], "argument --seed: invalid int value: 'x'"),
    (["m", "--headless=1"], "argument --headless: ignored explicit argument '1'"),
    (["m", "n"], "unrecognized arguments: n"),
    (["m", "--collect-detailed-traces", "gpu"], "invalid choice: 'gpu'"),
])
def test_errors_read_like_argparse(args, error):
    r = vllm_args.parse("0.33.0", args)
    assert any(error in e for e in r["errors"]), r["errors"]
    assert vllm_args.error_text(r["errors"]).startswith("usage: vllm serve [model_tag] [options]\n"
                                                        "vllm serve: error: ")


def test_older_versions_keep_the_options_0_33_removed():
    assert vllm_args.parse("0.11.0", ["m", "--disable-frontend-multiprocessing"])["errors"] == []
    assert vllm_args.parse("0.11.0", ["m", "--num-scheduler-steps", "8"])["errors"]
    assert vllm_args.parse("0.9.2", ["m", "--num-scheduler-steps", "8"])["errors"] == []
