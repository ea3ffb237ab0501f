"""Ray's view of the cluster against the plan (process_wait's `ray` probe, pure): every verdict
from real outputs of the collection's NODES_SCRIPT, captured against Ray 2.48.0 in the lab's
serving-ray image -- a healthy a2x2, a worker stopped, a worker started with the runbook's
--num-gpus, an A3 node left to Ray's own count, a head that is down -- each asserting the full
message."""
from pathlib import Path

import pytest

from ansible_collections.npu.cluster.plugins.module_utils import ray, serving

FIXTURES = Path(__file__).parent / "fixtures"
HEAD, WORKER = "10.201.63.10", "10.201.63.11"


def seen(name, rc=0):
    return {"rc": rc, "out": (FIXTURES / name).read_text()}


def probe(nodes, min_total=0, counted_by="plan"):
    return {"type": "ray", "address": HEAD + ":6379", "resource": "NPU", "forbid": ["GPU"],
            "nodes": nodes, "all_ips": [HEAD, WORKER], "min_total": min_total,
            "counted_by": counted_by}


N0 = {"host": "a2-node-0", "ip": HEAD, "npus": 8}
N1 = {"host": "a2-node-1", "ip": WORKER, "npus": 8}


@pytest.mark.parametrize("nodes,min_total,fixture,rc,state,text", [
    ([N0, N1], 16, "ray_nodes_a2x2_healthy.json", 0, "ready",
     "n: ray-worker ready, Ray: 2 nodes alive (a2-node-0, a2-node-1), 16 NPU (4s)"),
    ([N0], 0, "ray_nodes_a2x2_healthy.json", 0, "ready",
     "n: ray-worker ready, Ray: 1 node alive (a2-node-0), 8 NPU (4s)"),
    ([N0, N1], 16, "ray_nodes_worker_stopped.json", 0, "waiting",
     "n: ray-worker running, waiting for a2-node-1 (10.201.63.11) to join Ray at "
     "10.201.63.10:6379 (1 of 2 alive) (4s)"),
    ([N0, N1], 16, "ray_nodes_gcs_refused.json", 3, "waiting",
     "n: ray-worker running, Ray at 10.201.63.10:6379 not answering yet (ConnectionRefusedError: "
     "[Errno 111] Connection refused) (4s)"),
])
def test_ray_cluster_states(nodes, min_total, fixture, rc, state, text):
    verdict = ray.judge("n", "ray-worker", probe(nodes, min_total), seen(fixture, rc), 4)
    assert (verdict["state"], verdict["progress"], verdict["problem"]) == (state, text, None)


def test_a_worker_registered_with_num_gpus_fails_naming_it():
    verdict = ray.judge("n", "ray-worker", probe([N0, N1], 16),
                        seen("ray_nodes_worker_num_gpus.json"), 4)
    assert verdict["state"] == "failed"
    assert verdict["problem"] == (
        "n: a2-node-1 (10.201.63.11) registered 8 GPU with Ray (and 8 NPU): `ray start "
        "--num-gpus` declares the NPUs as GPUs -- the runbook's form for old images; current "
        "vllm-ascend then reports no NPU available. Start Ray with --resources='{\"NPU\": 8}' "
        "(ray.npus: resources)")


def test_an_a3_node_counted_short_by_ray_fails_with_the_cause():
    a3 = {"host": "a3-node-0", "ip": HEAD, "npus": 16}
    verdict = ray.judge("a3-node-0", "ray-head", dict(probe([a3], 16, "ray"), all_ips=[HEAD]),
                        seen("ray_nodes_a3_auto_visible8.json"), 2)
    assert verdict["state"] == "failed"
    assert verdict["problem"] == (
        "a3-node-0: a3-node-0 (10.201.63.10) registered 8 NPU with Ray, the plan needs 16: Ray "
        "counted them itself (the /dev/davinciN it sees, or CANN's acl, capped by "
        "ASCEND_RT_VISIBLE_DEVICES in `ray start`'s environment); register them explicitly "
        "(ray.npus: resources)")


def test_a_node_outside_the_plan_fails():
    verdict = ray.judge("n", "ray-head", dict(probe([N0]), all_ips=[HEAD]),
                        seen("ray_nodes_a2x2_healthy.json"), 1)
    assert verdict["state"] == "failed"
    assert verdict["problem"] == (
        "n: Ray (GCS 10.201.63.10:6379) has a node registered as 10.201.63.11, which is no "
        "serving IP of the inventory (10.201.63.10): that node's Ray was started with another "
        "--node-ip-address or on another network; vLLM would wait for its placement group "
        "forever")


def test_too_few_npus_in_all_fails():
    small = [dict(N0, npus=8), dict(N1, npus=8)]
    verdict = ray.judge("n", "ray-worker", probe(small, 32), seen("ray_nodes_a2x2_healthy.json"),
                        1)
    assert verdict["problem"] == ("n: the Ray cluster has 16 NPU on 2 nodes, tensor x pipeline "
                                  "parallel needs 32")


@pytest.mark.parametrize("rc,out,text", [
    (1, "", "no answer from Ray (exit 1)"),
    (127, "python3: not found\n", "no answer from Ray (exit 127: python3: not found)"),
    (0, "{\"nodes\": []}", None),
])
def test_parse_nodes_every_form(rc, out, text):
    nodes, error = ray.parse_nodes(rc, out)
    assert error == text
    assert nodes == (None if text else [])


def test_ray_log_lines_keep_rays_own_lines_only():
    rows = ray.log_lines((FIXTURES / "ray_raylet_out_tail.txt").read_text(), 5)
    assert len(rows) == 5
    assert all(r.startswith("[20") and "[state-dump]" not in r for r in rows)


def test_a_ray_worker_whose_start_timed_out_names_the_head():
    proc = {"name": "ray-worker", "role": "ray_worker", "kind": "ray_worker", "wait": "ready",
            "lifecycle": {"type": "daemon", "start_timeout": 60},
            "probe": probe([N0, N1], 16)}
    verdict = serving.judge_process("a2-node-1", proc,
                                    {"status": "exited 124", "exit_code": 124}, 61)
    assert verdict["problem"] == (
        "a2-node-1: ray-worker (ray_worker): its start command did not finish within 60s and was "
        "stopped (exit 124); the node never joined the Ray cluster at 10.201.63.10:6379 (is that "
        "port reachable from a2-node-1?)")


def test_serving_routes_a_ray_probe_to_the_ray_judge():
    proc = {"name": "ray-head", "role": "ray_head", "wait": "ready", "probe": probe([N0])}
    verdict = serving.judge_process("a2-node-0", proc, {
        "status": "running", "probe": seen("ray_nodes_a2x2_healthy.json")}, 3)
    assert verdict["state"] == "ready"
