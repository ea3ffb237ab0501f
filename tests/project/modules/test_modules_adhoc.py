"""Each fact module run ad hoc from the repository root (`ansible localhost -c local -m
npu.cluster.<module> -a ...`) against the simulated tools: healthy nodes, every kind of fault,
missing tools.  The modules are exercised through Ansible itself, not imported."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def adhoc(module, args, *options):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), LC_ALL="C.UTF-8",
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    res = subprocess.run([str(BIN / "ansible"), "localhost", "-c", "local", "-m",
                          "npu.cluster." + module, "-a", args, *options], cwd=REPO, env=env,
                         capture_output=True, text=True, check=False)
    # the json stdout callback's document comes first; the run summary follows it
    assert "{" in res.stdout, (res.stdout[-2000:], res.stderr[-2000:])
    data = json.JSONDecoder().raw_decode(res.stdout[res.stdout.index("{"):])[0]
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_hccn_facts_healthy_a3(a3):
    res = adhoc("hccn_facts", "hccn_tool=%s hccn_conf=%s series=a3 devices=16 host_label=n1" % (
        a3.wrapper("hccn_tool"), a3.root / "etc/hccn.conf"))
    facts = res["ansible_facts"]["hccn"]
    assert res["changed"] is False
    assert facts["healthy"] is True, facts["problems"]
    assert len(facts["devices"]) == 16
    d5 = facts["devices"][5]
    assert (d5["link"], d5["net_health"], d5["vnic_link"], d5["vnic_ipaddr"],
            d5["conf_address"] == d5["ipaddr"]) == ("UP", "Success", "UP", "192.1.3.194", True)


@pytest.mark.parametrize("fault,device,check,value_part", [
    (["link-down", "3"], 3, "link", "DOWN"),
    (["net-health", "4", "Socket fail"], 4, "net_health", "Socket fail"),
    (["no-ip", "2"], 2, "ip", "None"),
    (["stale-conf", "6"], 6, "hccn_conf", "10.200.66"),
    (["tls", "1", "1"], 1, "tls", "1"),
    (["lldp-missing", "7"], 7, "lldp", "device query failed"),
    (["lldp-dup", "9", "8"], 9, "lldp", "400GE"),
    (["vnic-down", "10"], 10, "vnic", "DOWN"),
], ids=["link-down", "net-health", "no-ip", "stale-conf", "tls", "lldp-missing", "lldp-dup",
        "vnic-down"])
def test_hccn_facts_faults_name_device_check_value(a3, fault, device, check, value_part):
    assert a3.run("npu-lab-fault", *fault).returncode == 0
    res = adhoc("hccn_facts", "hccn_tool=%s hccn_conf=%s series=a3 devices=16 host_label=n1" % (
        a3.wrapper("hccn_tool"), a3.root / "etc/hccn.conf"))
    facts = res["ansible_facts"]["hccn"]
    assert facts["healthy"] is False
    mine = [c for c in facts["checks"] if c["device"] == device and c["check"] == check]
    assert mine, facts["problems"]
    assert value_part in str(mine[0]["value"])
    assert mine[0]["message"].startswith("n1 device %d: " % device)
    assert "(check %s, value" % check in mine[0]["message"]


def test_hccn_facts_skip_checks_and_missing_tool(a3, tmp_path):
    a3.run("npu-lab-fault", "link-down", "0")
    res = adhoc("hccn_facts", "hccn_tool=%s hccn_conf=%s series=a3 devices=16 "
                              "skip_checks=link,net_health,lldp" % (
                                  a3.wrapper("hccn_tool"), a3.root / "etc/hccn.conf"))
    assert res["ansible_facts"]["hccn"]["healthy"] is True
    res = adhoc("hccn_facts", "hccn_tool=%s series=a2 host_label=n0" % (tmp_path / "nope"))
    facts = res["ansible_facts"]["hccn"]
    assert res.get("failed") is not True and facts["healthy"] is False
    assert "hccn_tool not found or not executable" in facts["problems"][0]


def test_npu_facts_a3_and_faults(a3):
    args = "npu_smi=%s ascend_root=%s install_info=%s expected_devices=16 host_label=n1" % (
        a3.wrapper("npu-smi"), a3.root / "usr/local/Ascend", a3.root / "etc/ascend_install.info")
    facts = adhoc("npu_facts", args)["ansible_facts"]["npu"]
    assert facts["healthy"] is True, facts["problems"]
    assert (facts["series"], facts["npu_count"], facts["device_count"], facts["chip_name"]) == (
        "a3", 8, 16, "Ascend910")
    assert facts["versions"] == {"npu_smi": "25.3.rc1", "driver": "25.3.rc1",
                                 "firmware": "7.7.0.6.236", "cann": "8.3.RC1"}
    assert [s["sdid"] for s in facts["spod"]][:2] == [4194304, 4259841]
    a3.run("npu-lab-fault", "process", "5", "4242")
    a3.run("npu-lab-fault", "alarm", "12")
    facts = adhoc("npu_facts", args)["ansible_facts"]["npu"]
    checks = {(c["check"], c["device"]) for c in facts["checks"]}
    assert ("leftover_process", 5) in checks and ("chip_health", 12) in checks
    alarm = [d for d in facts["devices"] if d["phy_id"] == 12][0]
    assert alarm["error_code"] == "A4025021 8C03A000 8C084E00"
    facts = adhoc("npu_facts", args.replace("expected_devices=16", "expected_devices=8")
                  + " allow_processes=true")["ansible_facts"]["npu"]
    assert {c["check"] for c in facts["checks"]} == {"chip_health", "device_count"}


def ascend_args(node):
    return ("npu_smi=%s hccn_tool=%s hccn_conf=%s ascend_root=%s install_info=%s "
            "expected_devices=16 host_label=n1" % (
                node.wrapper("npu-smi"), node.wrapper("hccn_tool"), node.root / "etc/hccn.conf",
                node.root / "usr/local/Ascend", node.root / "etc/ascend_install.info"))


def test_ascend_facts_is_npu_facts_and_hccn_facts_in_one_run(a3):
    both = adhoc("ascend_facts", ascend_args(a3))
    assert both["changed"] is False
    npu, net = both["ansible_facts"]["npu"], both["ansible_facts"]["hccn"]
    assert npu["healthy"] and net["healthy"], (npu["problems"], net["problems"])
    alone_npu = adhoc("npu_facts", "npu_smi=%s ascend_root=%s install_info=%s "
                                   "expected_devices=16 host_label=n1" % (
                                       a3.wrapper("npu-smi"), a3.root / "usr/local/Ascend",
                                       a3.root / "etc/ascend_install.info"))
    alone_net = adhoc("hccn_facts", "hccn_tool=%s hccn_conf=%s series=a3 devices=16 "
                                    "host_label=n1" % (a3.wrapper("hccn_tool"),
                                                       a3.root / "etc/hccn.conf"))
    assert npu == alone_npu["ansible_facts"]["npu"]
    assert net == alone_net["ansible_facts"]["hccn"]


# Each lab fault the fabric check would otherwise never see fail, with the exact message the
# node rules print (host label n1, the second node of an a3x2: device 4 is 10.200.66.15/18).
@pytest.mark.parametrize("fault,message", [
    (["netdetect", "4"], "n1 device 4: netdetect 10.200.128.1 is outside the device subnet "
                         "10.200.66.15/255.255.192.0 (check netdetect_gateway, value 10.200.128.1)"),
    (["netdetect", "4", "none"], "n1 device 4: no netdetect address set "
                                 "(check netdetect_gateway, value None)"),
    (["gateway", "4", "10.9.9.9"], "n1 device 4: gateway 10.9.9.9 is outside the device subnet "
                                   "10.200.66.15/255.255.192.0 (check netdetect_gateway, value "
                                   "10.9.9.9)"),
    (["gateway", "4", "none"], "n1 device 4: no gateway address set "
                               "(check netdetect_gateway, value None)"),
    (["sdid", "4", "4194304"], "n1 device 4: vNIC address does not match SDID 4194304 "
                               "(expected 192.1.2.199) (check vnic, value 192.1.2.195)"),
    (["driver-incomplete"], "n1: the driver install is not recorded as complete "
                            "(Driver_Install_Status=complete missing from the install record); "
                            "reinstall the driver package (check driver_install, value "
                            "[WARNING]The driver package may not be completely installed, which "
                            "may cause function abnormal. Please reinstall it.)"),
], ids=["netdetect-outside", "netdetect-unset", "gateway-outside", "gateway-unset",
        "sdid-vnic", "driver-incomplete"])
def test_ascend_facts_faults_exact_messages(a3, fault, message):
    assert a3.run("npu-lab-fault", *fault).returncode == 0
    facts = adhoc("ascend_facts", ascend_args(a3))["ansible_facts"]
    assert facts["npu"]["problems"] + facts["hccn"]["problems"] == [message]


def test_ascend_facts_missing_device_is_one_device_count_problem(a3):
    assert a3.run("npu-lab-fault", "device-missing", "7").returncode == 0
    facts = adhoc("ascend_facts", ascend_args(a3))["ansible_facts"]
    # hccn_tool is asked about the devices npu-smi lists, so no string of tool errors
    assert facts["npu"]["problems"] + facts["hccn"]["problems"] == [
        "n1: 15 devices found, the inventory expects 16 (check device_count, value 15)"]
    assert 7 not in [d["id"] for d in facts["hccn"]["devices"]]


def test_npu_facts_incomplete_driver_install(a2):
    info = a2.root / "etc" / "ascend_install.info"
    info.write_text(info.read_text().replace("Driver_Install_Status=complete\n", ""))
    facts = adhoc("npu_facts", "npu_smi=%s ascend_root=%s install_info=%s host_label=n0" % (
        a2.wrapper("npu-smi"), a2.root / "usr/local/Ascend", info))["ansible_facts"]["npu"]
    assert [c["check"] for c in facts["checks"]] == ["driver_install"]
    assert facts["warnings"][0].startswith("[WARNING]The driver package may not be")


def test_npu_facts_a2_series_detection(a2):
    facts = adhoc("npu_facts", "npu_smi=%s ascend_root=%s" % (
        a2.wrapper("npu-smi"), a2.root / "usr/local/Ascend"))["ansible_facts"]["npu"]
    assert (facts["series"], facts["device_count"], facts["spod"]) == ("a2", 8, [])
    assert [d["phy_id"] for d in facts["devices"]] == list(range(8))


def test_hccn_ping_loopback_and_loss(a2):
    a2.edit(lambda s: s["devices"][0].update(lab_ip="127.0.0.1"))
    pings = json.dumps({"hccn_tool": a2.wrapper("hccn_tool"), "method": "roce",
                        "host_label": "n0",
                        "pings": [{"device": 0, "address": "127.0.0.1", "peer": "n1",
                                   "peer_device": 0},
                                  {"device": 1, "address": "127.0.0.1", "peer": "n1",
                                   "peer_device": 1}]})
    res = adhoc("hccn_ping", pings)
    by_dev = {r["device"]: r for r in res["results"]}
    assert by_dev[0]["ok"] is True and by_dev[0]["received"] == 3 and "confirm" not in by_dev[0]
    # device 1 has no loopback address: its packets go nowhere -> 100% loss, confirmed with
    # 21 more packets (RoCE -ping sends 3 per call) and reported with the confirm round's rate
    assert by_dev[1]["ok"] is False and res["ok"] is False
    assert by_dev[1]["confirm"] == {"transmitted": 21, "received": 0, "loss_pct": 100.0,
                                    "error": None}
    assert res["problems"] == ["n0 device 1: ping to n1 device 1 (127.0.0.1) lost 21 of 21 "
                               "packets in the confirm round (100.0% loss, more than the 5.0% "
                               "allowed) after 0/3 received in the first round (check ping, "
                               "value 100.0% loss)"]
    assert res["recovered"] == []
    # without a confirm round the first round decides
    res = adhoc("hccn_ping", json.dumps(dict(json.loads(pings), confirm_count=0)))
    assert res["problems"] == ["n0 device 1: ping to n1 device 1 (127.0.0.1) lost packets: "
                               "0/3 received (check ping, value 100.0% loss)"]


def test_gcu_facts_and_eccl_perf(gcu):
    facts = adhoc("gcu_facts", "efsmi=%s expected_devices=8" % gcu.wrapper("efsmi"))
    facts = facts["ansible_facts"]["gcu"]
    assert facts["healthy"] is True and facts["device_count"] == 8
    gcu.run("npu-lab-fault", "gcu-unhealthy", "2")
    facts = adhoc("gcu_facts", "efsmi=%s host_label=g0" % gcu.wrapper("efsmi"))
    facts = facts["ansible_facts"]["gcu"]
    assert [c["device"] for c in facts["checks"]] == [2]
    gcu.run("npu-lab-fault", "reset")
    binary = gcu.wrapper("eccl_alltoall_perf")
    res = adhoc("eccl_perf", "binary=%s mpirun='' min_busbw_gbps=5" % binary)
    assert res["ok"] is True and res["avg_busbw_gbps"] > 5 and len(res["rows"]) == 18
    gcu.run("npu-lab-fault", "eccl-slow", "1.0")
    res = adhoc("eccl_perf", "binary=%s mpirun='' min_busbw_gbps=5 host_label=g0" % binary)
    assert res["ok"] is False
    assert "below the minimum 5.00 GB/s" in res["problems"][0]


def test_process_wait_reports_ready_waiting_and_failed(tmp_path):
    """process_wait against a real local HTTP server (an OpenAI-shaped API) and the pid,
    exit-code and log files a launch script writes."""
    import http.server
    import socketserver
    import threading

    health = {"code": 503}
    seen = {"auth": None}

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, code, body):
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            body = b'{"status": "starting: 1/2 data-parallel ranks"}'
            code = 200
            if self.path == "/health":
                code = health["code"]
                body = b"" if code == 200 else body
            elif self.path == "/v1/models":
                body = b'{"data": [{"id": "served"}]}'
            self.reply(code, body)

        def do_POST(self):
            seen["auth"] = self.headers.get("Authorization")
            self.rfile.read(int(self.headers["Content-Length"]))
            self.reply(200, b'{"choices": [{"text": " bright"}], "usage": '
                            b'{"completion_tokens": 2}}')

    srv = socketserver.TCPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % srv.server_address[1]
    (tmp_path / "vllm-serve.pid").write_text("42\n")
    (tmp_path / "vllm-serve.log").write_text("".join("line %d\n" % i for i in range(30)))
    args = {"log_dir": str(tmp_path), "round_seconds": 1, "host_label": "n0", "stage": 1,
            "stage_wait": "ready", "api_key": "sk-test-secret",
            "processes": [{"name": "vllm-serve", "role": "head", "stage": 1,
                           "lifecycle": {"type": "foreground"},
                           "probe": {"type": "openai", "url": base, "model": "served",
                                     "completion": True}}]}
    try:
        res = adhoc("process_wait", json.dumps(args))
        assert res["state"] == "waiting" and res["changed"] is False
        assert res["progress"] == "n0: /health 503: starting: 1/2 data-parallel ranks (0s)"
        health["code"] = 200
        res = adhoc("process_wait", json.dumps(args), "-v")
        assert res["state"] == "ready" and res["log_tail"] == []
        assert res["completion"] == {"text": " bright", "tokens": 2}
        assert seen["auth"] == "Bearer sk-test-secret"       # the key is sent ...
        assert "sk-test-secret" not in json.dumps(res)       # ... and never shown
        # an earlier stage's process only has to keep running
        args["stage"] = 2
        assert adhoc("process_wait", json.dumps(args))["progress"] == \
            "n0: vllm-serve (head) running (0s)"
        # a node outside the stage watches the stage's probe while its own process runs:
        # /health only (no key, no completion from here)
        rank = {"name": "vllm-serve", "role": "headless", "stage": 0,
                "lifecycle": {"type": "foreground"}, "probe": None}
        watch = dict(args, processes=[rank], stage=1, api_key=None,
                     watch=[args["processes"][0]["probe"]])
        seen["auth"] = None
        health["code"] = 503
        res = adhoc("process_wait", json.dumps(watch))
        assert res["state"] == "waiting" and res["progress"] == (
            "n0: watching the stage (%s/health not up yet); vllm-serve (headless) running (0s)"
            % base)
        health["code"] = 200
        res = adhoc("process_wait", json.dumps(watch))
        assert res["state"] == "ready" and res["completion"] is None and seen["auth"] is None
        assert res["progress"] == "n0: the stage is up (%s); vllm-serve (headless) running (0s)" \
            % base
        (tmp_path / "vllm-serve.rc").write_text("1\n")
        res = adhoc("process_wait", json.dumps(watch))
        assert res["state"] == "failed" and res["problem"] == \
            "n0: vllm-serve (headless) exited with code 1 after 0s"
        res = adhoc("process_wait", json.dumps(dict(args, log_lines=3)))
        assert res["state"] == "failed" and res["process"] == "vllm-serve"
        assert res["problem"] == "n0: vllm-serve (head) exited with code 1 after 0s"
        assert res["log_tail"] == ["line 27", "line 28", "line 29"]
        assert res["exited_at"] > 0
    finally:
        srv.shutdown()


FIXTURES = REPO / "tests/unit/plugins/module_utils/fixtures"


def fake_docker(tmp_path, body):
    """A stand-in for the docker CLI (its argv contract only): a shell script."""
    path = tmp_path / "docker"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_serving_facts_reads_this_machine(tmp_path):
    """Interfaces, default route and listening ports of the machine the tests run on (a real
    listener of this test process is found with its pid); docker answers from a stand-in."""
    import socket
    inspect = FIXTURES / "docker_inspect_serving_running.json"
    docker = fake_docker(tmp_path, 'case "$*" in\n'
                         '  "inspect --type container vllm-ascend") cat %s ;;\n'
                         '  *) echo "Error: No such container: $4" >&2; exit 1 ;;\n'
                         'esac\n' % inspect)
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        res = adhoc("serving_facts", "container=vllm-ascend docker=%s host_label=n1" % docker)
    facts = res["ansible_facts"]["serving"]
    assert res["changed"] is False and facts["healthy"] is True, facts["problems"]
    assert facts["interfaces"]["lo"]["ipv4"] == ["127.0.0.1"]
    assert [x for x in facts["tcp_listen"] if x["port"] == port] == [
        {"address": "127.0.0.1", "port": port, "pid": os.getpid(),
         "name": Path("/proc/self/comm").read_text().strip()}]
    c = facts["container"]
    assert (c["exists"], c["running"], c["owned"]) == (True, True, True)
    other = adhoc("serving_facts", "container=gone docker=%s" % docker)
    assert other["ansible_facts"]["serving"]["container"]["exists"] is False
    assert other["ansible_facts"]["serving"]["healthy"] is True


def test_serving_facts_problems_name_host_and_part(tmp_path):
    docker = fake_docker(tmp_path, 'echo "Cannot connect to the Docker daemon at '
                                   'unix:///var/run/docker.sock. Is the docker daemon running?" >&2\n'
                                   'exit 1\n')
    ip = tmp_path / "ip"
    ip.write_text("#!/bin/sh\necho 'Option \"-j\" is unknown, try \"ip -help\".' >&2\nexit 255\n")
    ip.chmod(0o755)
    res = adhoc("serving_facts", "docker=%s ip=%s host_label=n1" % (docker, ip))
    facts = res["ansible_facts"]["serving"]
    assert facts["healthy"] is False
    assert facts["problems"] == [
        'n1: cannot read the interfaces: ip -j -d -4 addr show failed (rc 255): Option "-j" is '
        'unknown, try "ip -help".',
        'n1: cannot read the default route: ip -j -4 route show default failed (rc 255): Option '
        '"-j" is unknown, try "ip -help".',
        "n1: cannot read the serving container: docker inspect vllm failed (rc 1): Cannot "
        "connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon "
        "running?"]


SCRIPT = """#!/bin/sh
case "$1" in
  status) if [ -f "$(dirname "$0")/$(basename "$0" .sh).up" ]; then echo running; else echo absent; fi ;;
esac
"""


LOCAL_DOCKER = ('[ "$1" = exec ] || exit 2\nshift\nwhile [ "$1" = -e ]; do export "$2"; '
                'shift 2; done\nshift\nexec "$@"\n')


def test_launch_scripts_write_idempotent_check_mode_and_state(tmp_path):
    # `docker exec [-e K=V] CONTAINER /bin/sh PATH status` runs the script here, as it would in
    # the container that mounts the same directory
    docker = fake_docker(tmp_path, LOCAL_DOCKER)
    sdir = tmp_path / "serving"
    args = json.dumps({"dir": str(sdir), "container": "vllm", "docker": str(docker),
                       "scripts": [{"name": "vllm-serve", "content": SCRIPT}]})
    first = adhoc("launch_scripts", args)
    path = sdir / "vllm-serve.sh"
    assert first["changed"] is True and path.read_text() == SCRIPT
    assert oct(path.stat().st_mode & 0o777) == "0o750"
    assert first["scripts"][0]["state"] == "absent" and first["scripts"][0]["changed"] is True
    (sdir / "vllm-serve.up").write_text("")
    again = adhoc("launch_scripts", args)
    assert again["changed"] is False and again["scripts"][0]["state"] == "running"
    path.chmod(0o755)
    assert adhoc("launch_scripts", args)["changed"] is True
    assert oct(path.stat().st_mode & 0o777) == "0o750"
    # check mode: a changed script is reported, not written
    changed = json.loads(args)
    changed["scripts"][0]["content"] = SCRIPT + "# v2\n"
    res = adhoc("launch_scripts", json.dumps(changed), "--check", "--diff")
    assert res["changed"] is True and path.read_text() == SCRIPT


def test_launch_scripts_run_the_lifecycles_and_tear_down(tmp_path):
    """The planner's own launch scripts, a foreground process and a daemon, started, watched,
    stopped in order and torn down without a plan; secrets only in a 0600 file."""
    from ansible_collections.npu.cluster.plugins.plugin_utils import render
    docker = fake_docker(tmp_path, LOCAL_DOCKER)
    sdir, ldir = tmp_path / "serving", tmp_path / "logs"
    pidfile = tmp_path / "daemon.pid"
    fg = {"name": "server", "host": "n1", "stage": 1, "env": {"GREETING": "hi"},
          "argv": ["sh", "-c", 'echo "$GREETING $TOKEN"; exec sleep 60']}
    daemon = {"name": "agent", "host": "n1", "stage": 0, "env": {},
              "argv": ["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $! > %s" % pidfile],
              "lifecycle": {"type": "daemon",
                            "stop": ["sh", "-c", 'kill "$(cat %s)"' % pidfile],
                            "status": ["sh", "-c", 'kill -0 "$(cat %s)"' % pidfile]}}
    scripts = [{"name": p["name"], "content": render.launch_script(p, str(sdir), str(ldir))}
               for p in (daemon, fg)]
    base = {"dir": str(sdir), "container": "c", "docker": str(docker), "host_label": "n1",
            "stop_timeout": 5}
    res = adhoc("launch_scripts", json.dumps(dict(base, scripts=scripts, start=["agent", "server"],
                                                  secrets={"server": {"TOKEN": "s3cr3t"}})))
    assert res["started"] == {"agent": "started", "server": "started"}, res
    assert [s["state"] for s in res["scripts"]] == ["running", "running"]
    assert "s3cr3t" not in json.dumps(res)
    assert oct((sdir / "server.secrets").stat().st_mode & 0o777) == "0o600"
    for _attempt in range(50):
        if (ldir / "server.log").exists() and (ldir / "server.log").read_text():
            break
        time.sleep(0.1)
    assert (ldir / "server.log").read_text() == "hi s3cr3t\n"
    # the same again: nothing written, nothing started
    res = adhoc("launch_scripts", json.dumps(dict(base, scripts=scripts, start=["agent", "server"],
                                                  secrets={"server": {"TOKEN": "s3cr3t"}})))
    assert res["changed"] is False and res["started"] == {"agent": "running", "server": "running"}
    # stop in the order given, last stage first
    res = adhoc("launch_scripts", json.dumps(dict(base, stop=["server", "agent"])))
    assert res["stopped"] == {"server": "stopped", "agent": "stopped"} and res["changed"] is True
    status = adhoc("launch_scripts", json.dumps(dict(base, scripts=scripts,
                                                     secrets={"server": {"TOKEN": "s3cr3t"}})))
    assert [s["state"] for s in status["scripts"]] == ["absent", "absent"]
    # teardown needs no plan: it finds our scripts by their mark and stage
    adhoc("launch_scripts", json.dumps(dict(base, start=["agent", "server"])))
    foreign = sdir / "other.sh"
    foreign.write_text("#!/bin/sh\necho not ours\n")
    res = adhoc("launch_scripts", json.dumps(dict(base, teardown=True)))
    assert res["stopped"] == {"server": "stopped", "agent": "stopped"}
    assert sorted(os.path.basename(f) for f in res["removed"]) == [
        "agent.sh", "server.secrets", "server.sh"]
    assert sorted(os.listdir(sdir)) == ["other.sh"]


def test_launch_scripts_refuse_bad_names_and_report_exec_failure(tmp_path):
    res = adhoc("launch_scripts", json.dumps({"dir": str(tmp_path), "host_label": "n1",
                                              "scripts": [{"name": "../x", "content": "x"}]}))
    assert res["failed"] and res["msg"] == ("n1: every script needs a plain name (lower-case "
                                            "letters, digits, - and _) and a text content; got "
                                            "{'name': '../x'}")
    docker = fake_docker(tmp_path, 'echo "Error response from daemon: container 4b4b is not '
                                   'running" >&2\nexit 1\n')
    res = adhoc("launch_scripts", json.dumps({
        "dir": str(tmp_path / "s"), "container": "vllm", "docker": str(docker), "host_label": "n1",
        "scripts": [{"name": "vllm-serve", "content": SCRIPT}]}))
    assert res["failed"]
    assert res["msg"] == ("n1: cannot status vllm-serve in container vllm (docker exec rc 1: "
                          "Error response from daemon: container 4b4b is not running); is the "
                          "container running?")


def test_container_pip_installs_pins_once_from_a_wheel_directory(tmp_path):
    """container_pip against a real Python environment with real pip: `docker exec C ARGS` is
    answered by running ARGS in a virtual environment that stands for the container, and the
    wheels are the lab's stand-ins for runbook 004's pins."""
    import venv
    sys.path.insert(0, str(REPO))
    from npu_cluster.lab import topology
    env_dir = tmp_path / "container"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    pins = ["datasets==3.2.0", "opencv-python==4.10.0.84", "triton==3.2.0"]
    for pin in pins:
        name, data = topology.stand_in_wheel(pin)
        (wheels / name).write_bytes(data)
    docker = fake_docker(tmp_path, '[ "$1" = exec ] && [ "$2" = test_env ] || exit 1\n'
                                   'shift 2\n[ "$1" = python3 ] && shift\n'
                                   'exec %s/bin/python "$@"\n' % env_dir)
    args = {"container": "test_env", "packages": pins, "wheel_dir": str(wheels),
            "docker": str(docker), "host_label": "gcu-node-1"}
    res = adhoc("container_pip", json.dumps(args), "--check")
    assert res["changed"] is True and [p["name"] for p in res["installed"]] == [
        "datasets", "opencv-python", "triton"]
    res = adhoc("container_pip", json.dumps(args))
    assert res["changed"] is True
    assert res["versions"] == {"datasets": "3.2.0", "opencv-python": "4.10.0.84",
                               "triton": "3.2.0"}
    res = adhoc("container_pip", json.dumps(args))
    assert res["changed"] is False and res["installed"] == []
    # a pin the wheel directory does not have: pip's own words, the node and the directory
    res = adhoc("container_pip", json.dumps(dict(args, packages=["triton==3.3.0"])))
    assert res["failed"] is True
    assert res["msg"].startswith("gcu-node-1: pip install in container test_env failed (exit 1) "
                                 "from the wheel directory %s: ERROR: Could not find a version "
                                 "that satisfies the requirement triton==3.3.0" % wheels)
    res = adhoc("container_pip", json.dumps(dict(args, packages=["triton>=3"])))
    assert res["failed"] is True and "is not an exact pin" in res["msg"]
