"""hccn_tool simulator: every query and set command, every fault, against the reference forms
(shared/reference/tool-output-formats.md sections 0-9, 12, 13)."""
import re

import pytest


def ok(res):
    assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
    return res.stdout


@pytest.mark.parametrize("series,count", [("a2", 8), ("a3", 16)])
def test_link_net_health_ip_gateway_netdetect_for_every_device(request, series, count):
    node = request.getfixturevalue(series)
    for dev in range(count):
        assert ok(node.run("hccn_tool", "-i", str(dev), "-link", "-g")) == "link status: UP\n"
        assert ok(node.run("hccn_tool", "-i", str(dev), "-net_health", "-g")) == \
            "net health status: Success\n"
        ip = ok(node.run("hccn_tool", "-i", str(dev), "-ip", "-g"))
        assert re.fullmatch(r"ipaddr:10\.200\.\d+\.\d+\nnetmask:255\.255\.192\.0\n", ip)
        assert ok(node.run("hccn_tool", "-i", str(dev), "-gateway", "-g")) == \
            "default gateway:10.200.64.1, Iface:eth%d\n" % dev
        assert ok(node.run("hccn_tool", "-i", str(dev), "-netdetect", "-g")) == \
            "netdetect addr: 10.200.64.1\n"
    # One device past the last: the real tool's invalid-id error.
    res = node.run("hccn_tool", "-i", str(count), "-link", "-g")
    assert (res.returncode, res.stdout, res.stderr) == (4, "", "Get invalid device id.\n")


def test_link_line_has_exactly_three_fields(a2):
    # MindCluster's Go parser splits on single spaces and requires exactly 3 fields.
    assert ok(a2.run("hccn_tool", "-i", "0", "-link", "-g")).strip().split(" ") == \
        ["link", "status:", "UP"]


def test_lldp_full_tlv_layout_and_grep_ifname(a2):
    text = ok(a2.run("hccn_tool", "-i", "3", "-lldp", "-g"))
    lines = text.splitlines()
    assert lines[0] == "Chassis ID TLV"
    assert lines[-1] == "End of LLDPDU TLV"
    ifname = [ln for ln in lines if "Ifname" in ln]
    assert ifname == ["\tIfname: 400GE1/1/2:2"]
    assert lines[lines.index("System Name TLV") + 1] == "\tLEAF-01"


def test_vnic_a3_address_scheme(a3):
    # Server index 1 (node 1): 192.<server>.<2+die>.<199-device>.
    assert ok(a3.run("hccn_tool", "-i", "0", "-vnic", "-g")) == \
        "vnic link status: UP\nvnic ipaddr: 192.1.2.199\nvnic netmask: 255.255.255.0\n"
    assert "vnic ipaddr: 192.1.3.184" in ok(a3.run("hccn_tool", "-i", "15", "-vnic", "-g"))


def test_vnic_and_hccs_ping_not_supported_on_a2(a2):
    for args in (["-vnic", "-g"], ["-hccs_ping", "-g", "address", "192.0.2.199"]):
        res = a2.run("hccn_tool", "-i", "0", *args)
        assert (res.returncode, res.stdout, res.stderr) == (
            13, "The command is not supported on this product.\n", "")


def test_tls_summary_line(a2):
    first = ok(a2.run("hccn_tool", "-i", "2", "-tls", "-g")).splitlines()[0]
    assert first == ("dev_id:2, tls switch[0](0:disable, 1:enable), tls preconfigured[1]"
                     "(0:non-preset, 1:preset), tls alarm time threshold[60]days")


def test_optical_and_stat(a2):
    optical = ok(a2.run("hccn_tool", "-i", "0", "-optical", "-g")).splitlines()
    assert optical[0] == "optical info:"
    assert optical[3] == "high power enable reg: enabled"
    assert all(re.match(r"^.{21}: ", ln) for ln in optical[1:])
    stat = ok(a2.run("hccn_tool", "-i", "0", "-stat", "-g")).splitlines()
    assert stat[0] == "packet statistics:"
    assert stat[1] == "mac_tx_mac_pause_num:0" and stat[-1] == "nic_rx_all_oct_num:0"
    assert len(stat) == 47


def test_hccn_conf_matches_live_state(a2):
    conf = a2.conf().splitlines()
    assert conf[:6] == ["address_0=10.200.65.11", "netmask_0=255.255.192.0",
                        "netdetect_0=10.200.64.1", "gateway_0=10.200.64.1",
                        "send_arp_status_0=1", "tls_enable_0=0"]


@pytest.mark.parametrize("args,code,stderr,stdout", [
    (["-i", "0", "-foo", "-g"], 3,
     "Get invalid major cmd.\nEnter [ hccn_tool -h ] for more details.\n", ""),
    (["-i", "123", "-link", "-g"], 4, "Get invalid device id.\n", ""),
    (["-i", "x", "-link", "-g"], 4, "Get invalid device id.\n", ""),
    (["-i", "0", "-net_health", "-s"], 3, "Get unknown option!\n",
     "hccn_tool -i devid -net_health\n   [-g]        : get net health status\n"),
    (["-i", "0", "-ping", "-g", "address", "300.1.1.1"], 6,
     "The ip address you configured is invalid!\n", ""),
], ids=["unknown-major-cmd", "devid-3-digits", "devid-not-number", "unknown-option",
        "bad-ip-literal"])
def test_usage_errors(a2, args, code, stderr, stdout):
    res = a2.run("hccn_tool", *args)
    assert (res.returncode, res.stderr, res.stdout) == (code, stderr, stdout)


def test_unknown_sub_option_prints_the_parameter_list_on_stdout(a2):
    # The reference's help block, trailing spaces included.
    res = a2.run("hccn_tool", "-i", "0", "-link", "-s", "sideways")
    assert (res.returncode, res.stderr) == (3, "Get unknown option!\n")
    assert res.stdout == (
        "hccn_tool -i devid -link\n"
        "   [-s]                   : set the eth ports link status\n"
        "       down               : shut down eth port \n"
        "       up                 : start up eth port \n"
        "   [-g]                   : get the eth ports link status, UP or DOWN \n")
    res = a2.run("hccn_tool", "-i", "0", "-vnic", "-x")
    assert (res.returncode, res.stderr) == (3, "Get unknown option!\n")
    assert res.stdout.startswith("hccn_tool -i devid -vnic\n   [-g]        : get vnic link status")


def test_wrong_parameter_count_prints_help_on_stdout(a2):
    res = a2.run("hccn_tool", "-i", "0", "-link", "-g", "x")
    assert res.returncode == 4
    assert res.stderr == "The total count of input parameters is wrong!\n"
    assert res.stdout.startswith("[ hccn_tool -i devid -link ] needs the following parameters:")


# ------------------------------------------------------------------ faults


def fault(node, *args):
    res = node.run("npu-lab-fault", *args)
    assert res.returncode == 0, res.stderr
    return res


def test_fault_link_down(a2):
    fault(a2, "link-down", "5")
    assert ok(a2.run("hccn_tool", "-i", "5", "-link", "-g")) == "link status: DOWN\n"
    assert ok(a2.run("hccn_tool", "-i", "5", "-net_health", "-g")) == "net health status: Fault\n"
    res = a2.run("hccn_tool", "-i", "5", "-ping", "-g", "address", "127.0.0.1")
    assert (res.returncode, res.stderr) == (22, "Execute failed: Link status is down.\n")
    res = a2.run("hccn_tool", "-i", "5", "-lldp", "-g")
    assert (res.returncode, res.stderr) == (1, "Command execute failed!\n")


@pytest.mark.parametrize("status", ["Socket fail", "Receive timeout", "Unreachable",
                                    "Time exceeded", "Fault", "Init", "Thread error",
                                    "Detect ip set", "Unknown"])
def test_fault_every_net_health_value(a2, status):
    fault(a2, "net-health", "1", status)
    assert ok(a2.run("hccn_tool", "-i", "1", "-net_health", "-g")) == \
        "net health status: %s\n" % status


def test_fault_no_ip(a2):
    fault(a2, "no-ip", "2")
    res = a2.run("hccn_tool", "-i", "2", "-ip", "-g")
    assert (res.returncode, res.stdout, res.stderr) == (
        13, "", "Get ipconf failed, because no ip was preset there!\n")


def test_no_gateway(a2):
    a2.edit(lambda s: s["devices"][4].update(gateway=None))
    res = a2.run("hccn_tool", "-i", "4", "-gateway", "-g")
    assert (res.returncode, res.stdout, res.stderr) == (
        2, "", "Get gateway failed, because no gateway was preset there!\n")


def test_unset_netdetect_prints_zero_address(a2):
    a2.edit(lambda s: s["devices"][4].update(netdetect=None))
    assert ok(a2.run("hccn_tool", "-i", "4", "-netdetect", "-g")) == "netdetect addr: 0.0.0.0\n"


def test_fault_stale_conf_leaves_live_ip_alone(a2):
    fault(a2, "stale-conf", "3")
    conf = dict(ln.split("=", 1) for ln in a2.conf().splitlines())
    live = ok(a2.run("hccn_tool", "-i", "3", "-ip", "-g")).splitlines()[0].split(":")[1]
    assert conf["address_3"] != live
    assert a2.conf().splitlines()[-1].startswith("address_3=")  # writes append at the end


def test_fault_tls_mismatch(a2):
    fault(a2, "tls", "1", "1")
    assert "tls switch[1]" in ok(a2.run("hccn_tool", "-i", "1", "-tls", "-g"))
    assert "tls switch[0]" in ok(a2.run("hccn_tool", "-i", "0", "-tls", "-g"))


def test_fault_lldp_missing_and_duplicate(a2):
    fault(a2, "lldp-missing", "6")
    assert a2.run("hccn_tool", "-i", "6", "-lldp", "-g").returncode == 1
    fault(a2, "lldp-dup", "7", "0")
    port0 = [ln for ln in ok(a2.run("hccn_tool", "-i", "0", "-lldp", "-g")).splitlines()
             if "Ifname" in ln]
    port7 = [ln for ln in ok(a2.run("hccn_tool", "-i", "7", "-lldp", "-g")).splitlines()
             if "Ifname" in ln]
    assert port0 == port7


def test_fault_missing_hccn_tool_and_reset(a2):
    tool = a2.root / "usr/local/Ascend/driver/tools/hccn_tool"
    fault(a2, "no-hccn-tool")
    assert not tool.exists()
    fault(a2, "link-down", "0")
    fault(a2, "stale-conf", "1")
    fault(a2, "reset")
    assert tool.exists()
    assert ok(a2.run("hccn_tool", "-i", "0", "-link", "-g")) == "link status: UP\n"
    conf = dict(ln.split("=", 1) for ln in a2.conf().splitlines())
    assert conf["address_1"] == "10.200.65.12"


def test_unknown_fault_is_refused(a2):
    res = a2.run("npu-lab-fault", "melt", "0")
    assert res.returncode == 2 and "unknown fault" in res.stderr


# ------------------------------------------------------------------ set commands


def test_set_ip_writes_state_and_appends_to_conf(a2):
    res = a2.run("hccn_tool", "-i", "0", "-ip", "-s", "address", "10.200.66.99", "netmask",
                 "255.255.192.0")
    assert ok(res) == "Cmd executed successfully!\n"
    assert ok(a2.run("hccn_tool", "-i", "0", "-ip", "-g")).startswith("ipaddr:10.200.66.99\n")
    assert a2.conf().splitlines()[-2:] == ["address_0=10.200.66.99", "netmask_0=255.255.192.0"]


def test_set_ip_conflict_and_gateway_segment(a2):
    res = a2.run("hccn_tool", "-i", "0", "-ip", "-s", "address", "10.200.65.12", "netmask",
                 "255.255.192.0")
    assert (res.returncode, res.stderr) == (7, "The ip address configured is conflicted!\n")
    res = a2.run("hccn_tool", "-i", "0", "-gateway", "-s", "gateway", "10.1.1.1")
    assert res.returncode == 8 and "ip adress!" in res.stderr


def test_set_link_down_then_up(a2):
    assert ok(a2.run("hccn_tool", "-i", "1", "-link", "-s", "down")) == \
        "Cmd executed successfully!\n"
    assert ok(a2.run("hccn_tool", "-i", "1", "-link", "-g")) == "link status: DOWN\n"
    ok(a2.run("hccn_tool", "-i", "1", "-link", "-s", "up"))
    assert ok(a2.run("hccn_tool", "-i", "1", "-net_health", "-g")) == \
        "net health status: Success\n"


def test_set_tls(a2):
    assert ok(a2.run("hccn_tool", "-i", "0", "-tls", "-s", "enable", "1")) == \
        "Cmd executed successfully!\n"
    assert "tls_enable_0=1" in a2.conf()


# ------------------------------------------------------------------ pings (real, loopback)


def loopback(node, devs):
    def edit(state):
        for dev in devs:
            state["devices"][dev]["lab_ip"] = "127.0.0.1"
    node.edit(edit)


def test_ping_real_packets_on_loopback(a2):
    loopback(a2, [0])
    res = a2.run("hccn_tool", "-i", "0", "-ping", "-g", "address", "127.0.0.1")
    lines = ok(res).splitlines()
    assert lines[0] == "device 0 PING 127.0.0.1"
    for seq in range(3):
        assert re.fullmatch(r"recv seq=%d,time=\d+\.\d{6}ms" % seq, lines[1 + seq])
    assert lines[4] == "3 packets transmitted, 3 received, 0.00% packet loss"


def test_ping_outside_lab_sends_nothing_and_fails_like_the_device(a2):
    res = a2.run("hccn_tool", "-i", "0", "-ping", "-g", "address", "192.0.2.10")
    assert res.returncode == 1
    assert res.stderr == "Command execute failed!\n"
    assert res.stdout.splitlines()[1:] == ["recv time out seq=0", "recv time out seq=1",
                                           "recv time out seq=2",
                                           "3 packets transmitted, 0 received, "
                                           "100.00% packet loss"]


def test_ping_partial_loss_format():
    import importlib.util
    from pathlib import Path
    sim_path = Path(__file__).resolve().parents[3] / "lab" / "sim" / "npulab_sim.py"
    spec = importlib.util.spec_from_file_location("npulab_sim", sim_path)
    sim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sim)
    text, failed = sim.fmt_ping(4, "10.0.0.2", [None, 0.097, 0.066])
    assert failed
    assert text.splitlines() == ["device 4 PING 10.0.0.2", "recv time out seq=0",
                                 "recv seq=1,time=0.097000ms", "recv seq=2,time=0.066000ms",
                                 "3 packets transmitted, 2 received, 33.33% packet loss"]


def test_hccs_ping_real_packets_and_layout(a3):
    # Map this node's vNIC of device 0 and the target to loopback addresses.
    def edit(state):
        state["devices"][0]["vnic"]["lab_ip"] = "127.0.0.1"
        state["networks"]["hccs"]["subnet"] = "127.0.0.0/16"
    a3.edit(edit)
    out = ok(a3.run("hccn_tool", "-i", "0", "-hccs_ping", "-g", "address", "192.1.2.199"))
    lines = out.split("\n")
    assert lines[0] == "device 0 PING 192.1.2.199" and lines[1] == ""
    assert lines[2] == "This pkt ping success!"
    assert re.fullmatch(r"recv seq 0, time = \d+\.\d{3}us, L1 plane check result = 0x0",
                        lines[3])
    assert "3 packets transmitted, 3 received, 0.00% packets loss" in lines
    assert lines[-2] == "Cmd executed successfully!"


def test_hccs_ping_vnic_down_reports_loss_but_exits_zero(a3):
    fault(a3, "vnic-down", "2")
    res = a3.run("hccn_tool", "-i", "2", "-hccs_ping", "-g", "address", "192.0.2.199")
    assert res.returncode == 0
    assert "This pkt send fail!" in res.stdout
    assert "3 packets transmitted, 0 received, 100.00% packets loss" in res.stdout


def test_hccs_ping_rejects_non_vnic_address(a3):
    res = a3.run("hccn_tool", "-i", "0", "-hccs_ping", "-g", "address", "10.1.2.3")
    assert (res.returncode, res.stderr) == (6, "The ip address you configured is invalid!\n")
