"""The cluster's version table and a profile's required versions."""
from ansible_collections.npu.cluster.plugins.plugin_utils import versions


def drv(**v):
    return {"ascend_driver_report": {"versions": v}}


HV = {"n0": drv(driver="25.3.rc1", firmware="7.7.0.6.236", toolkit="8.3.RC1"),
      "n1": drv(driver="25.3.rc1", firmware="7.7.0.6.236", toolkit="8.3.RC1"),
      "n2": drv(driver="25.2.0", firmware="7.7.0.6.236", toolkit="8.3.RC1")}


def test_skew_names_the_node_and_both_versions():
    t = versions.table(HV, ["n0", "n1", "n2"])
    assert t["columns"] == ["driver", "firmware", "toolkit"]
    assert t["problems"] == ["n2: driver 25.2.0 differs from the cluster's 25.3.rc1"]
    assert not t["passed"] and versions.table(HV, ["n0", "n1", "n2"], True)["passed"]
    lines = versions.text(t)
    assert lines[0].split() == ["node", "driver", "firmware", "toolkit"]
    assert lines[3].split() == ["n2", "25.2.0", "*", "7.7.0.6.236", "8.3.RC1"]
    assert lines[4] == "* differs from the cluster: " + t["problems"][0]


def test_missing_component_and_unread_nodes():
    hv = dict(HV, n2=drv(driver="25.3.rc1", firmware="7.7.0.6.236"), n3={})
    t = versions.table(hv, ["n0", "n1", "n2", "n3"])
    assert t["problems"] == ["n2: toolkit (not installed) differs from the cluster's 8.3.RC1"]
    assert t["unread"] == ["n3"]
    assert versions.text(t)[-1] == ("? not read (the drivers play failed or did not run "
                                    "there): n3")


def test_fabric_facts_when_the_driver_role_did_not_run():
    hv = {"g0": {"ansible_facts": {"gcu": {"versions": {"driver": "1.4.4.501"}}}},
          "a0": {"ansible_facts": {"npu": {"versions": {"driver": "25.3.rc1", "cann": "8.3.RC1",
                                                        "firmware": "7.7.0.6.236"}}}}}
    assert versions.node_versions(hv["g0"]) == {"topsplatform": "1.4.4.501"}
    assert versions.node_versions(hv["a0"])["toolkit"] == "8.3.RC1"


def test_requirements_name_node_and_both_versions():
    assert versions.requirement_problems({"cann": "8.3.RC1"}, HV, ["n0", "n1"]) == []
    assert versions.requirement_problems({"driver": ["25.3.rc1", "25.5.0"]}, HV,
                                         ["n0", "n2", "nx"]) == [
        "n2: driver 25.2.0, but the profile's image needs driver 25.3.rc1 or 25.5.0"]
    assert versions.requirement_problems({"cuda": "12"}, HV, ["n0"])[0].startswith(
        "profile requires unknown component 'cuda'")


def test_a_tie_names_every_node():
    t = versions.table(HV, ["n0", "n2"])
    assert t["problems"] == ["driver differs between the nodes and no version is the majority: "
                             "n0 25.3.rc1, n2 25.2.0"]
    assert t["skew"][0]["common"] is None
    lines = versions.text(t)
    assert lines[1].split()[:3] == ["n0", "25.3.rc1", "*"]
    assert lines[2].split()[:3] == ["n2", "25.2.0", "*"]
