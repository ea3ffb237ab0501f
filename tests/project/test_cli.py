"""`npu-cluster plan`: reads the example inventories, prints a table or JSON, never connects."""
import json
import subprocess
import sys
from pathlib import Path

import jsonschema

REPO = Path(__file__).resolve().parents[2]


def run(*args):
    return subprocess.run([sys.executable, "-m", "npu_cluster.cli", "plan"] + list(args),
                          cwd=REPO, capture_output=True, text=True, check=False)


def test_plan_json_for_the_a2_example_inventory():
    res = run("-i", "inventories/a2", "-e", "npu_cluster_serving_nic=enp189s0f0", "--json")
    assert res.returncode == 0, res.stderr
    plan = json.loads(res.stdout)
    assert plan["errors"] == [] and plan["unknowns"] == []
    assert plan["profile"] == "000-a2-dsv31-w8a8-dp4"
    assert set(plan["hosts"]) == {"a2-node-0", "a2-node-1"}
    # the plan itself, in the documented format
    schema = json.loads((REPO / "plugins/plugin_utils/schemas/plan.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(plan)
    (proc,) = plan["hosts"]["a2-node-1"]["processes"]
    assert proc["stage"] == 0 and proc["lifecycle"] == {"type": "foreground"}
    assert proc["argv"][:3] == ["vllm", "serve", "vllm-ascend/DeepSeek-V3.1-W8A8"]
    assert "--headless" in proc["argv"]
    assert proc["env"]["HCCL_IF_IP"] == "192.0.2.11"
    assert proc["env"]["HCCL_SOCKET_IFNAME"] == "enp189s0f0"
    assert plan["endpoint"] == {"url": "http://192.0.2.10:8004", "host": "a2-node-0",
                                "process": "vllm-serve"}
    assert [[p["host"] for p in s["processes"]] for s in plan["stages"]] == [["a2-node-1"],
                                                                             ["a2-node-0"]]


def test_plan_table_marks_unknowns_and_selects_other_profiles():
    res = run("-i", "inventories/a3", "-e", "npu_cluster_profile=002-a3-dsv32-exp-w8a8-tp16")
    assert res.returncode == 0, res.stderr
    assert "a3-node-0: single" in res.stdout
    assert "== a3-node-1: idle" in res.stdout
    assert "unknown until facts are gathered:" in res.stdout


def test_plan_errors_exit_1_and_name_the_rule():
    res = run("-i", "inventories/a3", "-e", "npu_cluster_dp_size_local=2")
    assert res.returncode == 1
    assert "a3-node-0: data-parallel-size-local 2 x tensor-parallel-size 16 = 32 > 16 NPUs" \
        in res.stdout


def test_unknown_profile_lists_the_shipped_ones():
    res = run("-i", "inventories/a2", "-e", "npu_cluster_profile=nope")
    assert res.returncode == 2
    assert "profile 'nope' not found (looked at %s/inventories/a2/profiles/nope.yml, " % REPO \
        in res.stderr
    assert "shipped profiles: 000-a2-dsv31-w8a8-dp4, " in res.stderr


def test_extra_vars_are_parsed_as_ansible_does(tmp_path):
    """-e strings: "false" is false, JSON and @file work, as with ansible-playbook."""
    extra = tmp_path / "extra.yml"
    extra.write_text("npu_cluster_serving_nic: bond0\n")
    res = run("-i", "inventories/a2", "-e", "npu_cluster_head=false", "-e", "@%s" % extra,
              "-e", '{"npu_cluster_http_port": "9001"}', "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    plan = json.loads(res.stdout)
    assert plan["head"] == "a2-node-0"
    assert plan["hosts"]["a2-node-0"]["processes"][0]["env"]["GLOO_SOCKET_IFNAME"] == "bond0"
    assert plan["endpoint"]["url"] == "http://192.0.2.10:9001"


def test_bad_values_are_refused_by_name_not_with_a_traceback():
    res = run("-i", "inventories/a2", "-e", "npu_cluster_head=perhaps")
    assert res.returncode == 1
    assert "a2-node-0: npu_cluster_head='perhaps' is not a boolean (true or false, yes or no, " \
           "1 or 0)" in res.stdout
    assert "Traceback" not in res.stdout + res.stderr
    res = run("-i", "inventories/a2", "-e", "@/nonexistent.yml")
    assert res.returncode != 0 and "Traceback" not in res.stdout + res.stderr
