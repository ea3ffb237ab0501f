"""The checkout is the collection npu.cluster: FQCNs resolve and `ansible-galaxy collection
build` produces an installable artifact with the plugins and roles, and nothing else."""
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), LC_ALL="C.UTF-8")


def run(*argv, cwd=REPO):
    return subprocess.run([str(BIN / argv[0])] + list(argv[1:]), cwd=cwd, env=ENV,
                          capture_output=True, text=True, check=False)


def test_galaxy_build_contains_collection_content_only(tmp_path):
    res = run("ansible-galaxy", "collection", "build", "--output-path", str(tmp_path))
    assert res.returncode == 0, res.stderr
    artifact = tmp_path / "npu-cluster-0.1.0.tar.gz"
    with tarfile.open(artifact) as tar:
        names = set(tar.getnames())
    for must in ("MANIFEST.json", "meta/runtime.yml",
                 "roles/preflight/tasks/main.yml", "roles/preflight/meta/argument_specs.yml",
                 "plugins/filter/inventory_problems.py", "plugins/callback/run_summary.py",
                 "plugins/plugin_utils/inventory.py", "playbooks/preflight.yml",
                 "playbooks/serve.yml", "playbooks/teardown.yml",
                 "profiles/000-a2-dsv31-w8a8-dp4.yml", "roles/launch/tasks/stage.yml",
                 "plugins/plugin_utils/vllm_schemas/vllm-0.33.0.json",
                 "roles/container/tasks/present.yml", "plugins/plugin_utils/planner.py",
                 "playbooks/site.yml", "LICENSE", "docs/collection.md", "CHANGELOG.rst",
                 "changelogs/changelog.yaml", "plugins/filter/serving_plan.yml",
                 "roles/preflight/README.md", "roles/fabric/README.md",
                 "roles/container/README.md", "roles/plan/README.md", "roles/launch/README.md",
                 "plugins/plugin_utils/schemas/plan.schema.json",
                 "plugins/plugin_utils/schemas/profile.schema.json",
                 "plugins/modules/process_wait.py", "playbooks/bench.yml",
                 "roles/benchmark/tasks/present.yml", "roles/benchmark/README.md",
                 "plugins/plugin_utils/schemas/bench_record.schema.json",
                 "plugins/plugin_utils/vllm_schemas/vllm-0.32.0.json", "plugins/filter/bench.py"):
        assert must in names, must
    for never in ("collections", "tests", "lab", "inventories", "npu_cluster", ".venv",
                  "build", "docs/development.md", "docs/measurements.md"):
        assert not any(n == never or n.startswith(never + "/") for n in names), never
    # and it installs
    res = run("ansible-galaxy", "collection", "install", "-p", str(tmp_path / "inst"),
              str(artifact), "--offline", "--no-deps", "--force")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "inst/ansible_collections/npu/cluster/roles/preflight").is_dir()
    # the whole job is one collection playbook there
    env = dict(ENV, ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "inst"))
    res = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,",
                          "npu.cluster.site"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert str(tmp_path / "inst") in res.stdout


def test_every_plugin_is_documented_for_ansible_doc():
    for kind, names in (("filter", ("fabric_ping_plan", "fabric_report", "fabric_text",
                                    "fabric_html", "serving_plan", "serving_plan_text",
                                    "serving_gate", "inventory_problems", "serving_profile",
                                    "serving_secrets", "hardware")),
                        ("callback", ("run_summary",)),
                        ("module", ("npu_facts", "hccn_facts", "hccn_ping", "gcu_facts",
                                    "eccl_perf", "serving_facts", "launch_scripts",
                                    "process_wait"))):
        res = run("ansible-doc", "-t", kind, "--json", *["npu.cluster." + n for n in names])
        assert res.returncode == 0, res.stderr
        docs = json.loads(res.stdout)
        for name in names:
            doc = docs["npu.cluster." + name]["doc"]
            assert doc.get("version_added") == "0.1.0", (kind, name)
            assert doc.get("short_description"), (kind, name)


def test_fqcn_resolves_from_checkout():
    res = run("ansible-doc", "-t", "filter", "npu.cluster.inventory_problems")
    assert res.returncode == 0, res.stderr
    assert "inventory_problems" in res.stdout


def test_site_syntax():
    res = run("ansible-playbook", "--syntax-check", "-i", "localhost,", "site.yml")
    assert res.returncode == 0, res.stderr


def test_bad_inventory_fails_on_controller_before_any_host(tmp_path):
    inv = tmp_path / "hosts.yml"
    # n1 is in no hardware group; its connection would fail if anything tried to reach it.
    inv.write_text(
        "all:\n  children:\n    npu_nodes:\n      children:\n        ascend_a2:\n"
        "          hosts:\n            n0: {ansible_host: 203.0.113.1, "
        "npu_cluster_serving_ip: 127.0.0.1}\n"
        "      hosts:\n        n1: {ansible_host: 203.0.113.2}\n")
    res = run("ansible-playbook", "-i", str(inv), "site.yml")
    assert res.returncode != 0
    out = res.stdout
    assert "n1: in no hardware group" in out
    assert "n0: npu_cluster_serving_ip=127.0.0.1 is a loopback address; it must be the address" in out
    assert "no host was changed" in out
    # the node play never started: no task ran on n0/n1
    assert "every node reachable" not in out.split("RUN SUMMARY")[0].split("PLAY RECAP")[0]
