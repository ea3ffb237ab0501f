"""The lab's simulated .run installers on a bare node (a temp root, no Docker): they behave as
the real ones the reference describes -- options, pre-checks and their ERR_NO codes, the
prompt that waits on stdin without --quiet, version files and records, exit 0 / 1 / 2."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from npu_cluster.lab import packages, topology

SIM = Path(__file__).resolve().parents[3] / "lab" / "sim" / "npulab_sim.py"


@pytest.fixture
def bare(tmp_path, make_node):
    node = make_node("root", topology.node_state("t", "a2x2", 200, 0, bare=True))
    client = node.root / "usr/local/lib/npu-lab/npulab-client"
    client.parent.mkdir(parents=True, exist_ok=True)
    client.write_text("#!/bin/sh\n")
    (node.root / "dev").mkdir()
    node.pkgs = packages.write(tmp_path / "pkgs", "a2", seconds=0)
    return node


def users(node, *names):
    (node.root / "etc/passwd").write_text("".join("%s:x:%d:%d::/home/%s:/bin/bash\n" % (
        n, 1000 + i, 1000 + i, n) for i, n in enumerate(names)))
    (node.root / "etc/group").write_text("".join("%s:x:%d:\n" % (n, 1000 + i)
                                                 for i, n in enumerate(names)))


def run(node, kind, *args, timeout=20, path=None):
    env = dict(os.environ, NPU_LAB_ROOT=str(node.root), NPU_LAB_STATE=str(node.state_file),
               NPU_LAB_SIM=str(SIM), LC_ALL="C")
    try:
        res = subprocess.run(["bash", path or node.pkgs[kind]["path"]] + list(args), env=env,
                             capture_output=True, text=True, stdin=subprocess.DEVNULL,
                             timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return 124, (exc.stdout or b"").decode(), ""
    return res.returncode, res.stdout, res.stderr


def kv(path):
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_bare_node_has_no_driver_files():
    state = topology.node_state("t", "a2x2", 200, 0, bare=True)
    assert topology.version_files(state) == {}
    assert state["driver_loaded"] is False and state["versions"] == {}


def test_driver_refuses_without_the_install_user(bare):
    rc, out, _err = run(bare, "driver", "--full", "--quiet")
    assert rc == 1
    assert "[ERROR]ERR_NO:0x0091;ERR_DES:HwHiAiUser not exists! Please add HwHiAiUser" in out
    assert not (bare.root / "usr/local/Ascend/driver/version.info").exists()


def test_first_install_driver_then_firmware_then_cann(bare):
    users(bare, "HwHiAiUser")
    rc, out, _err = run(bare, "firmware", "--full", "--quiet")
    assert rc == 1 and "install the driver package first" in out
    rc, out, _err = run(bare, "driver", "--full", "--quiet", "--nox11")
    assert rc == 0, out
    assert "Driver package installed successfully! The new version takes effect immediately. \n" \
        in out
    assert kv(bare.root / "usr/local/Ascend/driver/version.info")["Version"] == "25.3.rc1"
    assert (bare.root / "usr/local/bin/npu-smi").exists()
    assert (bare.root / "dev/davinci7").exists() and (bare.root / "dev/davinci_manager").exists()
    rc, out, _err = run(bare, "firmware", "--full", "--quiet")
    assert rc == 0 and "Reboot now or after driver installation" in out
    assert bare.state()["pending"] == {"firmware": "7.7.0.6.236"}
    info = kv(bare.root / "etc/ascend_install.info")
    assert info["Driver_Install_Status"] == "complete" and info["UserName"] == "HwHiAiUser"
    assert info["Firmware_Install_Type"] == "full"
    rc, out, _err = run(bare, "kernels", "--install", "--quiet")
    assert rc == 1 and "needs Ascend-cann-toolkit" in out
    for kind in ("toolkit", "kernels", "nnal"):
        rc, out, _err = run(bare, kind, "--install", "--quiet")
        assert rc == 0 and "install success" in out
    assert kv(bare.root / "usr/local/Ascend/ascend-toolkit/latest/x86_64-linux/"
                          "ascend_toolkit_install.info")["version"] == "8.3.RC1"
    log = (bare.root / "var/log/ascend_seclog/ascend_install.log").read_text()
    assert log.index("Driver package installed successfully") < log.index(
        "Firmware package installed successfully") < log.index("Ascend-cann-toolkit install success")
    rc = bare.run("npu-lab-reboot").returncode
    assert rc == 0 and "pending" not in bare.state()
    assert bare.state()["versions"]["firmware"] == "7.7.0.6.236"


def test_installed_driver_without_quiet_prompts_and_waits(bare):
    users(bare, "HwHiAiUser")
    assert run(bare, "driver", "--full", "--quiet")[0] == 0
    rc, out, _err = run(bare, "driver", "--full", timeout=3)
    assert rc == 124
    assert ("[INFO]Driver package has been installed on the path /usr/local/Ascend, the version "
            "is 25.3.rc1, and the version of this package is 25.3.rc1,do you want to continue?"
            "  [y/n] ") in out


def test_upgrade_with_a_busy_device_needs_a_reboot(bare):
    users(bare, "HwHiAiUser")
    assert run(bare, "driver", "--full", "--quiet")[0] == 0
    newer = packages.write(bare.root.parent / "new", "a2", {"driver": "25.5.0"}, seconds=0)
    bare.edit(lambda s: s.update(processes=[{"npu_id": 0, "chip_id": 0, "pid": 4242,
                                             "name": "python3", "memory_mb": 3312}]))
    rc, out, _err = run(bare, "driver", "--upgrade", "--quiet", path=newer["driver"]["path"])
    assert rc == 2
    assert "[WARNING]Kernel modules can not be removed, reboot needed for installation/upgrade " \
        "to take effect!" in out
    assert bare.state()["versions"]["driver"] == "25.3.rc1"  # the old one still runs
    bare.run("npu-lab-reboot")
    assert bare.state()["versions"]["driver"] == "25.5.0"


@pytest.mark.parametrize("args,code,text", [
    (["--fulll"], 1, "ERR_NO:0x0004;ERR_DES:Unrecognized parameters: --fulll."),
    (["--install-for-all"], 1, "install-for-all param need used with full/debug/run/devel"),
    (["--full", "--install-username=ops"], 1,
     "--install-username and --install-usergroup need to be used together"),
])
def test_bad_options(bare, args, code, text):
    users(bare, "HwHiAiUser")
    rc, out, _err = run(bare, "driver", *args)
    assert rc == code and text in out


def test_wrong_architecture_and_corrupt_archive(bare):
    users(bare, "HwHiAiUser")
    arm = packages.write(bare.root.parent / "arm", "a2", {"driver": "25.3.rc1"}, arch="aarch64",
                         seconds=0)
    rc, out, _err = run(bare, "driver", "--full", "--quiet", path=arm["driver"]["path"])
    assert rc == 1 and "[ERROR]Arch mismatch, src package is aarch64, cur os is x86_64 " in out
    path = Path(bare.pkgs["driver"]["path"])
    path.write_bytes(path.read_bytes() + b"x")
    rc, _out, err = run(bare, "driver", "--full", "--quiet")
    assert rc == 2 and "Error in SHA256 checksums: " in err


def test_owner_of_an_install_cannot_change(bare):
    users(bare, "HwHiAiUser", "ops")
    assert run(bare, "driver", "--full", "--quiet")[0] == 0
    rc, out, _err = run(bare, "driver", "--full", "--quiet", "--install-username=ops",
                        "--install-usergroup=ops")
    assert rc == 1 and "ERR_NO:0x0095" in out


def test_uninstall_scripts(bare):
    users(bare, "HwHiAiUser")
    assert run(bare, "driver", "--full", "--quiet")[0] == 0
    script = bare.root / "usr/local/Ascend/driver/script/uninstall.sh"
    env = dict(os.environ, NPU_LAB_ROOT=str(bare.root), NPU_LAB_STATE=str(bare.state_file))
    text = script.read_text().replace("/usr/local/lib/npu-lab/npulab_sim.py", str(SIM))
    res = subprocess.run(["sh", "-c", text, "uninstall.sh"], env=env, capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0
    assert "Driver package uninstalled successfully! Reboot needed" in res.stdout
    assert not (bare.root / "usr/local/bin/npu-smi").exists()
    assert not (bare.root / "dev/davinci0").exists()


def test_topsplatform_needs_modules_unloaded(tmp_path, make_node):
    node = make_node("g", topology.node_state("t", "gcux2", 200, 0))
    client = node.root / "usr/local/lib/npu-lab/npulab-client"
    client.parent.mkdir(parents=True, exist_ok=True)
    client.write_text("#!/bin/sh\n")
    (node.root / "dev").mkdir()
    pkg = packages.write(tmp_path / "p", "gcu", {"topsplatform": "1.5.0.100"}, seconds=0)
    node.pkgs = pkg
    rc, out, _err = run(node, "topsplatform", "--no-auto-load", "--peermem", "-y")
    assert rc == 1 and "kernel module enflame_peer_mem is loaded" in out
    res = node.run("rmmod", "enflame")
    assert res.returncode == 1 and res.stderr == ("rmmod: ERROR: Module enflame is in use by: "
                                                  "enflame_peer_mem\n")
    assert node.run("rmmod", "enflame-peer-mem").returncode == 0
    assert node.run("rmmod", "enflame").returncode == 0
    assert node.run("rmmod", "enflame").stderr == ("rmmod: ERROR: Module enflame is not "
                                                   "currently loaded\n")
    assert node.run("efsmi").returncode == 1
    rc, out, _err = run(node, "topsplatform", "--no-auto-load", "--peermem", timeout=3)
    assert rc == 124 and "Do you want to continue? [y/n]" in out
    rc, out, _err = run(node, "topsplatform", "--no-auto-load", "--peermem", "-y")
    assert rc == 0, out
    assert node.state()["modules"] == ["enflame", "enflame_peer_mem"]
    res = node.run("efsmi")
    assert res.returncode == 0 and "Driver Ver: 1.5.0.100" in res.stdout


def test_packages_cli_writes_sums(tmp_path):
    res = subprocess.run([sys.executable, "-m", "npu_cluster.lab.cli", "packages", str(tmp_path),
                          "--series", "a3", "--set", "driver=25.5.0"], capture_output=True,
                         text=True, check=False, cwd=Path(__file__).resolve().parents[3])
    assert res.returncode == 0, res.stderr
    sums = (tmp_path / "SHA256SUMS").read_text()
    assert "Ascend-hdk-910c-npu-driver_25.5.0_linux-x86_64.run" in sums
    assert json.loads(json.dumps(res.stdout.split()))[0] == "driver"
