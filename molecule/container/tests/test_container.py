"""The serving container runs from the loaded lab image with our mounts and label (its NPU
devices are checked by the lab end-to-end tests)."""
import json


def inspect(host):
    return json.loads(host.check_output("docker inspect vllm-molecule"))[0]


def test_container_runs_with_label_devices_and_mounts(host):
    info = inspect(host)
    assert info["State"]["Running"] is True
    assert info["Config"]["Labels"]["org.npu-cluster.owner"] == "npu.cluster"
    assert info["Config"]["Labels"]["org.npu-cluster.profile"] == "molecule"
    assert info["HostConfig"]["NetworkMode"] == "host"
    assert info["HostConfig"]["Init"] is True
    assert {"Type": "bind", "Source": "/etc/hccn.conf", "Target": "/etc/hccn.conf",
            "ReadOnly": True} in info["HostConfig"]["Mounts"]


def test_the_image_came_from_the_tarball_and_runs_vllm(host):
    out = host.check_output("docker exec vllm-molecule vllm --version")
    assert out.strip() == "0.11.0"
    out = host.check_output("docker exec vllm-molecule cat /etc/hccn.conf")
    assert "address_0=10.0.0.1" in out
    assert host.file("/etc/npu-cluster/serving").is_directory
