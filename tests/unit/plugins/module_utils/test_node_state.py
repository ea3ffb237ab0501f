"""node_state parsers (npu.cluster.serving_facts) against output captured on a lab node while
the simulated engine served, on this Debian machine (docker0 and lab bridges), and the failure
forms: tool missing / failing, not JSON, docker daemon down, missing container."""
from pathlib import Path

import pytest

from ansible_collections.npu.cluster.plugins.module_utils import node_state

FIX = Path(__file__).parent / "fixtures"
DAEMON_DOWN = ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
               "Is the docker daemon running?\n")


def fixture(name):
    return (FIX / name).read_text()


def test_ip_addr_lab_node():
    res = node_state.parse_ip_addr(0, fixture("ip_j_d_4_addr_lab_node.json"), "")
    assert res["error"] is None
    ifs = res["interfaces"]
    assert ifs["lo"] == {"ipv4": ["127.0.0.1"], "kind": None, "link_type": "loopback",
                         "up": True}
    assert ifs["docker0"]["kind"] == "bridge" and ifs["docker0"]["ipv4"]
    # the lab node's interfaces are veth ends: eth1 management, eth0 / eth2 the device planes
    # (one node address plus one per NPU device)
    assert ifs["eth1"]["kind"] == "veth" and ifs["eth1"]["ipv4"] == ["10.200.63.10"]
    assert len(ifs["eth0"]["ipv4"]) == 17 and ifs["eth0"]["up"] is True


def test_ip_addr_debian_host_has_many_bridges():
    res = node_state.parse_ip_addr(0, fixture("ip_j_d_4_addr_debian_host.json"), "")
    assert res["error"] is None
    bridges = [n for n, i in res["interfaces"].items() if i["kind"] == "bridge"]
    assert "docker0" in bridges


@pytest.mark.parametrize("rc,out,err,needle", [
    (255, "", 'Option "-j" is unknown, try "ip -help".\n', 'failed (rc 255): Option "-j" is unknown'),
    (1, "", "", "failed (rc 1): (no output)"),
    (0, "1: lo: <LOOPBACK,UP> mtu 65536", "", "not JSON: 1: lo: <LOOPBACK,UP>"),
    (0, '{"ifname": "lo"}', "", "printed dict, not a list of links"),
])
def test_ip_addr_failures(rc, out, err, needle):
    res = node_state.parse_ip_addr(rc, out, err)
    assert res["interfaces"] == {} and needle in res["error"], res


def test_default_route_and_address():
    addr = node_state.parse_ip_addr(0, fixture("ip_j_d_4_addr_lab_node.json"), "")
    route = node_state.parse_default_route(0, fixture("ip_j_4_route_default_lab_node.json"), "")
    assert route == {"interface": "eth0", "gateway": "10.200.128.1", "source": None,
                     "error": None}
    # Docker gave the lab node its default route on a device plane, not on management: the
    # reason the lab inventory sets npu_cluster_serving_ip
    assert node_state.default_ipv4(route, addr["interfaces"]) == "10.200.191.10"


def test_default_route_lowest_metric_and_prefsrc_win():
    out = ('[{"dst":"default","gateway":"10.1.0.1","dev":"eth1","metric":200,"flags":[]},'
           '{"dst":"default","gateway":"10.0.0.1","dev":"eth0","metric":100,'
           '"prefsrc":"10.0.0.7","flags":[]}]')
    route = node_state.parse_default_route(0, out, "")
    assert route["interface"] == "eth0" and route["source"] == "10.0.0.7"
    assert node_state.default_ipv4(route, {"eth0": {"ipv4": ["10.0.0.5"]}}) == "10.0.0.7"


def test_no_default_route_is_not_an_error():
    route = node_state.parse_default_route(0, "[]\n", "")
    assert route["interface"] is None and route["error"] is None
    assert node_state.default_ipv4(route, {}) is None


def test_proc_net_tcp_listeners_while_serving():
    res = node_state.parse_proc_net_tcp(fixture("proc_net_tcp_lab_node_serving.txt"), 4)
    assert res["error"] is None
    got = sorted((x["address"], x["port"]) for x in res["listening"])
    # the head's DP RPC port on the serving IP, HTTP on all addresses, the lab's tool daemon
    assert ("10.200.63.10", 13389) in got and ("0.0.0.0", 8000) in got
    assert ("127.0.0.1", 7399) in got
    assert all(isinstance(x["inode"], int) for x in res["listening"])


def test_proc_net_tcp6_header_only_and_addresses():
    assert node_state.parse_proc_net_tcp(fixture("proc_net_tcp6_lab_node_serving.txt"), 6) == {
        "listening": [], "error": None}
    line = ("   0: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 "
            "0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0\n"
            "   1: 0000000000000000FFFF00000100007F:0050 00000000000000000000000000000000:0000 "
            "0A 00000000:00000000 00:00000000 00000000     0        0 4243 1 0 100 0 0 10 0\n"
            "   2: 000080FE00000000FF0A02024EB80AFE:1F41 00000000000000000000000000000000:0000 "
            "0A 00000000:00000000 00:00000000 00000000     0        0 4244 1 0 100 0 0 10 0\n"
            # captured on this machine: a listener on [::1]:34593
            "   4: 00000000000000000000000001000000:8721 00000000000000000000000000000000:0000 0A "
            "00000000:00000000 00:00000000 00000000     0        0 8049928 1 00000000e1b9827f 100 "
            "0 0 10 0\n"
            "   3: 0000000000000000FFFF00000100007F:0051 0000000000000000FFFF00000100007F:C350 "
            "01 00000000:00000000 00:00000000 00000000     0        0 4245 1 0 100 0 0 10 0\n")
    header = fixture("proc_net_tcp6_lab_node_serving.txt").splitlines()[0] + "\n"
    res = node_state.parse_proc_net_tcp(header + line, 6)
    # each 32-bit word of the address is in host (little-endian) order; ESTABLISHED is skipped
    assert res["listening"] == [
        {"address": "::", "port": 8000, "inode": 4242},
        {"address": "::ffff:127.0.0.1", "port": 80, "inode": 4243},
        {"address": "fe80::202:aff:fe0a:b84e", "port": 8001, "inode": 4244},
        {"address": "::1", "port": 34593, "inode": 8049928}]


def test_proc_net_tcp_loopback_address_byte_order():
    header = fixture("proc_net_tcp_lab_node_serving.txt").splitlines()[0] + "\n"
    line = ("   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000"
            "     0        0 77 1 0 100 0 0 10 0\n")
    assert node_state.parse_proc_net_tcp(header + line, 4)["listening"] == [
        {"address": "127.0.0.1", "port": 8080, "inode": 77}]


@pytest.mark.parametrize("text,needle", [
    (None, "does not start with its header line: (no output)"),
    ("garbage\n", "does not start with its header line: garbage"),
])
def test_proc_net_tcp_unreadable(text, needle):
    res = node_state.parse_proc_net_tcp(text, 4)
    assert res["listening"] == [] and needle in res["error"]


def test_proc_net_tcp_bad_line_is_reported_not_raised():
    header = fixture("proc_net_tcp_lab_node_serving.txt").splitlines()[0] + "\n"
    res = node_state.parse_proc_net_tcp(header + "   0: ZZZZ:1F40 0:0 0A a b c d e 9 x\n", 4)
    assert "unreadable line in /proc/net/tcp: 0: ZZZZ:1F40" in res["error"]


def test_container_running_and_owned():
    res = node_state.parse_container_inspect(
        0, fixture("docker_inspect_serving_running.json"), "", "vllm-ascend", "npu.cluster")
    assert res["exists"] and res["running"] and res["owned"] and res["error"] is None
    assert res["status"] == "running" and res["image"].startswith("npu-lab/serving:")
    assert res["labels"]["org.npu-cluster.role"] == "head"
    assert node_state.parse_container_inspect(
        0, fixture("docker_inspect_serving_running.json"), "", "vllm-ascend",
        "someone.else")["owned"] is False


def test_container_missing_is_not_a_problem():
    res = node_state.parse_container_inspect(
        int(fixture("docker_inspect_missing.rc")), fixture("docker_inspect_missing.stdout"),
        fixture("docker_inspect_missing.stderr"), "nosuch", "npu.cluster")
    assert res["exists"] is False and res["running"] is False and res["error"] is None


def test_container_daemon_down_is_a_problem():
    res = node_state.parse_container_inspect(1, "", DAEMON_DOWN, "vllm", "npu.cluster")
    assert res["exists"] is False
    assert res["error"].startswith("docker inspect vllm failed (rc 1): Cannot connect to the "
                                   "Docker daemon")


def test_assemble_names_host_and_part():
    addr = node_state.parse_ip_addr(0, fixture("ip_j_d_4_addr_lab_node.json"), "")
    route = node_state.parse_default_route(0, fixture("ip_j_4_route_default_lab_node.json"), "")
    tcp4 = node_state.parse_proc_net_tcp(fixture("proc_net_tcp_lab_node_serving.txt"), 4)
    tcp6 = node_state.parse_proc_net_tcp(fixture("proc_net_tcp6_lab_node_serving.txt"), 6)
    http = [x for x in tcp4["listening"] if x["port"] == 8000][0]
    c = node_state.parse_container_inspect(1, "", DAEMON_DOWN, "vllm", "npu.cluster")
    facts = node_state.assemble("node1", addr, route, tcp4, tcp6, c,
                                {http["inode"]: (6039, "python3")})
    assert facts["default_ipv4"] == {"address": "10.200.191.10", "interface": "eth0",
                                     "gateway": "10.200.128.1"}
    assert {"address": "0.0.0.0", "port": 8000, "pid": 6039, "name": "python3"} in \
        facts["tcp_listen"]
    assert facts["healthy"] is False
    assert facts["problems"] == ["node1: cannot read the serving container: docker inspect "
                                 "vllm failed (rc 1): " + DAEMON_DOWN.strip()]
    assert "error" not in facts["container"]
