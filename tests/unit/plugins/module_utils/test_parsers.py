"""Parsers against real captured output (fixtures/, from shared/reference/tool-output-formats.md)
and every failure form listed there.  Each case id names the tool version or source."""
from pathlib import Path

import pytest

from ansible_collections.npu.cluster.plugins.module_utils import enflame, hccn, npu_smi

FIX = Path(__file__).parent / "fixtures"


def fixture(name):
    return (FIX / name).read_text()


# ------------------------------------------------------------------ hccn_tool


@pytest.mark.parametrize("rc,out,err,expect", [
    (0, "link status: UP\n", "", {"link": "UP", "error": None}),
    (0, "link status: DOWN\n", "", {"link": "DOWN", "error": None}),
    (1, "", "Command execute failed!\n", {"link": None,
                                          "error": "device query failed (exit 1: Command "
                                                   "execute failed!)"}),
    (22, "", "Execute failed: Link status is down.\n",
     {"link": None, "error": "link is down (exit 22: Execute failed: Link status is down.)"}),
    (12, "", "permission denied: pls check this cmd run permission.\n",
     {"link": None, "error": "not run as root (exit 12: permission denied)"}),
    (0, "link state up\n", "", {"link": None,
                                "error": "unrecognised -link -g output: link state up"}),
    (0, "", "", {"link": None, "error": "unrecognised -link -g output: (no output)"}),
], ids=["up", "down", "query-failed", "link-down-err", "not-root", "unknown-text", "empty"])
def test_link(rc, out, err, expect):
    assert hccn.parse_link(rc, out, err) == expect


@pytest.mark.parametrize("out,value,error", [
    ("net health status: Success\n", "Success", None),
    ("net health status: Socket failed\n", "Socket failed", None),  # MC fixture, older HDK
    ("net health status: Socket fail\n", "Socket fail", None),      # DRV wording
    ("net health status: Init\n", "Init", None),
    ("net health status: Receive timeout\n", "Receive timeout", None),
    ("net health status: Detect ip set\n", "Detect ip set", None),
    ("net health status: Bogus\n", "Bogus", "unknown net health status 'Bogus'"),
], ids=["success", "old-socket-failed", "drv-socket-fail", "init", "receive-timeout",
        "detect-ip-set", "unknown"])
def test_net_health(out, value, error):
    assert hccn.parse_net_health(0, out, "") == {"net_health": value, "error": error}


def test_net_health_query_failure():
    res = hccn.parse_net_health(1, "", "Command execute failed!\n")
    assert res["net_health"] is None and "device query failed" in res["error"]


@pytest.mark.parametrize("out,value", [
    ("netdetect addr: 11.12.165.1\n", "11.12.165.1"),       # DRV source form
    ("netdetect address: 11.12.165.1\n", "11.12.165.1"),    # DSV3 sample form
    ("netdetect addr: 0.0.0.0\n", None),                    # unset
], ids=["drv", "dsv3", "unset"])
def test_netdetect(out, value):
    assert hccn.parse_netdetect(0, out, "") == {"netdetect": value, "error": None}


def test_gateway_forms():
    assert hccn.parse_gateway(0, "default gateway:11.12.165.1, Iface:eth7\n", "") == {
        "gateway": "11.12.165.1", "gateway_iface": "eth7", "error": None}
    none = hccn.parse_gateway(2, "", "Get gateway failed, because no gateway was preset there!\n")
    assert none == {"gateway": None, "gateway_iface": None, "error": None}
    bad = hccn.parse_gateway(0, "gw=1.2.3.4\n", "")
    assert bad["error"].startswith("unrecognised -gateway -g output")


def test_ip_forms():
    assert hccn.parse_ip(0, "ipaddr:11.12.165.80\nnetmask:255.255.255.0\n", "") == {
        "ipaddr": "11.12.165.80", "netmask": "255.255.255.0", "error": None}
    assert hccn.parse_ip(13, "", "Get ipconf failed, because no ip was preset there!\n") == {
        "ipaddr": None, "netmask": None, "error": None}
    # MC fixture: device 2 printed nothing on stdout (error went to stderr, not captured)
    res = hccn.parse_ip(0, "", "")
    assert res["ipaddr"] is None and res["error"].startswith("no output from -ip -g")


def test_vnic():
    out = "vnic link status: UP\nvnic ipaddr: 192.4.2.199\nvnic netmask: 255.255.255.0\n"
    assert hccn.parse_vnic(0, out, "") == {"vnic_link": "UP", "vnic_ipaddr": "192.4.2.199",
                                           "vnic_netmask": "255.255.255.0", "error": None}
    res = hccn.parse_vnic(13, "The command is not supported on this product.\n", "")
    assert res["error"].startswith("not supported on this product (exit 13")


@pytest.mark.parametrize("name,switch,expired", [
    ("tls_old_with_certs.txt", 0, []),
    ("tls_950_with_certs.txt", 0, []),
], ids=["old-no-preconfigured", "drv-950"])
def test_tls_real(name, switch, expired):
    res = hccn.parse_tls(0, fixture(name), "")
    assert (res["tls_switch"], res["tls_expired"], res["error"]) == (switch, expired, None)


def test_tls_mismatch_line_and_expired_cert():
    line = ("dev_id:1, tls switch[1](0:disable, 1:enable), tls preconfigured[1](0:non-preset, "
            "1:preset), tls alarm time threshold[60]days\n")
    assert hccn.parse_tls(0, line, "")["tls_switch"] == 1
    expired = line + "dev_id:1, [pub cert] info:\n\t tls expiration status[2](0:normal, " \
                     "1:near expiration, 2:has expired)\n"
    assert hccn.parse_tls(0, expired, "")["tls_expired"] == ["pub cert"]
    nocert = hccn.parse_tls(14, "", "No certificate found, please set certs firstly!\n")
    assert nocert["error"].startswith("no TLS certificate")


@pytest.mark.parametrize("name,ifname,sysname,mgmt", [
    ("lldp_910b_ac_redacted.txt", "400GE1/1/20:2", None, "26.xx.xx.xx"),
    ("lldp_template_tabs.txt", "400GE1/1/5:1", "SPINE-01", "10.0.0.1"),
], ids=["ac-910b-spaces", "lldptool-template-tabs"])
def test_lldp_real(name, ifname, sysname, mgmt):
    res = hccn.parse_lldp(0, fixture(name), "")
    assert res == {"lldp_ifname": ifname, "lldp_system_name": sysname, "lldp_mgmt_ip": mgmt,
                   "error": None}


def test_lldp_grep_ifname_line_and_no_neighbour():
    assert hccn.parse_lldp(0, "\tIfname: 400GE1/2/5:1\n", "")["lldp_ifname"] == "400GE1/2/5:1"
    assert hccn.parse_lldp(0, "", "")["lldp_ifname"] is None
    assert hccn.parse_lldp(1, "", "Command execute failed!\n")["error"]


def test_hccn_conf_real():
    ac = hccn.parse_hccn_conf(fixture("hccn_conf_ac.txt"))
    assert ac[0] == {"address": "29.1.137.205", "netmask": "255.255.0.0",
                     "netdetect": "29.1.0.1", "gateway": "29.1.0.1", "send_arp_status": "1"}
    assert ac[7]["address"] == "29.1.170.143"
    la = hccn.parse_hccn_conf(fixture("hccn_conf_la_minimal.txt"))
    assert sorted(la) == list(range(8)) and la[3] == {"address": "10.20.11.14",
                                                      "netmask": "255.255.255.0"}
    # later lines win (hccn_tool appends on write); comments ignored
    assert hccn.parse_hccn_conf("address_1=1.1.1.1\n# x\naddress_1=2.2.2.2\n") == {
        1: {"address": "2.2.2.2"}}


def test_ping_real_and_failures():
    first_device = "\n".join(fixture("ping_dsv3_success.txt").splitlines()[:5])
    assert hccn.parse_ping(0, first_device, "") == {
        "transmitted": 3, "received": 3, "loss_pct": 0.0, "ok": True, "max_ms": 0.114,
        "error": None}
    partial = ("device 0 PING 10.0.0.2\nrecv time out seq=0\nrecv seq=1,time=0.097000ms\n"
               "recv seq=2,time=0.066000ms\n3 packets transmitted, 2 received, 33.33% packet loss\n")
    res = hccn.parse_ping(1, partial, "Command execute failed!\n")
    assert (res["ok"], res["received"], res["loss_pct"], res["error"]) == (False, 2, 33.33, None)
    down = hccn.parse_ping(22, "", "Execute failed: Link status is down.\n")
    assert not down["ok"] and down["error"].startswith("link is down")


def test_hccs_ping_source_rendering_and_loss():
    res = hccn.parse_hccs_ping(0, fixture("hccs_ping_source_rendered.txt"), "")
    assert (res["ok"], res["transmitted"], res["received"], res["max_ms"]) == (
        True, 3, 3, 0.012345)
    lossy = fixture("hccs_ping_source_rendered.txt").replace(
        "3 packets transmitted, 3 received, 0.00% packets loss",
        "3 packets transmitted, 2 received, 33.33% packets loss").replace(
        "This pkt ping success!", "This pkt check recv msg fail!", 1)
    res = hccn.parse_hccs_ping(0, lossy, "")  # exit 0 even with loss, like the real tool
    assert not res["ok"] and res["received"] == 2
    bad = hccn.parse_hccs_ping(6, "", "The ip address you configured is invalid!\n")
    assert not bad["ok"] and bad["error"].startswith("invalid IP address")


def test_tool_error_unknown_keeps_raw_text():
    assert hccn.tool_error(5, "", "segfault in libdsmi\n") == \
        "failed (exit 5): segfault in libdsmi"


# ------------------------------------------------------------------ npu-smi


def test_info_a2_with_processes_real():
    res = npu_smi.parse_info(0, fixture("npu_smi_info_a2_910b3_25.3.rc1_procs.txt"), "")
    assert res["error"] is None and res["npu_smi_version"] == "25.3.rc1"
    assert len(res["devices"]) == 8
    d0 = res["devices"][0]
    assert (d0["npu_id"], d0["name"], d0["health"], d0["chip_id"], d0["phy_id"],
            d0["bus_id"], d0["hbm_used_mb"], d0["hbm_total_mb"], d0["power_w"]) == (
        0, "910B3", "OK", 0, None, "0000:C1:00.0", 4487, 65536, 94.3)
    assert len(res["processes"]) == 16
    assert res["processes"][0] == {"npu_id": 0, "chip_id": 0, "pid": 2698909, "name": "",
                                   "memory_mb": 600}


def test_info_a3_two_dies_real():
    res = npu_smi.parse_info(0, fixture("npu_smi_info_a3_24.1.rc3.7.txt"), "")
    assert res["error"] is None and len(res["devices"]) == 16
    die1 = res["devices"][1]
    assert (die1["npu_id"], die1["chip_id"], die1["phy_id"], die1["power_w"],
            die1["bus_id"]) == (0, 1, 1, None, "0000:9F:00.0")
    assert [d["phy_id"] for d in res["devices"]] == list(range(16))
    assert res["processes"] == []


def test_info_99_column_layout_and_warning():
    text = fixture("npu_smi_info_a2_910b3_25.3.rc1_procs.txt")
    wide = "\n".join(ln[:-1] + "   |" if ln.startswith("|") else ln + "---"
                     for ln in text.splitlines())
    wide += ("\n[WARNING]The driver package may not be completely installed, which may cause "
             "function abnormal. Please reinstall it.\n")
    res = npu_smi.parse_info(0, wide, "")
    assert len(res["devices"]) == 8 and res["devices"][7]["hbm_used_mb"] == 4482
    assert res["warnings"] and res["warnings"][0].startswith("[WARNING]The driver package")


def test_info_alarm_and_failures():
    text = fixture("npu_smi_info_a3_24.1.rc3.7.txt").replace(
        "| 3     Ascend910           | OK ", "| 3     Ascend910           | Alarm ")
    healths = [d["health"] for d in npu_smi.parse_info(0, text, "")["devices"]]
    assert healths.count("Alarm") == 2
    dcmi = npu_smi.parse_info(187, "", "dcmi module initialize failed. ret is -8005\n")
    assert dcmi["error"].startswith("npu-smi info failed (exit 187)")
    junk = npu_smi.parse_info(0, "NPU garbage\n", "")
    assert junk["error"].startswith("no devices found")


def test_list_real():
    res = npu_smi.parse_list(0, fixture("npu_smi_l_a2_910b4_blog.txt"), "")
    assert res["total"] == 8 and res["npus"][7] == {"npu_id": 7, "chip_count": 1}


@pytest.mark.parametrize("name,count,last", [
    ("npu_smi_m_a2_910b4_blog.txt", 8, {"npu_id": 7, "chip_id": 0, "logic_id": 7, "phy_id": 7,
                                        "name": "Ascend 910B4"}),
    ("npu_smi_m_910a_mc_tabs.txt", 8, {"npu_id": 7, "chip_id": 0, "logic_id": 7, "phy_id": 7,
                                       "name": "Ascend 910A"}),
    ("npu_smi_m_a3_partial_xllm.txt", 3, {"npu_id": 1, "chip_id": 0, "logic_id": 2,
                                          "phy_id": 2, "name": "Ascend910"}),
], ids=["a2-910b4-blog-spaces-mcu", "910a-mc-tabs", "a3-xllm-five-columns"])
def test_mapping_real(name, count, last):
    res = npu_smi.parse_mapping(0, fixture(name), "")
    assert res["error"] is None and len(res["chips"]) == count and res["chips"][-1] == last


def test_spod_info_forms():
    tabs = ("\tSDID                           : 16777216\n\tSuper Pod Size                 : 384\n"
            "\tSuper Pod ID                   : 0\n\tServer Index                   : 4\n")
    collapsed = "SDID : 16777216\nSuper Pod Size : 384\nSuper Pod ID : 0\nServer Index : 4\n"
    for text in (tabs, collapsed):
        assert npu_smi.parse_spod_info(0, text, "") == {
            "sdid": 16777216, "super_pod_size": 384, "super_pod_id": 0, "server_index": 4,
            "supported": True, "error": None}
    assert npu_smi.parse_spod_info(
        0, "This device does not support querying spod-info.\n", "") == {"supported": False,
                                                                         "error": None}
    bad = npu_smi.parse_spod_info(215, "Invalid card id.\nError parameter of -i\n", "")
    assert bad["error"].startswith("spod-info failed (exit 215)")


def test_health_ok_and_alarm_mc_fixture():
    ok = npu_smi.parse_health(0, "\tHealth Status                  : OK\n\tError Code        "
                                 "             : NA\n\tError Information              : NA\n", "")
    assert (ok["health"], ok["error_code"]) == ("OK", "NA")
    alarm = ("\tHealth Status                  : Alarm\n"
             "\tError Code                     : A4025021 8C03A000 8C084E00\n"
             "\tError Information              : ascend_monitor adda heart beat lost error\n\n"
             "\t                               : node type=process-manager, sensor type=General "
             "Software, event state=The process start failed or exit abnormally\n")
    res = npu_smi.parse_health(0, alarm, "")
    assert res["health"] == "Alarm" and res["error_code"] == "A4025021 8C03A000 8C084E00"
    assert "process-manager" in res["error_info"]


# ------------------------------------------------------------------ Enflame


@pytest.mark.parametrize("name,count,name0,efsmi_ver,driver", [
    ("efsmi_1.4.0.505_vg.txt", 2, "Enflame S60", "1.4.0.505", "1.4.4.501"),
    ("efsmi_1.7.2.14_flagtree.txt", 1, "Enflame L300", "1.7.2.14", "1.7.2.14"),
    ("efsmi_1.2.0.301_paddle.txt", 2, "S60", "1.2.0.301", "1.2.0.301"),
], ids=["efsmi-1.4-vg", "efsmi-1.7-flagtree", "efsmi-1.2-paddle"])
def test_efsmi_three_layouts(name, count, name0, efsmi_ver, driver):
    res = enflame.parse_efsmi(0, fixture(name), "")
    assert res["error"] is None and len(res["devices"]) == count
    assert res["devices"][0]["name"] == name0
    assert (res["efsmi_version"], res["driver_version"]) == (efsmi_ver, driver)


def test_efsmi_failures():
    assert enflame.parse_efsmi(127, "", "efsmi: command not found\n")["error"]
    assert enflame.parse_efsmi_query(0, "", "")["error"]


@pytest.mark.parametrize("name,rows,avg,oob,first", [
    ("nt_alltoall_v213_tinygrad.txt", 3, None, None, (8, 1, "float", "none", 0.0)),
    ("nt_old_error_layout_issue78.txt", 2, 0.507636, 0, (268435456, 1048576, "float", "", 0.51)),
    ("nt_allgather_2.18.0.txt", 8, 1.27827, 0, (1048576, 131072, "float", "none", 0.24)),
    ("nt_alltoall_2.18.3_16ranks.txt", 24, 22.3044, 0, (1024, 16, "float", "none", 0.02)),
], ids=["nt-2.13-alltoall-truncated", "nt-pre-2.11-error-column", "nt-2.18.0-allgather",
        "nt-2.18.3-alltoall-16-ranks-mpi-noise"])
def test_perf_tables_real(name, rows, avg, oob, first):
    res = enflame.parse_perf_table(0, fixture(name), "")
    assert len(res["rows"]) == rows
    r0 = res["rows"][0]
    assert (r0["size"], r0["count"], r0["type"], r0["redop"], r0["oop_busbw"]) == first
    assert res["avg_busbw_gbps"] == avg and res["out_of_bounds"] == oob
    # the truncated capture has no footer: that is an error, never a silent pass
    assert (res["error"] is None) == (avg is not None)


def test_perf_table_mpi_prefix_and_failed_run():
    text = "".join("[1,0]<stdout>:" + ln + "\n"
                   for ln in fixture("nt_allgather_2.18.0.txt").splitlines())
    assert enflame.parse_perf_table(0, text, "")["avg_busbw_gbps"] == 1.27827
    res = enflame.parse_perf_table(1, "", "ECCL error: device 6 unavailable\n")
    assert res["error"] and "device 6 unavailable" in res["error"]
