"""`pip install .` gives a working `npu-cluster`: its dependencies declared, the collection and
the profiles inside the package, and `npu-cluster plan` running outside the checkout."""
import email
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The package as pip installs it (no dependencies: they are this venv's, checked below
    against the metadata), in a directory of its own."""
    target = tmp_path_factory.mktemp("site")
    res = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                          "--target", str(target), str(REPO)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return target


def _env(site):
    # only the installed copy: no checkout on the path, no ./collections, no ansible.cfg
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(PYTHONPATH=str(site), ANSIBLE_COLLECTIONS_PATH=os.devnull, LC_ALL="C.UTF-8")
    return env


def test_metadata_declares_dependencies(installed):
    meta = next(installed.glob("npu_cluster-*.dist-info")) / "METADATA"
    requires = email.message_from_string(meta.read_text()).get_all("Requires-Dist")
    assert any(r.replace(" ", "").startswith("ansible-core<2.20.0,>=2.19.0") or
               r.replace(" ", "").startswith("ansible-core>=2.19.0,<2.20.0") for r in requires), requires
    assert any(r.startswith("PyYAML") for r in requires), requires
    assert any(r.replace(" ", "").startswith("ansible-runner") for r in requires), requires


def test_collection_and_profiles_are_in_the_package(installed):
    root = installed / "ansible_collections" / "npu" / "cluster"
    for must in ("profiles/000-a2-dsv31-w8a8-dp4.yml", "playbooks/site.yml",
                 "roles/launch/tasks/stage.yml", "plugins/plugin_utils/schemas/plan.schema.json", "roles/fabric/tasks/main.yml",
                 "roles/preflight/meta/argument_specs.yml", "meta/runtime.yml",
                 "plugins/plugin_utils/planner.py", "plugins/filter/serving_plan.yml",
                 "plugins/plugin_utils/vllm_schemas/vllm-0.33.0.json", "galaxy.yml", "LICENSE"):
        assert (root / must).is_file(), must
    for never in ("tests", "lab", "molecule", "perf", "inventories", "scripts"):
        assert not (root / never).exists(), never


def test_plan_runs_outside_the_checkout(installed, tmp_path):
    shutil.copytree(REPO / "inventories" / "a2", tmp_path / "a2")
    res = subprocess.run([sys.executable, "-m", "npu_cluster.cli", "plan", "-i", "a2"],
                         cwd=tmp_path, env=_env(installed), capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("profile 000-a2-dsv31-w8a8-dp4 (dp_headless)")
    assert "--headless" in res.stdout and "--data-parallel-start-rank 2" in res.stdout
    # the profile came from the installed copy
    cli = subprocess.run([sys.executable, "-c", "import npu_cluster.cli as c; "
                          "print(c._profiles_dir())"], cwd=tmp_path, env=_env(installed),
                         capture_output=True, text=True, check=True).stdout.strip()
    assert cli.startswith(str(installed))


def test_installed_collection_playbook_resolves(installed, tmp_path):
    bindir = Path(sys.executable).parent
    res = subprocess.run([str(bindir / "ansible-playbook"), "--syntax-check", "-i", "localhost,",
                          "npu.cluster.site"], cwd=tmp_path, env=_env(installed),
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert str(installed) in res.stdout
