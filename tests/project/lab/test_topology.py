"""Lab planning: shapes, address plan, node state and inventory."""
import ipaddress

import pytest

from npu_cluster.lab import topology


@pytest.mark.parametrize("shape,series,nodes,groups", [
    ("a2x2", "a2", 2, {}), ("a3x2", "a3", 2, {}), ("gcux4", "gcu", 4, {}),
    ("a3x8", "a3", 8, {"prefill": [0, 1, 2, 3], "decode": [4, 5, 6, 7]}),
    ("a2x60", "a2", 60, {}),
])
def test_shapes(shape, series, nodes, groups):
    assert topology.parse_shape(shape) == {"series": series, "nodes": nodes, "groups": groups}


@pytest.mark.parametrize("shape", ["a4x2", "a3x0", "a3x61", "a3", "", "A3x2"])
def test_bad_shapes(shape):
    with pytest.raises(topology.ShapeError):
        topology.parse_shape(shape)


def test_planes_do_not_overlap_and_docker_range_avoids_devices():
    planes = topology.planes(201)
    nets = [ipaddress.ip_network(p["subnet"]) for p in planes.values()]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
    for p in planes.values():
        assert ipaddress.ip_network(p["ip_range"]).subnet_of(ipaddress.ip_network(p["subnet"]))
    roce_range = ipaddress.ip_network(planes["roce"]["ip_range"])
    for node in range(topology.MAX_NODES):
        for dev in range(16):
            ip = ipaddress.ip_address(topology.device_ip(201, node, dev))
            assert ip in ipaddress.ip_network(planes["roce"]["subnet"])
            assert ip not in roce_range
            vnic = ipaddress.ip_address(topology.vnic_lab_ip(201, node, dev))
            assert vnic in ipaddress.ip_network(planes["hccs"]["subnet"])


def test_a3_state_vnic_and_sdid():
    state = topology.node_state("c", "a3x2", 200, 1)
    assert len(state["devices"]) == 16
    dev5 = state["devices"][5]
    assert (dev5["npu_id"], dev5["chip_id"]) == (2, 1)
    assert dev5["vnic"]["ip"] == "192.1.3.194"
    assert dev5["sdid"] == (1 << 22) | (2 << 18) | (1 << 16) | 5
    assert set(state["networks"]) == {"mgmt", "roce", "hccs"}


def test_a2_state_has_no_hccs_plane_or_vnic():
    state = topology.node_state("c", "a2x2", 200, 0)
    assert set(state["networks"]) == {"mgmt", "roce"}
    assert all("vnic" not in d for d in state["devices"])
    ports = [d["lldp"]["port"] for d in state["devices"]]
    assert len(set(ports)) == 8


def test_inventory_groups_and_connection():
    inv = topology.inventory("lab", "a3x8", 200, ["c%d" % i for i in range(8)])
    nodes = inv["all"]["children"]["npu_nodes"]
    assert nodes["vars"]["ansible_connection"] == "community.docker.docker"
    assert set(nodes["children"]) == {"ascend_a3", "prefill", "decode"}
    hosts = nodes["children"]["ascend_a3"]["hosts"]
    assert hosts["a3-node-3"]["ansible_host"] == "c3"
    assert hosts["a3-node-3"]["npu_cluster_serving_ip"] == "10.200.63.13"
    assert list(nodes["children"]["decode"]["hosts"]) == ["a3-node-%d" % i for i in range(4, 8)]
