"""Inventory validation rules (plugins/plugin_utils/inventory.py)."""
import pytest

from ansible_collections.npu.cluster.plugins.plugin_utils.inventory import inventory_problems


def groups(**kw):
    base = {"all": [], "ungrouped": []}
    base.update(kw)
    return base


GOOD = groups(npu_nodes=["n0", "n1"], ascend_a3=["n0", "n1"])
GOOD_VARS = {"n0": {"npu_cluster_serving_ip": "10.0.0.1"},
             "n1": {"npu_cluster_serving_ip": "10.0.0.2"}}


def test_valid_inventory_has_no_problems():
    assert inventory_problems(GOOD, GOOD_VARS) == []


@pytest.mark.parametrize("grp,hv,expect", [
    (groups(), {}, "inventory has no hosts in group 'npu_nodes'"),
    (groups(npu_nodes=["n0"]), {}, "n0: in no hardware group"),
    (groups(npu_nodes=["n0"], ascend_a2=["n0"], ascend_a3=["n0"]), {},
     "n0: in several hardware groups (ascend_a2, ascend_a3)"),
    (groups(npu_nodes=["n0", "n1"], ascend_a2=["n0"], ascend_a3=["n1"]), {},
     "hardware groups ascend_a2, ascend_a3 are mixed in one cluster"),
    (groups(npu_nodes=["n0"], ascend_a2=["n0", "x"]), {}, "x: in a hardware group but not in"),
    (GOOD, {"n0": {"npu_cluster_serving_ip": "127.0.0.1"}},
     "n0: npu_cluster_serving_ip=127.0.0.1 is a loopback address; it must be the address "
     "other nodes reach this one on"),
    (GOOD, {"n0": {"npu_cluster_serving_ip": "10.0.0.300"}},
     "n0: npu_cluster_serving_ip='10.0.0.300' is not an IP address"),
    (GOOD, {"n0": {"npu_cluster_serving_ip": "10.0.0.5"},
            "n1": {"npu_cluster_serving_ip": "10.0.0.5"}},
     "n1: npu_cluster_serving_ip=10.0.0.5 is also n0's"),
    (dict(GOOD, prefill=["n0"], decode=["n0"]), GOOD_VARS, "n0: in both 'prefill' and 'decode'"),
    (dict(GOOD, decode=["zz"]), GOOD_VARS, "zz: in group 'decode' but not in 'npu_nodes'"),
], ids=["empty", "no-hw-group", "two-hw-groups", "mixed-series", "hw-not-node", "loopback-ip",
        "bad-ip", "dup-ip", "prefill-and-decode", "role-not-node"])
def test_problems(grp, hv, expect):
    problems = inventory_problems(grp, hv)
    assert any(p.startswith(expect) for p in problems), problems


def test_mixed_series_allowed_on_request():
    grp = groups(npu_nodes=["n0", "n1"], ascend_a2=["n0"], ascend_a3=["n1"])
    assert inventory_problems(grp, {}, allow_mixed_series=True) == []
