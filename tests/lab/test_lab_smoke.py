"""Lab smoke test: a3x2 up, Ansible reaches the nodes, a real cross-node NPU ping, a fault
that makes it fail for real, reset, and a shutdown that removes exactly what the lab made."""
import re

import pytest

from conftest import sh, why


@pytest.fixture(scope="module")
def a3(lab_factory):
    return lab_factory("a3x2")


def device_ip(lab, node, dev):
    out = lab.exec(node, "hccn_tool", "-i", str(dev), "-ip", "-g", check=True).stdout
    return re.match(r"ipaddr:(\S+)", out).group(1)


def test_ansible_ad_hoc_ping_reaches_both_nodes(a3):
    res = a3.ansible("npu_nodes", "-m", "ansible.builtin.ping")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("SUCCESS") == 2


def test_site_yml_preflight_passes_on_the_lab(a3):
    res = a3.deploy()
    assert res.ok, why(res, 3000)
    assert "a3-node-1: 16 devices (ascend_a3)" in res.output()
    assert "NPU-CLUSTER RUN SUMMARY" in res.output()


def test_cross_node_roce_ping_fault_and_reset(a3):
    peer = device_ip(a3, 1, 0)
    ok = a3.exec(0, "hccn_tool", "-i", "0", "-ping", "-g", "address", peer)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "3 packets transmitted, 3 received, 0.00% packet loss" in ok.stdout

    a3.npu_lab("fault", "a3-node-1", "link-down", "0")
    assert a3.exec(1, "hccn_tool", "-i", "0", "-link", "-g").stdout == "link status: DOWN\n"
    bad = a3.exec(0, "hccn_tool", "-i", "0", "-ping", "-g", "address", peer)
    assert bad.returncode == 1
    assert "3 packets transmitted, 0 received, 100.00% packet loss" in bad.stdout
    assert bad.stderr == "Command execute failed!\n"

    a3.npu_lab("reset")
    again = a3.exec(0, "hccn_tool", "-i", "0", "-ping", "-g", "address", peer)
    assert again.returncode == 0, again.stdout


def test_cross_node_hccs_ping_and_unreachable_peer(a3):
    vnic = a3.exec(1, "hccn_tool", "-i", "3", "-vnic", "-g", check=True).stdout
    target = re.search(r"vnic ipaddr: (\S+)", vnic).group(1)
    assert target == "192.1.3.196"
    ok = a3.exec(0, "hccn_tool", "-i", "3", "-hccs_ping", "-g", "address", target)
    assert "3 packets transmitted, 3 received, 0.00% packets loss" in ok.stdout
    a3.npu_lab("fault", "1", "unreachable", "3")
    bad = a3.exec(0, "hccn_tool", "-i", "3", "-hccs_ping", "-g", "address", target)
    assert bad.returncode == 0  # hccs_ping exits 0 even with loss, like the real tool
    assert "3 packets transmitted, 0 received, 100.00% packets loss" in bad.stdout
    a3.npu_lab("reset")


def test_packet_loss_fault_loses_some_packets(a3):
    peer = device_ip(a3, 1, 4)
    a3.npu_lab("fault", "a3-node-1", "loss", "4", "60")
    received = 0
    for _attempt in range(5):
        out = a3.exec(0, "hccn_tool", "-i", "4", "-ping", "-g", "address", peer).stdout
        received += int(re.search(r"transmitted, (\d+) received", out).group(1))
    a3.npu_lab("reset")
    assert received < 15


def test_node_tools_and_own_dockerd(a3):
    res = a3.exec(0, "sh", "-c", "ls /dev/davinci* | wc -l; docker info --format "
                                 "'{{.ServerVersion}}'; npu-smi info -t spod-info -i 0 -c 1")
    lines = res.stdout.splitlines()
    assert lines[0] == "17"  # davinci0..15 + davinci_manager
    assert lines[1]
    assert "SDID                           : 65537" in res.stdout


@pytest.mark.parametrize("shape,devices,group", [("a2x2", 8, "ascend_a2"),
                                                 ("gcux4", 8, "enflame_gcu"),
                                                 ("a3x8", 16, "ascend_a3")])
def test_other_shapes_come_up_and_pass_preflight(lab_factory, shape, devices, group):
    lab = lab_factory(shape)
    res = lab.deploy()
    assert res.ok, why(res, 3000)
    assert res.output().count("%d devices (%s)" % (devices, group)) == len(lab.nodes)
    if shape == "a3x8":
        inv = lab.inventory.read_text()
        assert "prefill:" in inv and "decode:" in inv
    if shape == "gcux4":
        out = lab.exec(3, "efsmi", check=True).stdout
        assert out.count("Enflame S60") == 8
    lab.down()
    assert sh("docker", "ps", "-aq", "--filter", "label=npu-lab.cluster=" + lab.name).stdout == ""


def test_down_removes_exactly_what_the_lab_made(lab_factory):
    bystander = "npu-lab-bystander-net"
    sh("docker", "network", "create", "--internal", bystander)
    sh("docker", "volume", "create", "npu-lab-bystander-vol")
    try:
        lab = lab_factory("a2x2")
        name = lab.name
        assert lab.inventory.exists()
        lab.down()
        for kind in ("ps -aq", "network ls -q", "volume ls -q"):
            left = sh("docker", *kind.split(), "--filter", "label=npu-lab.cluster=" + name)
            assert left.stdout.strip() == "", kind
        assert not lab.inventory.exists()
        assert sh("docker", "network", "inspect", bystander, check=False).returncode == 0
        assert sh("docker", "volume", "inspect", "npu-lab-bystander-vol",
                  check=False).returncode == 0
    finally:
        sh("docker", "network", "rm", bystander, check=False)
        sh("docker", "volume", "rm", "npu-lab-bystander-vol", check=False)
