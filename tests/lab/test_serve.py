"""`site.yml` serving end to end on lab clusters: runbook 000 on a2x2 -- bare servers, brought
up by the same run (driver, firmware, CANN, one reboot) -- and 002 on a3x2 end with a completion
through the endpoint; a second run changes nothing; teardown leaves no container;
a wrong NIC, a busy port, a headless rank that crashes during start and a red fabric gate each
fail with the right message and leave nothing running.  Tests in a module run in order."""
import json
import re
from pathlib import Path

import pytest

from conftest import why

FAST = "query_ms=20,ping_ms=200"
LOAD = '{"npu_cluster_extra_env": {"NPU_LAB_VLLM_LOAD_SECONDS": "3", "NPU_LAB_VLLM_FAULT": "%s"}}'


@pytest.fixture(scope="module")
def a2(lab_factory):
    """Two fresh A2 servers: no driver, firmware or CANN yet (the inventory names the lab's
    stand-in packages on shared storage)."""
    return lab_factory("a2x2", latency=FAST, bare=True)


def changed(res):
    """{node: tasks changed} of a run (from its events).  The controller (localhost) is left
    out: every API run writes its reports into its own new artifacts folder."""
    return {h: r.changed for h, r in res.hosts.items() if h != "localhost"}


def containers(lab):
    return [lab.exec(i, "docker", "ps", "-a", "--format", "{{.Names}} {{.Status}}",
                     check=True).stdout.strip() for i in range(len(lab.nodes))]


def engines(lab, name="vllm-serve"):
    """What each node's launch script says of its process (running, exited N, absent...)."""
    out = []
    for i in range(len(lab.nodes)):
        res = lab.exec(i, "docker", "exec", "vllm-ascend", "/bin/sh",
                       "/etc/npu-cluster/serving/%s.sh" % name, "status")
        out.append(res.stdout.strip() if res.returncode == 0 else "no container")
    return out


def statuses(lab, container):
    """{node: {process: status}} from every launch script, read in each node's serving
    container in one call per node; {} for a node without that container running."""
    loop = ("for s in /etc/npu-cluster/serving/*.sh; do [ -e \"$s\" ] || continue; "
            "printf '%s ' \"$(basename \"$s\" .sh)\"; sh \"$s\" status; done")
    out = {}
    for i in range(len(lab.nodes)):
        res = lab.exec(i, "sh", "-c", 'docker inspect -f "{{.State.Running}}" "$1" 2>/dev/null '
                       '| grep -qx true || exit 3; exec docker exec "$1" sh -c "$2"', "statuses",
                       container, loop)
        assert res.returncode in (0, 3), (i, res.stdout, res.stderr)
        out[i] = dict(line.split(" ", 1) for line in res.stdout.strip().splitlines() if line)
    return out


def nothing_runs(lab, container):
    for node, procs in statuses(lab, container).items():
        assert not [p for p, s in procs.items() if s.startswith("running")], (node, procs)


def completion(lab, node, endpoint, model, prompt="The future of AI is", max_tokens=12,
               api_key=None):
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = "Bearer " + api_key
    code = ("import json,urllib.request,urllib.error\ntry:\n"
            " r=urllib.request.urlopen(urllib.request.Request(%r+'/v1/completions',"
            "data=json.dumps({'model':%r,'prompt':%r,'max_tokens':%d,'temperature':0}).encode(),"
            "headers=%r),timeout=30)\n print(r.read().decode())\n"
            "except urllib.error.HTTPError as e:\n print(json.dumps({'status': e.code}))") % (
                endpoint, model, prompt, max_tokens, headers)
    return json.loads(lab.exec(node, "python3", "-c", code, check=True).stdout)


def test_a2_runbook_000_serves(a2):
    assert a2.exec(0, "test", "-e", "/usr/local/bin/npu-smi").returncode != 0  # a bare node
    boot = [a2.exec(i, "cat", "/run/npu-lab/boot_id", check=True).stdout for i in (0, 1)]
    res = a2.deploy()
    assert res.ok, why(res, 6000)
    # the drivers play installed driver, firmware and CANN in the vendor's order on both nodes,
    # rebooted each once (the firmware asks for it), and printed one version table
    for i in (0, 1):
        log = a2.exec(i, "cat", "/var/log/ascend_seclog/ascend_install.log", check=True).stdout
        done = re.findall(r"Driver package installed successfully|Firmware package installed "
                          r"successfully|Ascend-cann-\w+ install success", log)
        assert done == ["Driver package installed successfully",
                        "Firmware package installed successfully",
                        "Ascend-cann-toolkit install success", "Ascend-cann-kernels install success",
                        "Ascend-cann-nnal install success"], log
        assert a2.exec(i, "cat", "/run/npu-lab/boot_id", check=True).stdout != boot[i]
    assert re.search(r'"a2-node-1  25\.3\.rc1  7\.7\.0\.6\.236  8\.3\.RC1  8\.3\.RC1  '
                     r'8\.3\.RC1"', res.output()), res.output()[-6000:]
    m = re.search(r"deepseek_v3\.1 is served at (http://[\d.]+:8004) \(000-a2-dsv31-w8a8-dp4, "
                  r"2 nodes\); test completion: \\?\"([a-z ]+)\\?\" \(8 tokens\)", res.output())
    assert m, res.output()[-4000:]
    endpoint = m.group(1)
    # a client on the other node reaches the public endpoint
    answer = completion(a2, 1, endpoint, "deepseek_v3.1")
    assert len(answer["choices"][0]["text"].split()) == 12
    assert answer["usage"]["completion_tokens"] == 12
    # node 1 runs the runbook's node1 command, headless, from a 0750 script
    script = a2.exec(1, "cat", "/etc/npu-cluster/serving/vllm-serve.sh", check=True).stdout
    assert "--headless" in script and "--data-parallel-start-rank 2" in script
    assert "--data-parallel-address %s" % endpoint.split("//")[1].split(":")[0] in script
    assert "export VLLM_USE_V1=1" in script
    mode = a2.exec(1, "stat", "-c", "%a", "/etc/npu-cluster/serving/vllm-serve.sh",
                   check=True).stdout.strip()
    assert mode == "750"
    # the container has the node's devices, host networking and our labels
    info = json.loads(a2.exec(0, "docker", "inspect", "vllm-ascend", check=True).stdout)[0]
    devices = sorted(d["PathOnHost"] for d in info["HostConfig"]["Devices"])
    assert len(devices) == 11 and "/dev/davinci7" in devices and "/dev/hisi_hdc" in devices
    assert info["HostConfig"]["NetworkMode"] == "host"
    assert info["Config"]["Labels"]["org.npu-cluster.owner"] == "npu.cluster"
    binds = ["%s:%s" % (m["Source"], m["Target"]) for m in info["HostConfig"]["Mounts"]]
    assert "/etc/hccn.conf:/etc/hccn.conf" in binds
    assert "/mnt/sfs_turbo/.cache:/root/.cache" in binds
    assert "/usr/local/Ascend/driver/tools/hccn_tool:/usr/local/Ascend/driver/tools/hccn_tool" \
        in binds
    # every rank's engine core runs
    ps = a2.exec(1, "docker", "exec", "vllm-ascend", "ps", "-eo", "comm", check=True).stdout
    assert "EngineCore_DP2" in ps and "EngineCore_DP3" in ps


def test_second_run_changes_nothing(a2):
    res = a2.deploy()
    assert res.ok, why(res, 4000)
    counts = changed(res)
    assert set(counts) >= {"a2-node-0", "a2-node-1"}
    assert not any(counts.values()), counts


def test_a_profile_whose_image_needs_another_cann_is_refused(a2):
    import yaml
    repo = Path(__file__).resolve().parents[2]
    prof = yaml.safe_load((repo / "profiles" / "000-a2-dsv31-w8a8-dp4.yml").read_text())
    prof.update(name="lab-needs-cann9", requires={"cann": "9.0.0", "driver": ["25.3.rc1"]})
    target = a2.inventory.parent / "profiles" / "lab-needs-cann9.yml"
    target.parent.mkdir(exist_ok=True)
    target.write_text(yaml.safe_dump(prof))

    def ids():
        return [a2.exec(i, "docker", "ps", "-q", "--no-trunc", check=True).stdout
                for i in (0, 1)]

    before = ids()
    res = a2.deploy(extra_vars="npu_cluster_profile=lab-needs-cann9")
    assert not res.ok
    for host in ("a2-node-0", "a2-node-1"):
        assert ("%s: cann 8.3.RC1, but the profile's image needs cann 9.0.0" % host) \
            in res.output(), res.output()[-3000:]
    assert "driver 25.3.rc1, but" not in res.output()
    assert ids() == before


def test_check_mode_on_a_converged_cluster_changes_nothing(a2):
    res = a2.deploy(check=True)
    assert res.ok, why(res, 4000)
    assert not any(changed(res).values()), changed(res)


def test_changed_container_settings_replace_the_container_and_restart_the_group(a2):
    before = a2.exec(0, "docker", "inspect", "-f", "{{.Id}}", "vllm-ascend", check=True).stdout
    res = a2.deploy(extra_vars="npu_cluster_model_cache=/root/.cache")
    assert res.ok, why(res, 4000)
    after = a2.exec(0, "docker", "inspect", "-f", "{{.Id}}", "vllm-ascend", check=True).stdout
    assert before != after
    assert " is served at " in res.output()


def test_an_api_key_is_a_secret_the_probes_send(a2):
    key = "sk-lab-only-secret-0042"
    res = a2.deploy(verbosity=1, diff=True, extra_vars='{"npu_cluster_secret_env": {"VLLM_API_KEY": "%s"}}' % key)
    assert res.ok, why(res, 4000)
    m = re.search(r"is served at (http://[\d.]+:8004) .*test completion: ", res.output())
    assert m, res.output()[-3000:]          # the readiness probe and the completion sent the key
    assert key not in res.output()    # ... and no output, diff or plan shows it
    assert completion(a2, 1, m.group(1), "deepseek_v3.1") == {"status": 401}
    assert completion(a2, 1, m.group(1), "deepseek_v3.1", api_key=key)["choices"][0]["text"]
    for node in (0, 1):
        mode = a2.exec(node, "stat", "-c", "%a", "/etc/npu-cluster/serving/vllm-serve.secrets",
                       check=True).stdout.strip()
        assert mode == "600"
        assert key not in a2.exec(node, "cat", "/etc/npu-cluster/serving/vllm-serve.sh",
                                  check=True).stdout
    # the benchmark sends the deployment's key (its models check, the client's requests) and
    # shows it nowhere; without it the run stops naming the key.  Its client container stays on
    # a2-node-0: the status test below must still see that node's serving container healthy
    vars_file = Path(a2.inventory).parent / "bench-vars.json"
    vars_file.write_text(a2.npu_lab_json("image-vars", "--variant", "bench"))
    small = {"npu_cluster_bench": {"input_len": 16, "output_len": 8, "num_prompts": 8,
                                   "request_rate": "inf", "warmup_prompts": 2}}
    res = a2.run("bench", verbosity=1, diff=True, extra_vars=[
        "@%s" % vars_file, json.dumps(small), json.dumps({"npu_cluster_secret_env": {"VLLM_API_KEY": key}})])
    assert res.ok, why(res, 4000)
    assert (res.bench[0]["completed"], res.bench[0]["failed"]) == (8, 0), res.bench
    assert key not in res.output()
    assert not [p for p in Path(res.artifacts).rglob("*") if p.is_file() and key in p.read_text(errors="replace")]
    res = a2.run("bench", extra_vars=["@%s" % vars_file, json.dumps(small)])
    assert not res.ok
    assert re.search(r"a2-node-0: http://[\d.]+:8004/v1/models answered HTTP 401: the deployment needs an "
                     r"API key and this run has none. Give it as VLLM_API_KEY in npu_cluster_secret_env",
                     res.output()), res.output()[-3000:]


def test_deploy_and_status_through_the_api(a2, tmp_path):
    """npu_cluster.deploy records the plan, the fabric report and the version table in its
    artifacts folder; npu_cluster.status (read-only) reports every process, the endpoint's
    health and that deployment's verdict, and sees a stopped rank."""
    import subprocess
    import sys

    import npu_cluster
    root = tmp_path / "artifacts"
    dep = npu_cluster.deploy(str(a2.inventory), artifacts_dir=str(root / "20261130T000000Z-deploy"))
    assert dep.ok, why(dep)
    folder = Path(dep.artifacts)
    assert json.loads((folder / "plan.json").read_text())["profile"] == "000-a2-dsv31-w8a8-dp4"
    assert (folder / "fabric" / "fabric-report.json").exists()
    assert json.loads((folder / "drivers" / "versions.json").read_text())["passed"] is True
    assert dep.hosts["a2-node-0"].drivers["versions"]["driver"] == "25.3.rc1"
    url = dep.plan["endpoint"]["url"]

    st = npu_cluster.status(str(a2.inventory), artifacts_dir=str(root / "20261130T000100Z-status"))
    assert st.ok and st.endpoint["healthy"] is True and st.endpoint["url"] == url
    assert st.last_deploy["fabric_verdict"] == "PASS"
    assert st.hosts["a2-node-1"].processes == {"vllm-serve": "running"}
    assert all(st.hosts[h].serving_healthy for h in ("a2-node-0", "a2-node-1"))
    assert not any(st.hosts[h].changed for h in st.hosts)

    # a rank stops: status says which, and the CLI exits 1
    a2.exec(1, "docker", "exec", "vllm-ascend", "/bin/sh", "/etc/npu-cluster/serving/"
            "vllm-serve.sh", "stop", check=True)
    cli = subprocess.run([str(Path(sys.executable).parent / "npu-cluster"), "status", "-i",
                          str(a2.inventory), "--artifacts", str(root / "20261130T000200Z-status")],
                         capture_output=True, text=True, check=False)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert cli.stdout.startswith("status: NOT ALL RUNNING in "), cli.stdout
    assert re.search(r"a2-node-1\s+-\s+containers: vllm-ascend: Up [^;]*; processes: "
                     r"vllm-serve (stopped|absent|exited \d+)\n", cli.stdout), cli.stdout
    assert re.search(r"a2-node-0\s+serving\s+containers: vllm-ascend: Up [^;]*; processes: "
                     r"vllm-serve running\n", cli.stdout), cli.stdout
    # the head lost its headless ranks and its /health still answers 200 (vLLM's does, the
    # simulator follows it): only the per-rank check above tells
    assert "endpoint %s: healthy (200)" % url in cli.stdout
    assert "last deploy: %s (ok), fabric PASS" % (root / "20261130T000000Z-deploy") in cli.stdout


def test_teardown_leaves_no_container(a2):
    res = a2.teardown()
    assert res.ok, why(res, 4000)
    assert containers(a2) == ["", ""]
    # our scripts are gone (the directory stays: it may hold files that are not ours)
    for node in (0, 1):
        assert a2.exec(node, "ls", "-A", "/etc/npu-cluster/serving",
                       check=True).stdout.strip() == ""


def test_teardown_leaves_a_foreign_container_and_foreign_scripts_alone(a2):
    image = json.loads(a2.npu_lab_json("image-vars"))["npu_cluster_image"]
    a2.exec(0, "docker", "run", "-d", "--name", "vllm-ascend", image, "sleep", "600", check=True)
    a2.exec(0, "sh", "-c", "mkdir -p /etc/npu-cluster/serving && "
                           "echo 'echo mine' > /etc/npu-cluster/serving/theirs.sh", check=True)
    try:
        res = a2.teardown()
        assert res.ok, why(res, 3000)
        assert containers(a2)[0].startswith("vllm-ascend Up")
        assert a2.exec(0, "cat", "/etc/npu-cluster/serving/theirs.sh",
                       check=True).stdout == "echo mine\n"
    finally:
        a2.exec(0, "docker", "rm", "-f", "vllm-ascend")
        a2.exec(0, "rm", "-rf", "/etc/npu-cluster/serving")
    assert containers(a2) == ["", ""]


def test_wrong_nic_is_refused_before_any_change(a2):
    res = a2.deploy(extra_vars="npu_cluster_serving_nic=eth1")
    assert not res.ok
    assert re.search(r"a2-node-0: npu_cluster_serving_nic is eth1, but eth1 does not own the "
                     r"serving IP [\d.]+ \(it is on eth0\)", res.output()), res.output()[-4000:]
    assert "no host was changed" in res.output()
    assert containers(a2) == ["", ""]


def test_busy_port_on_one_node_is_refused(a2):
    a2.exec(1, "sh", "-c", "nohup python3 -m http.server 8004 >/dev/null 2>&1 & "
                           "echo $! >/run/busy.pid; sleep 1", check=True)
    try:
        res = a2.deploy()
    finally:
        a2.exec(1, "sh", "-c", "kill $(cat /run/busy.pid)")
    assert not res.ok
    assert re.search(r"a2-node-1: port 8004 \(http\) is already in use by python3 \(pid \d+\)",
                     res.output()), res.output()[-4000:]
    assert containers(a2) == ["", ""]


def test_headless_rank_crashing_during_start_stops_the_group(a2):
    # ranks 2 and 3 run on a2-node-1 (headless): its rank 3 dies while loading
    res = a2.deploy(extra_vars=LOAD % "crash-on-start:3")
    assert not res.ok
    out = res.output()
    assert ("The deployment did not come up: every started process was stopped, last stage "
            "first,\non every node (a2-node-0, a2-node-1).") in out, out[-4000:]
    # a headless node whose engine dies exits 0, as vLLM 0.32.0's does: still a failure
    first = out.index("- a2-node-1: vllm-serve (headless) exited with code 0 after ")
    assert ("last lines of its log (/var/log/npu-cluster/vllm-serve.log on a2-node-1):"
            in out[first:])
    assert "Engine core proc EngineCore_DP3 died unexpectedly" in out[first:]
    # nothing is left running; the containers stay for the next run
    assert all(not e.startswith("running") for e in engines(a2)), engines(a2)
    assert a2.teardown().ok
    assert containers(a2) == ["", ""]


def test_timeout_stops_the_group_with_progress_lines(a2):
    res = a2.deploy(extra_vars=["launch_timeout=6", "launch_round_seconds=2",
                                '{"npu_cluster_extra_env": {"NPU_LAB_VLLM_LOAD_SECONDS": "60"}}'])
    assert not res.ok
    out = res.output()
    # the API port is not answered until the engines are ready (as vLLM)
    assert re.search(r"progress: a2-node-0: vllm-serve \(head\) running, API not answering yet "
                     r"\(\d+s\) \(\d+ retries left\)", out), out[-4000:]
    assert re.search(r'- a2-node-0: stage "head" not ready after 6s \(last seen: vllm-serve '
                     r"\(head\) running, API not answering yet \(\d+s\)\)", out), out[-4000:]
    assert "engine cores for DP ranks [0, 1] loading weights (60.0s)" in out
    assert all(not e.startswith("running") for e in engines(a2)), engines(a2)
    assert a2.teardown().ok
    assert containers(a2) == ["", ""]


def test_red_fabric_gate_starts_nothing(a2):
    a2.npu_lab("fault", "a2-node-1", "link-down", "3")
    try:
        res = a2.deploy()
    finally:
        a2.npu_lab("reset")
    assert not res.ok
    assert "Fabric verification FAILED on 2 of\n2 nodes; nothing will be started." in res.output()
    assert "- a2-node-1 device 3: link is not UP (check link, value DOWN)" in res.output()
    assert "Start the serving containers" not in res.output()
    assert containers(a2) == ["", ""]


def test_serving_alone_refuses_without_a_fabric_verdict(a2):
    res = a2.deploy(tags=["serve"])
    assert not res.ok
    assert ("Serving refused, nothing was started: the fabric check did not run on a2-node-0, "
            "a2-node-1 in this play run") in res.output(), res.output()[-3000:]
    assert containers(a2) == ["", ""]


# ------------------------------------------------------------------ the launch loop is generic

def three_stage_plan(lab, web_fails=False):
    """A plan of three stages no runbook has: a daemon on every node (waits until started), a
    foreground web server on node 1 (waits until its HTTP probe answers) and a final one on
    node 0 with its own TCP probe -- rendered by the planner's own renderer and valid against
    the plan's JSON Schema."""
    import yaml
    import jsonschema
    from ansible_collections.npu.cluster.plugins.plugin_utils import render
    inv = yaml.safe_load(lab.inventory.read_text())
    hosts = inv["all"]["children"]["npu_nodes"]["children"]["ascend_a2"]["hosts"]
    names = sorted(hosts)
    ip = {h: hosts[h]["npu_cluster_serving_ip"] for h in names}
    paths = {"serving_dir": "/etc/npu-cluster/stages", "log_dir": "/var/log/npu-cluster-stages"}
    pid = paths["log_dir"] + "/agent.daemon.pid"

    def proc(host, name, stage, argv, probe=None, lifecycle=None):
        p = {"name": name, "host": host, "kind": "generic", "group": "stages", "role": name,
             "stage": stage, "lifecycle": lifecycle or {"type": "foreground"}, "argv": argv,
             "env": {"STAGE": str(stage)}, "secret_env": [], "ports": {}, "devices": [],
             "dp_ranks": [], "probe": probe, "inputs": {}}
        p["script"] = render.process_body(p)
        p["launch_script"] = render.launch_script(p, paths["serving_dir"], paths["log_dir"])
        return p

    def agent(host):
        return proc(host, "agent", 0,
                    ["sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $! > %s" % pid],
                    lifecycle={"type": "daemon", "stop": ["sh", "-c", 'kill "$(cat %s)"' % pid],
                               "status": ["sh", "-c", 'kill -0 "$(cat %s)"' % pid]})
    web_argv = (["sh", "-c", "echo boom: no web today >&2; exit 3"] if web_fails else
                ["python3", "-m", "http.server", "18080", "--bind", ip[names[1]]])
    web = proc(names[1], "web", 1, web_argv,
               probe={"type": "http", "url": "http://%s:18080/" % ip[names[1]]})
    front = proc(names[0], "front", 2, ["python3", "-m", "http.server", "18081", "--bind",
                                        ip[names[0]]],
                 probe={"type": "tcp", "host": ip[names[0]], "port": 18081})
    processes = {names[0]: [agent(names[0]), front], names[1]: [agent(names[1]), web]}

    def ref(p):
        return {"host": p["host"], "name": p["name"]}
    plan = {
        "schema": "npu.cluster/plan/2", "profile": "three-stages", "topology": "custom",
        "served_model_name": "static files", "head": names[0],
        "endpoint": {"url": "http://%s:18081" % ip[names[0]], "host": names[0],
                     "process": "front"},
        "paths": paths, "groups": {}, "errors": [], "warnings": [], "unknowns": [],
        "hosts": {h: {"role": "stages", "hardware": "ascend_a2", "serving_ip": ip[h],
                      "nic": "eth0", "device_count": 8, "engine_version": "-",
                      "container": {"name": "stages", "image": "lab", "devices": [],
                                    "mounts": [], "privileged": False},
                      "processes": processes[h]} for h in names},
        "stages": [
            {"name": "agents", "wait": "started",
             "processes": [ref(processes[h][0]) for h in names]},
            {"name": "web", "wait": "ready", "processes": [ref(web)]},
            {"name": "front", "wait": "ready", "processes": [ref(front)]}],
    }
    schema = json.loads((Path(__file__).resolve().parents[2] / "plugins" / "plugin_utils" /
                         "schemas" / "plan.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(plan)
    return plan, names


def stage_states(lab, names):
    out = {}
    for i, host in enumerate(names):
        for proc in ("agent", "web", "front"):
            res = lab.exec(i, "docker", "exec", "stages", "/bin/sh",
                           "/etc/npu-cluster/stages/%s.sh" % proc, "status")
            if res.returncode == 0:
                out["%s/%s" % (host, proc)] = res.stdout.strip()
    return out


def test_a_three_stage_plan_runs_in_order_and_converges(a2, tmp_path):
    plan, names = three_stage_plan(a2)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"launch_plan": plan}))
    res = a2.run("launch-plan", playbook="tests/lab/launch_plan.yml", extra_vars="@%s" % path)
    assert res.ok, why(res, 5000)
    assert "static files is served at %s (three-stages, 2 nodes)" % plan["endpoint"]["url"] \
        in res.output(), res.output()[-3000:]
    assert stage_states(a2, names) == {
        "%s/agent" % names[0]: "running", "%s/front" % names[0]: "running",
        "%s/agent" % names[1]: "running", "%s/web" % names[1]: "running"}
    # the stages started in order: the daemon before the web server before the front
    # each log is new when its process starts and the web server's last line is its last
    # readiness probe, so the logs' change times (ns; the nodes share one clock) keep the order
    started = [int(a2.exec(i, "python3", "-c", "import os; print(os.stat(%r).st_mtime_ns)"
                           % ("/var/log/npu-cluster-stages/%s.log" % p), check=True).stdout)
               for i, p in ((0, "agent"), (1, "web"), (0, "front"))]
    assert started[0] < started[1] < started[2], started
    again = a2.run("launch-plan", playbook="tests/lab/launch_plan.yml", extra_vars="@%s" % path)
    assert again.ok
    assert not any(changed(again).values()), changed(again)


def test_a_failure_in_the_middle_stage_stops_the_first_and_never_starts_the_last(a2, tmp_path):
    plan, names = three_stage_plan(a2, web_fails=True)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"launch_plan": plan}))
    res = a2.run("launch-plan", playbook="tests/lab/launch_plan.yml", extra_vars="@%s" % path)
    assert not res.ok
    out = res.output()
    assert ("The deployment did not come up: every started process was stopped, last stage "
            "first,\non every node (%s, %s)." % tuple(names)) in out, out[-4000:]
    assert re.search(r"- %s: web \(web\) exited with code 3 after \d+s\n  last lines of its "
                     r"log \(/var/log/npu-cluster-stages/web.log on %s\):\n    \| boom: no "
                     r"web today" % (names[1], names[1]), out), out[-4000:]
    # the daemons of the first stage were stopped with their own stop command, on every node;
    # the last stage never started
    states = stage_states(a2, names)
    assert states["%s/agent" % names[0]] == "absent" and states["%s/agent" % names[1]] == "absent"
    assert states["%s/front" % names[0]] == "absent"
    for i in (0, 1):
        assert a2.exec(i, "docker", "exec", "stages", "pgrep", "-f", "sleep 600").returncode == 1
    res = a2.teardown(extra_vars="launch_serving_dir=/etc/npu-cluster/stages")
    assert res.ok, why(res, 3000)
    assert containers(a2) == ["", ""]


def test_drivers_uninstall_cann_first_then_driver_and_firmware(a2):
    """The last test on this lab: state absent removes what site.yml installed."""
    a2.teardown(must=True)
    res = a2.run("drivers", playbook="playbooks/drivers.yml", extra_vars="ascend_driver_state=absent")
    assert res.ok, why(res, 4000)
    for i in (0, 1):
        log = a2.exec(i, "cat", "/var/log/ascend_seclog/ascend_install.log", check=True).stdout
        gone = re.findall(r"Ascend-cann-\w+ uninstall success|Driver package uninstalled "
                          r"successfully|Firmware package uninstalled successfully", log)
        assert gone == ["Ascend-cann-nnal uninstall success", "Ascend-cann-kernels uninstall "
                        "success", "Ascend-cann-toolkit uninstall success",
                        "Driver package uninstalled successfully",
                        "Firmware package uninstalled successfully"], log
        assert a2.exec(i, "test", "-e", "/usr/local/Ascend/driver/version.info").returncode != 0
        assert a2.exec(i, "test", "-e", "/usr/local/bin/npu-smi").returncode != 0
    again = a2.run("drivers", playbook="playbooks/drivers.yml", extra_vars="ascend_driver_state=absent")
    assert again.ok
    assert not any(changed(again).values()), changed(again)


def test_a3_runbook_002_serves_then_tears_down(lab_factory):
    a3 = lab_factory("a3x2", latency=FAST)
    res = a3.deploy()
    assert res.ok, why(res, 6000)
    m = re.search(r"deepseek_v3\.2 is served at (http://[\d.]+:8000) \(002-a3-dsv32-exp-dp2-tp16",
                  res.output())
    assert m, res.output()[-4000:]
    script = a3.exec(1, "cat", "/etc/npu-cluster/serving/vllm-serve.sh", check=True).stdout
    assert "--tensor-parallel-size 16" in script and "--data-parallel-start-rank 1" in script
    assert "graph_batch_sizes" in script
    assert completion(a3, 0, m.group(1), "deepseek_v3.2")["choices"][0]["text"]
    res = a3.teardown()
    assert res.ok
    assert containers(a3) == ["", ""]
