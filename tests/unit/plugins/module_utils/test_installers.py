"""Driver installers: version reading, order, argv and what each exit code and output means,
against the installers' real output (fixtures/, from shared/reference/tool-output-formats.md
§15.4) and every failure form the reference lists."""
from pathlib import Path

import pytest

from ansible_collections.npu.cluster.plugins.module_utils import ascend_install as ai
from ansible_collections.npu.cluster.plugins.module_utils import enflame_install as ei

FIX = Path(__file__).parent / "fixtures"
DRV = "/p/Ascend-hdk-910b-npu-driver_25.3.rc1_linux-x86_64.run"
FW = "/p/Ascend-hdk-910b-npu-firmware_7.7.0.6.236.run"
TK = "/p/Ascend-cann-toolkit_8.3.RC1_linux-x86_64.run"
SHA = "a" * 64


def fixture(name):
    return (FIX / name).read_text()


# ------------------------------------------------------------------ versions and names


@pytest.mark.parametrize("name,version", [
    ("Ascend-hdk-910b-npu-driver_25.3.rc1_linux-aarch64.run", "25.3.rc1"),
    ("Ascend-hdk-910-npu-driver_23.0.rc1_linux-aarch64.run", "23.0.rc1"),
    ("Ascend-hdk-910b-npu-firmware_7.7.0.6.236.run", "7.7.0.6.236"),
    ("Ascend-cann-toolkit_8.3.RC1_linux-x86_64.run", "8.3.RC1"),
    ("Ascend-cann-kernels-910b_8.3.RC1_linux-x86_64.run", "8.3.RC1"),
    ("Ascend-cann-kernels-910b_8.1.RC1_linux.run", "8.1.RC1"),
    ("Ascend-cann-nnal_8.1.RC1_linux-aarch64.run", "8.1.RC1"),
    ("driver.run", None),
])
def test_version_from_name(name, version):
    assert ai.version_from_name("/x/" + name) == version


def files(mapping):
    return mapping.get


INSTALLED = files({
    "/usr/local/Ascend/driver/version.info": "Version=23.0.7\nascendhal_version=7.35.19\n"
                                             "package_version=23.0.7\n",
    "/usr/local/Ascend/firmware/version.info": "Version=7.1.0.11.220\nfirmware_version=1.0\n",
    "/usr/local/Ascend/ascend-toolkit/latest/aarch64-linux/ascend_toolkit_install.info":
        "package_name=Ascend-cann-toolkit\nversion=7.0.T10\n",
    "/etc/ascend_install.info": "UserName=HwHiAiUser\nUserGroup=HwHiAiUser\n"
                                "Driver_Install_Status=complete\n",
})


def test_installed_reads_the_real_version_files():
    got = ai.installed(INSTALLED, arch="aarch64")
    assert got == {"driver": "23.0.7", "firmware": "7.1.0.11.220", "toolkit": "7.0.T10",
                   "kernels": None, "nnal": None, "install_user": "HwHiAiUser",
                   "install_group": "HwHiAiUser", "driver_complete": True}
    assert ai.installed(files({}))["driver"] is None
    cann9 = files({"/usr/local/Ascend/cann/aarch64-linux/ascend_ops_install.info":
                   "package_name=Ascend-cann-910b-ops\nversion=9.1.0\n"})
    own = {"kernels": {"version_file": "/usr/local/Ascend/cann/aarch64-linux/"
                                       "ascend_ops_install.info"}}
    assert ai.installed(cann9, arch="aarch64", packages=own)["kernels"] == "9.1.0"


# ------------------------------------------------------------------ order and plan


def pkgs(*names):
    table = {"driver": DRV, "firmware": FW, "toolkit": TK,
             "kernels": "/p/Ascend-cann-kernels-910b_8.3.RC1_linux-x86_64.run",
             "nnal": "/p/Ascend-cann-nnal_8.3.RC1_linux-x86_64.run"}
    return ai.normalise({n: {"path": table[n], "sha256": SHA} for n in names})


def test_first_install_is_driver_then_firmware_then_cann():
    steps = ai.plan(pkgs("nnal", "toolkit", "firmware", "driver", "kernels"), {})
    assert [(s["component"], s["action"]) for s in steps] == [
        ("driver", "install"), ("firmware", "install"), ("toolkit", "install"),
        ("kernels", "install"), ("nnal", "install")]


def test_upgrade_is_firmware_then_driver_and_skips_what_is_there():
    current = {"driver": "25.2.0", "firmware": "7.7.0.6.236", "toolkit": "8.3.RC1"}
    steps = ai.plan(pkgs("driver", "firmware", "toolkit"), current)
    assert [(s["component"], s["action"], s["from"], s["to"]) for s in steps] == [
        ("firmware", "none", "7.7.0.6.236", "7.7.0.6.236"),
        ("driver", "upgrade", "25.2.0", "25.3.rc1"),
        ("toolkit", "none", "8.3.RC1", "8.3.RC1")]
    forced = ai.plan(pkgs("toolkit"), current, force=True)
    assert forced[0]["action"] == "reinstall"


def test_uninstall_is_cann_first_then_driver_and_firmware():
    current = {"driver": "25.3.rc1", "firmware": "7.7.0.6.236", "toolkit": "8.3.RC1"}
    steps = ai.plan(pkgs("driver", "firmware", "toolkit", "nnal"), current, state="absent")
    assert [(s["component"], s["action"]) for s in steps] == [
        ("nnal", "none"), ("toolkit", "uninstall"), ("driver", "uninstall"),
        ("firmware", "uninstall")]


def test_argv_always_quiet_and_never_a_shell_string():
    step = {"component": "driver", "action": "install", "path": DRV}
    assert ai.argv(step, user="HwHiAiUser", group="HwHiAiUser") == [
        "bash", DRV, "--full", "--quiet", "--nox11", "--install-username=HwHiAiUser",
        "--install-usergroup=HwHiAiUser"]
    up = dict(step, action="upgrade")
    assert ai.argv(up, "/opt/Ascend", "u", "g", True) == [
        "bash", DRV, "--upgrade", "--quiet", "--nox11", "--install-path=/opt/Ascend"]
    cann = {"component": "toolkit", "action": "install", "path": TK}
    assert ai.argv(cann, for_all=True) == ["bash", TK, "--install", "--quiet", "--nox11",
                                           "--install-for-all"]


def test_uninstall_uses_the_packages_own_scripts():
    exists = {"/usr/local/Ascend/driver/script/uninstall.sh"}.__contains__
    assert ai.uninstall_argv("driver", "/usr/local/Ascend", exists) == [
        "bash", "/usr/local/Ascend/driver/script/uninstall.sh"]
    assert ai.uninstall_argv("firmware", "/usr/local/Ascend", exists) is None
    assert ai.uninstall_argv("toolkit", "/usr/local/Ascend", exists, TK) == [
        "bash", TK, "--uninstall", "--quiet", "--nox11"]


# ------------------------------------------------------------------ inputs and files


def test_package_problems_in_plain_words():
    assert ai.check_packages({"driver": {"path": DRV, "sha256": SHA}}) == []
    problems = ai.check_packages({"drivr": {"path": DRV}, "firmware": {"sha256": SHA},
                                  "toolkit": {"path": "/p/cann.run", "sha256": "xyz"}})
    assert problems == [
        "unknown package 'drivr' (known: driver, firmware, toolkit, kernels, nnal)",
        "package firmware needs a path (the .run file on the node)",
        "package toolkit (/p/cann.run) needs its sha256 (64 hex digits), got 'xyz'",
        "package toolkit: no version given and none in the file name /p/cann.run"]
    assert ai.check_packages({"driver": {"path": DRV}}, state="absent") == []


def test_sha256_mismatch_names_the_file_and_both_digests():
    steps = ai.plan(pkgs("driver", "firmware"), {})
    bad = ai.verify_files(steps, pkgs("driver", "firmware"), lambda p: p == DRV,
                          lambda p: "b" * 64)
    assert bad == ["package driver: %s has sha256 %s, the inventory says %s (a corrupt or "
                   "wrong file)" % (DRV, "b" * 64, SHA),
                   "package firmware: %s does not exist on this node" % FW]
    staged = dict(pkgs("driver", "firmware"))
    staged["firmware"] = dict(staged["firmware"], staged=True)
    assert ai.verify_files(steps, staged, lambda p: False, None, check_mode=True) == [
        "package driver: %s does not exist on this node" % DRV]


def test_owner_change_is_refused_before_running():
    steps = ai.plan(pkgs("driver"), {"driver": "25.3.rc1"}, force=True)
    current = {"driver": "25.3.rc1", "install_user": "root", "install_group": "root"}
    msg = ai.owner_problem(steps, current, "HwHiAiUser", "HwHiAiUser")
    assert "belong to root:root" in msg and "0x0095" in msg
    assert ai.owner_problem(steps, current, "root", "root") is None


# ------------------------------------------------------------------ what the installers said


@pytest.mark.parametrize("component,rc,out,err,expect", [
    ("driver", 0, "install_driver_23.0.rc1_la.stdout", None, (True, False, None)),
    ("driver", 0, "install_driver_25.0.rc1.1_root_a2blog.stdout", None, (True, False, None)),
    ("firmware", 0, "install_firmware_23.0.rc1_la.stdout", None, (True, True, None)),
    ("driver", 2, "install_driver_modules_busy.stdout", None, (True, True, None)),
    ("driver", 2, None, "makeself_bad_sha256.stderr",
     (False, False, "the package is corrupt (the installer's own check: Error in SHA256 "
                    "checksums: f17cf15295cc6e56dbcaa43654b7975fadb6cbe1df9496794a891b03fbf5b7ed"
                    " is different from 9e5e3f2ac19c46d82fc8e4a605711a324702e0ac14448e9ab8b5a49"
                    "bf2697324)")),
    ("driver", 1, "install_driver_arch_mismatch.stdout", None,
     (False, False, "exit 1: Arch mismatch, src package is aarch64, cur os is x86_64")),
    ("driver", 1, "install_driver_no_user.stdout", None,
     (False, False, "exit 1: ERR_NO:0x0091;ERR_DES:HwHiAiUser not exists! Please add "
                    "HwHiAiUser")),
    ("driver", 1, "install_driver_failed.stdout", None,
     (False, False, "exit 1: [Driver] [2025-07-17 10:35:21] [INFO]Failed to install driver "
                    "package, please retry after uninstall and reboot!")),
    ("firmware", 2, "install_driver_modules_busy.stdout", None,
     (False, False, "exit 2: [Driver] [2025-07-17 10:35:21] [WARNING]Kernel modules can not be "
                    "removed, reboot needed for installation/upgrade to take effect!")),
])
def test_classify(component, rc, out, err, expect):
    got = ai.classify(component, rc, fixture(out) if out else "", fixture(err) if err else "")
    assert (got["ok"], got["reboot_required"], got["message"]) == expect


def test_apply_stops_at_the_first_failure_and_never_runs_in_check_mode():
    steps = ai.plan(pkgs("driver", "firmware", "toolkit"), {})
    ran = []

    def run(argv):
        ran.append(argv[1])
        if argv[1] == FW:
            return 1, fixture("install_driver_no_user.stdout"), ""
        return 0, fixture("install_driver_23.0.rc1_la.stdout"), ""

    res = ai.apply(steps, run, lambda p: False)
    assert ran == [DRV, FW] and res["failed"] and res["changed"]
    assert res["message"].startswith("firmware install of %s failed: exit 1: ERR_NO:0x0091" % FW)
    ran.clear()
    res = ai.apply(steps, run, lambda p: False, check_mode=True)
    assert ran == [] and res["changed"] and not res["failed"]
    assert [r["argv"][2] for r in res["results"]] == ["--full", "--full", "--install"]


def test_apply_reports_one_reboot_for_the_firmware():
    steps = ai.plan(pkgs("driver", "firmware"), {})
    outputs = {DRV: fixture("install_driver_23.0.rc1_la.stdout"),
               FW: fixture("install_firmware_23.0.rc1_la.stdout")}
    res = ai.apply(steps, lambda argv: (0, outputs[argv[1]], ""), lambda p: False)
    assert res["reboot_required"] and [r["reboot_required"] for r in res["results"]] == [
        False, True]


# ------------------------------------------------------------------ Enflame


def test_enflame_installed_version_sysfs_then_efsmi():
    assert ei.installed_version("1.0.20230110\n", None, None, None) == ("1.0.20230110", "sysfs")
    efsmi = fixture("efsmi_1.4.0.505_vg.txt")
    version, source = ei.installed_version(None, 0, efsmi, "")
    assert source == "efsmi" and version
    assert ei.installed_version("", 1, "", "efsmi: no Enflame device found") == (None, None)
    assert ei.version_from_name("/d/TopsPlatform_1.4.4.501_deb_amd64.run") == "1.4.4.501"
    assert ei.version_from_name("/d/TopsPlatform_x_deb_amd64.run") is None


@pytest.mark.parametrize("rc,err,verdict", [
    (0, "", "unloaded"),
    (1, "rmmod: ERROR: Module enflame_peer_mem is not currently loaded\n", "not_loaded"),
    (1, "rmmod: ERROR: Module enflame is in use by: enflame_peer_mem\n", "busy"),
    (1, "rmmod: ERROR: Module enflame is in use\n", "busy"),
    (1, "rmmod: ERROR: could not remove module enflame: Operation not permitted\n", "error"),
])
def test_rmmod_results(rc, err, verdict):
    assert ei.unload_result("enflame", rc, err) == verdict


def test_holders_come_from_proc_fd_links():
    tree = {"/proc": ["1", "42", "self", "77"], "/proc/1/fd": ["0"], "/proc/42/fd": ["3", "4"],
            "/proc/77/fd": []}
    links = {"/proc/1/fd/0": "/dev/null", "/proc/42/fd/3": "/dev/gcu2",
             "/proc/42/fd/4": "/dev/gcu0"}

    def listdir(path):
        if path not in tree:
            raise OSError(path)
        return tree[path]

    got = ei.holders("/proc", listdir, links.__getitem__, {"/proc/42/comm": "python3\n"}.get)
    assert got == [{"pid": 42, "command": "python3", "device": "/dev/gcu0"},
                   {"pid": 42, "command": "python3", "device": "/dev/gcu2"}]
    msg = ei.busy_message("gcu-node-0", "enflame", got, "")
    assert msg.startswith("gcu-node-0: kernel module enflame cannot be unloaded for the "
                          "TopsPlatform install: process 42 (python3) holds /dev/gcu0, process "
                          "42 (python3) holds /dev/gcu2.")


def test_an_installed_driver_that_does_not_run_yet_needs_a_reboot():
    table = fixture("npu_smi_info_a2_910b3_25.3.rc1_procs.txt")
    running = ai.running_driver(0, table, "")
    assert running == {"driver": "25.3.rc1", "error": None}
    assert not ai.pending_reboot({"driver": "25.3.rc1"}, running)
    assert ai.pending_reboot({"driver": "25.5.0"}, running)
    assert not ai.pending_reboot({"driver": "25.5.0"}, running, check_mode=True, changed=True)
    failed = ai.running_driver(187, "", "dcmi module initialize failed. ret is -8005\n")
    assert failed["driver"] is None and failed["error"].startswith("npu-smi info failed (exit 187)")
    assert not ai.pending_reboot({"driver": "25.5.0"}, failed)
