"""The Python API (npu_cluster.api): typed results from recorded ansible-runner events of real
runs (a healthy a3x2 lab, the same lab with a link down, unreachable nodes, a run canceled
through the cancel callback), and the calls that need no host."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import npu_cluster
from npu_cluster import api

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runner"


def recorded(name):
    data = json.loads((FIXTURES / ("%s.json" % name)).read_text())
    return api.summarize(data["events"], "verify", data["status"], data["rc"],
                         artifacts="/tmp/a")


def test_a_passing_verify():
    res = recorded("verify-pass")
    assert (res.status, res.rc, res.ok, res.failures, res.unreachable) == (
        "successful", 0, True, [], [])
    assert res.fabric["verdict"] == "PASS" and res.fabric["gate_passed"] is True
    node = res.hosts["a3-node-1"]
    assert (node.fabric_passed, node.problems, node.failed, node.unreachable) == (
        True, [], 0, False)
    assert node.versions == {"npu_smi": "25.3.rc1", "driver": "25.3.rc1",
                             "firmware": "7.7.0.6.236", "cann": "8.3.RC1"}
    assert node.ok >= 3 and res.hosts["localhost"].ok >= 10
    plays = [p.play for p in res.plays]
    assert plays[:5] == ["Preflight | controller version and inventory",
                         "Preflight | every node reachable, devices present",
                         "Verify | Ascend nodes - NPU and network facts, cross-node pings",
                         "Verify | Enflame nodes - GCU facts and ECCL test",
                         "Verify | cluster verdict, summary and gate"]
    assert res.plays[2].seconds > 0.5  # the Ascend play does the node work
    assert res.to_dict()["hosts"]["a3-node-0"]["fabric_passed"] is True
    json.dumps(res.to_dict())  # JSON-ready (the CLI's --json, result.json)


def test_a_failing_verify_names_the_task_host_and_problem():
    res = recorded("verify-fail")
    assert (res.status, res.ok, res.unreachable) == ("failed", False, [])
    (failure,) = res.failures
    assert (failure.host, failure.task, failure.unreachable) == (
        "localhost", "Stop unless every node passed", False)
    assert failure.message.startswith("Fabric verification FAILED on 1 of\n2 nodes")
    assert res.fabric["verdict"] == "FAIL" and res.fabric["failing_hosts"] == ["a3-node-1"]
    bad = res.hosts["a3-node-1"]
    assert bad.fabric_passed is False
    assert "a3-node-1 device 3: link is not UP (check link, value DOWN)" in bad.problems
    assert res.hosts["a3-node-0"].fabric_passed is True


def test_unreachable_nodes():
    res = recorded("verify-unreachable")
    assert (res.status, res.ok, res.unreachable) == ("failed", False, ["a3-node-0", "a3-node-1"])
    assert {f.host for f in res.failures if f.unreachable} == {"a3-node-0", "a3-node-1"}
    failure = [f for f in res.failures if f.host == "a3-node-0"][0]
    assert failure.task.startswith("Gather NPU and NPU network facts")
    assert "Connection refused" in failure.message
    assert res.hosts["a3-node-0"].unreachable is True


def test_a_canceled_run():
    res = recorded("verify-canceled")
    assert (res.status, res.ok) == ("canceled", False)


def test_ignored_errors_are_not_failures():
    events = [{"event": "runner_on_failed", "event_data": {
        "host": "n0", "task": "t", "play": "p", "ignore_errors": True, "res": {"msg": "x"}}}]
    assert api.summarize(events).failures == []
    events[0]["event_data"]["ignore_errors"] = False
    (failure,) = api.summarize(events).failures
    assert (failure.host, failure.task, failure.message) == ("n0", "t", "x")


def test_driver_facts_and_the_version_table_come_from_their_tasks():
    report = {"versions": {"driver": "25.3.rc1", "firmware": "7.7.0.6.236"}, "rebooted": True,
              "reboot_needed": False, "steps": [{"component": "driver", "action": "install"}]}
    table = {"columns": ["driver"], "rows": [{"host": "n0", "driver": "25.3.rc1"}], "skew": [],
             "problems": [], "passed": True}
    events = [
        {"event": "runner_on_ok", "event_data": {
            "host": "n0", "task": "Record this node's versions and verdict (fact "
                                  "ascend_driver_report)",
            "res": {"ansible_facts": {"ascend_driver_report": report}}}},
        {"event": "runner_on_ok", "event_data": {
            "host": "localhost", "task": "Build the version table",
            "res": {"ansible_facts": {"preflight_versions": table}}}},
        {"event": "runner_on_ok", "event_data": {
            "host": "localhost", "task": "Something else",
            "res": {"ansible_facts": {"preflight_versions": {"rows": []}}}}}]
    res = api.summarize(events, "deploy")
    assert res.hosts["n0"].drivers == report and res.version_table == table
    assert "localhost" not in res.hosts  # the controller has no driver report


def status_events(rank_state="running", http=200):
    node = {"containers": ["vllm-ascend: Up 2 minutes"], "processes": {"vllm-serve": rank_state},
            "healthy": rank_state == "running"}
    return [
        {"event": "runner_on_ok", "event_data": {
            "host": "n0", "task": "Record this node's status (fact launch_status)",
            "res": {"ansible_facts": {"launch_status": node}}}},
        {"event": "runner_on_ok", "event_data": {
            "host": "n0", "task": "Record the endpoint's health (fact npu_cluster_endpoint_status)",
            "res": {"ansible_facts": {"npu_cluster_endpoint_status": {
                "url": "http://10.0.0.1:8004", "http_status": http, "healthy": http == 200,
                "error": None}}}}},
        {"event": "runner_on_ok", "event_data": {
            "host": "n0", "task": "Plan the deployment",
            "res": {"ansible_facts": {"plan_deployment": {"endpoint": {"url": "u"}}}}}}]


def test_status_results_and_exit_code():
    from npu_cluster import cli
    res = api.summarize(status_events(), "status")
    assert res.hosts["n0"].processes == {"vllm-serve": "running"}
    assert res.hosts["n0"].serving_healthy and res.endpoint["healthy"]
    assert res.plan == {"endpoint": {"url": "u"}}
    assert cli.status_ok(res)
    assert not cli.status_ok(api.summarize(status_events("exited 1"), "status"))
    assert not cli.status_ok(api.summarize(status_events(http=503), "status"))
    lines = cli.status_lines(api.summarize(status_events("exited 1", 503), "status"))
    assert lines[0].split() == ["n0", "-", "containers:", "vllm-ascend:", "Up", "2", "minutes;",
                                "processes:", "vllm-serve", "exited", "1"]
    assert lines[1] == "  endpoint http://10.0.0.1:8004: NOT healthy (503)"
    assert lines[2] == "  no deploy run recorded under the artifacts directory"


def test_latest_deploy_reads_the_newest_deploy_folder(tmp_path):
    for stamp, verdict in (("20261130T010000Z", "FAIL"), ("20261130T020000Z", "PASS")):
        folder = tmp_path / ("%s-deploy" % stamp)
        folder.mkdir()
        (folder / "result.json").write_text(json.dumps({
            "inventory": "/inv/a", "ok": verdict == "PASS", "fabric": {"verdict": verdict},
            "plan": {"profile": "p", "endpoint": {"url": "http://h:1", "host": "n0"}},
            "version_table": {"rows": []}}))
    (tmp_path / "20261130T030000Z-verify").mkdir()
    last = api.latest_deploy(tmp_path)
    assert last["fabric_verdict"] == "PASS" and last["endpoint"]["host"] == "n0"
    assert last["artifacts"].endswith("20261130T020000Z-deploy")
    assert api.latest_deploy(tmp_path / "none") is None
    # another cluster's deploy in the same artifacts directory is not this one's
    other = tmp_path / "20261130T040000Z-deploy"
    other.mkdir()
    (other / "result.json").write_text(json.dumps({"inventory": "/inv/b", "ok": False}))
    assert api.latest_deploy(tmp_path, "/inv/a")["fabric_verdict"] == "PASS"
    assert api.latest_deploy(tmp_path, "/inv/b")["ok"] is False
    assert api.latest_deploy(tmp_path, "/inv/c") is None


def test_runs_started_in_one_second_get_their_own_folders_in_order(tmp_path, monkeypatch):
    fixed = api.time.gmtime(1796000000)
    monkeypatch.setattr(api.time, "gmtime", lambda *args: fixed)
    folders = [api.new_run_folder(tmp_path, "deploy") for _n in range(3)]
    assert [f.name for f in folders] == ["20261130T005320Z-deploy", "20261130T005320Z.002-deploy",
                                         "20261130T005320Z.003-deploy"]
    assert sorted(folders) == folders
    for i, folder in enumerate(folders):
        (folder / "result.json").write_text(json.dumps({"ok": True, "plan": {"profile": str(i)}}))
    assert api.latest_deploy(tmp_path)["profile"] == "2"


def test_usage_errors_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="unknown verb 'serve'"):
        api.run("serve", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        npu_cluster.verify(str(tmp_path / "missing.yml"))


def test_plan_is_the_cli_plan_and_needs_no_host():
    extra = ["npu_cluster_serving_nic=enp189s0f0"]
    plan = npu_cluster.plan(str(REPO / "inventories" / "a2"), extra)
    cli = subprocess.run([sys.executable, "-m", "npu_cluster.cli", "plan", "-i",
                          "inventories/a2", "-e", extra[0], "--json"], cwd=REPO,
                         capture_output=True, text=True, check=True)
    assert plan == json.loads(cli.stdout)
    assert plan["profile"] == "000-a2-dsv31-w8a8-dp4"


def test_a_run_against_localhost_only_writes_its_artifacts(tmp_path):
    """A real ansible-runner run: an inventory whose npu_nodes group is empty fails the
    controller's inventory check; the run says so and leaves its folder."""
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  children:\n    npu_nodes:\n      hosts: {}\n")
    res = npu_cluster.verify(str(inv), artifacts_dir=str(tmp_path / "run"))
    assert res.status == "failed" and res.ok is False
    assert any("inventory" in f.message.lower() for f in res.failures), res.failures
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["status"] == "failed" and saved["artifacts"] == str(tmp_path / "run")
    assert (tmp_path / "run" / "runner" / "run" / "job_events").is_dir()


def test_another_playbook_runs_the_same_way_and_keeps_its_output(tmp_path):
    """playbook= runs another of the collection's playbooks through the same runner (the lab
    tests' launch plan, the drivers play); the text Ansible printed is kept without colour
    and verbosity / --diff reach ansible-playbook."""
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    book = tmp_path / "hello.yml"
    book.write_text("- name: Hello\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
                    "    - name: Say it\n      ansible.builtin.debug:\n        msg: \"hello {{ who }}\"\n"
                    "    - name: Only at -v\n      ansible.builtin.debug:\n        msg: loud\n"
                    "        verbosity: 1\n"
                    "- name: Only when asked\n  hosts: localhost\n  gather_facts: false\n"
                    "  tags: [never, later]\n  tasks:\n    - name: Not now\n"
                    "      ansible.builtin.debug:\n        msg: later\n")
    res = api.run("hello", str(inv), playbook=str(book), extra_vars={"who": "lab"},
                  verbosity=1, diff=True, artifacts_dir=str(tmp_path / "run"))
    assert res.ok and res.verb == "hello", res.failures
    assert res.hosts["localhost"].ok == 2
    out = res.output()
    assert '"msg": "hello lab"' in out and '"msg": "loud"' in out, out
    assert "\x1b[" not in out and "\r\n" not in out
    # the run summary says why the second play shows no host
    assert re.search(r"Only when asked\s+-\s+\(nothing ran: no host matched or no task selected\)",
                     out), out
    args = (tmp_path / "run" / "runner" / "run" / "command").read_text()
    assert "--diff" in args and "-v" in args, args
    with pytest.raises(ValueError, match="lower-case letters and dashes"):
        api.run("Hello World", str(inv), playbook=str(book))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        api.run("hello", str(inv), playbook=str(tmp_path / "missing.yml"))


def cli(*args):
    return subprocess.run([sys.executable, "-m", "npu_cluster.cli"] + list(args), cwd=REPO,
                          capture_output=True, text=True, check=False)


def test_cli_extra_vars_use_ansibles_parser(tmp_path):
    from npu_cluster.cli import parse_extra_vars
    (tmp_path / "vars.yml").write_text("a: 1\nb: [x, y]\n")
    assert parse_extra_vars(['k="two words" n=3', '{"j": {"deep": true}}',
                             "@%s" % (tmp_path / "vars.yml"), "a=override"]) == {
        "k": "two words", "n": "3", "j": {"deep": True}, "a": "override", "b": ["x", "y"]}


def test_cli_verbs_exit_codes_and_json(tmp_path):
    res = cli("verify", "-i", str(tmp_path / "missing.yml"))
    assert res.returncode == 2 and "does not exist" in res.stderr
    res = cli("verify", "-i", "inventories/a2", "-e", "@%s" % (tmp_path / "nope.yml"))
    assert res.returncode != 0 and "nope.yml" in res.stderr + res.stdout
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  children:\n    npu_nodes:\n      hosts: {}\n")
    res = cli("verify", "-i", str(inv), "--json", "--artifacts", str(tmp_path / "run"))
    assert res.returncode == 1, res.stderr
    result = json.loads(res.stdout)
    assert result["verb"] == "verify" and result["status"] == "failed"
    assert result["failures"][0]["host"] == "localhost"
    res = cli("verify", "-i", str(inv), "--artifacts", str(tmp_path / "run2"))
    assert res.returncode == 1
    assert res.stdout.startswith("verify: FAILED in ")
    assert "  FAILED localhost | " in res.stdout
    assert res.stdout.rstrip().endswith("artifacts: %s" % (tmp_path / "run2"))
    assert "== Preflight | controller version and inventory" in res.stderr


def test_plan_names_a_profile_it_cannot_load():
    with pytest.raises(api.PlanError, match="profile 'nope' not found"):
        npu_cluster.plan(str(REPO / "inventories" / "a2"), ["npu_cluster_profile=nope"])


def test_plans_in_one_process_each_see_their_own_extra_vars():
    inv = str(REPO / "inventories" / "a2")
    one = npu_cluster.plan(inv, ["npu_cluster_serving_nic=eth7"])
    two = npu_cluster.plan(inv, ["npu_cluster_serving_nic=eth9"])
    procs = [plan["hosts"]["a2-node-1"]["processes"][0] for plan in (one, two)]
    env = [p["env"]["HCCL_SOCKET_IFNAME"] for p in procs]
    assert env == ["eth7", "eth9"]


def test_progress_lines_from_events():
    import io
    from npu_cluster.cli import Progress
    ticks = iter(range(0, 1000, 2))
    out = io.StringIO()
    progress = Progress(out, live=False, clock=lambda: next(ticks))
    events = [
        {"event": "playbook_on_play_start", "event_data": {"play": "Serve"}},
        {"event": "playbook_on_task_start", "event_data": {"task": "Wait for the stage"}},
        {"event": "runner_retry", "event_data": {"host": "n0", "res": {
            "state": "waiting", "progress": "vllm-serve: loading weights"}}},
        {"event": "runner_retry", "event_data": {"host": "n1", "res": {"state": "waiting"}}},
        {"event": "runner_retry", "event_data": {"host": "n0", "res": {"state": "waiting"}}},
        {"event": "runner_retry", "event_data": {"host": "n1", "res": {"state": "waiting"}}},
        {"event": "runner_on_ok", "event_data": {"host": "n0"}},
        {"event": "runner_on_failed", "event_data": {"host": "n1"}},
        {"event": "playbook_on_stats", "event_data": {}},
    ]
    for event in events:
        progress(event)
    lines = [re.sub(r"^\d+s ", "", line.strip()).strip()
             for line in out.getvalue().splitlines()]
    assert lines == [
        "== Serve",
        "Wait for the stage, round 1: n0 waiting (vllm-serve: loading weights); n1 waiting",
        "Wait for the stage, round 2: n0 waiting; n1 waiting",
        "! n1: failed in Wait for the stage",
        lines[4]]
    assert re.fullmatch(r"Wait for the stage: 2 hosts in \d+\.\ds; failed: n1", lines[4])


def test_bench_compare_shows_every_metrics_ratio(tmp_path):
    from ansible_collections.npu.cluster.plugins.plugin_utils import bench
    raw = json.loads((REPO / "tests" / "unit" / "fixtures" / "bench" /
                      "vllm-bench-serve-0.32.0-ok.json").read_text())
    a = dict(bench.from_vllm_bench(raw), name="c4", deployment={"profile": "p"})
    b = json.loads(json.dumps(a))
    b["metrics"]["tpot_ms"]["mean"] = a["metrics"]["tpot_ms"]["mean"] * 1.5
    (tmp_path / "a.json").write_text(json.dumps([a]))
    (tmp_path / "b.json").write_text(json.dumps([b, dict(b, name="other")]))
    res = cli("bench", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("run c4: A p (")
    assert [l.split() for l in lines if l.startswith("tpot_ms.mean")] == [
        ["tpot_ms.mean", "11.09", "16.64", "1.500"]]
    assert [l.split()[-1] for l in lines if l.startswith("output_throughput")] == ["1.000"]
    res = cli("bench", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
              "--run", "nope")
    assert res.returncode == 2 and "no run to compare (A has c4; B has c4, other) named nope" \
        in res.stderr
    res = cli("bench", "compare", str(tmp_path / "a.json"), str(REPO / "tests" / "unit" /
                                                                "fixtures" / "bench" /
                                                                "vllm-bench-serve-0.32.0-ok.json"))
    assert res.returncode == 2 and "holds no benchmark records" in res.stderr
