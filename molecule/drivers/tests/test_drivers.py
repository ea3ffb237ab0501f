"""What the driver roles left on the nodes (converge, then side_effect's upgrades)."""
import json
import re


def kv(host, path):
    text = host.file(path).content_string
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def is_ascend(host):
    return host.backend.get_hostname() == "molecule-drv-a2"


def test_ascend_versions_files_and_records(host):
    if not is_ascend(host):
        return
    assert kv(host, "/usr/local/Ascend/driver/version.info")["Version"] == "25.5.0"
    assert kv(host, "/usr/local/Ascend/firmware/version.info")["Version"] == "7.8.0.1.100"
    toolkit = "/usr/local/Ascend/ascend-toolkit/latest/x86_64-linux/ascend_toolkit_install.info"
    assert kv(host, toolkit)["version"] == "8.3.RC1"
    assert kv(host, "/usr/local/Ascend/nnal/atb/latest/version.info")["version"] == "8.3.RC1"
    info = kv(host, "/etc/ascend_install.info")
    assert (info["UserName"], info["UserGroup"], info["Driver_Install_Status"]) == (
        "HwHiAiUser", "HwHiAiUser", "complete")
    assert host.user("HwHiAiUser").group == "HwHiAiUser"


def test_ascend_driver_runs_after_one_reboot(host):
    if not is_ascend(host):
        return
    smi = host.run("npu-smi info")
    assert smi.rc == 0 and re.search(r"Version:\s*25\.5\.0", smi.stdout)
    assert host.run("test -c /dev/davinci7").rc == 0
    state = json.loads(host.file("/etc/npu-lab/state.json").content_string)
    assert not state.get("pending") and state["versions"]["firmware"] == "7.8.0.1.100"


def test_ascend_install_order_from_the_installers_log(host):
    """First install driver -> firmware -> CANN; the upgrade firmware -> driver; the refused
    packages (wrong digest, wrong architecture) never installed anything."""
    if not is_ascend(host):
        return
    log = host.file("/var/log/ascend_seclog/ascend_install.log").content_string
    done = [m.group(0) for m in re.finditer(
        r"Driver package (installed successfully|upgrade finished)|Firmware package installed "
        r"successfully|Ascend-cann-\w+ install success", log)]
    assert done == ["Driver package installed successfully", "Firmware package installed "
                    "successfully", "Ascend-cann-toolkit install success",
                    "Ascend-cann-kernels install success", "Ascend-cann-nnal install success",
                    "Firmware package installed successfully", "Driver package upgrade finished"]
    assert log.count("Arch mismatch, src package is aarch64, cur os is x86_64") == 1
    assert "[INFO]Start time" in log and log.count("Driver package has been installed") == 0


def test_enflame_upgraded_and_modules_loaded(host):
    if is_ascend(host):
        return
    efsmi = host.run("efsmi")
    assert efsmi.rc == 0 and "Driver Ver: 1.5.0.100" in efsmi.stdout
    assert host.file("/opt/tops/version.txt").content_string == "TopsPlatform 1.5.0.100\n"
    lsmod = host.run("lsmod").stdout
    assert re.search(r"^enflame\s+\d+\s+1 enflame_peer_mem$", lsmod, re.M)
    assert re.search(r"^enflame_peer_mem\s", lsmod, re.M)
    assert host.run("test -c /dev/gcu7").rc == 0


def test_ascend_package_from_the_controller_was_staged(host):
    if not is_ascend(host):
        return
    staged = host.file("/var/tmp/npu-cluster/packages/Ascend-cann-toolkit_8.3.RC1_linux-x86_64.run")
    assert staged.exists and staged.mode == 0o600
    assert host.file("/var/tmp/npu-cluster/packages").mode == 0o700
