# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Installing Ascend driver, firmware and CANN `.run` packages by version (runs on the node).

The installers are not idempotent (`--full` on an installed driver prompts on stdin unless
`--quiet`, then uninstalls and reinstalls even the same version), so nothing here runs a
package whose version is already installed unless forced.  Pure functions: what is installed
(from the version files), which packages to run in which order, each installer's argv, and
what its exit code and output mean; `apply` runs a plan through an injected runner.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.npu.cluster.plugins.module_utils.npu_smi import parse_info, parse_kv_file

# Where each component records its version, relative to the install path (default
# /usr/local/Ascend), and the key.  CANN 8: `latest` links to the installed release.
# The kernels and nnal record paths are the lab's reading of the CANN 8 layout; a release that
# keeps its record elsewhere (CANN 9's cann-<version>/ layout) is read from the package's own
# `version_file` (and `version_key`) in the packages option.
COMPONENTS = {
    "driver": ("driver/version.info", "Version"),
    "firmware": ("firmware/version.info", "Version"),
    "toolkit": ("ascend-toolkit/latest/{arch}-linux/ascend_toolkit_install.info", "version"),
    "kernels": ("ascend-toolkit/latest/opp_kernel/version.info", "version"),
    "nnal": ("nnal/atb/latest/version.info", "version"),
}
HDK = ("driver", "firmware")
CANN = ("toolkit", "kernels", "nnal")
UNINSTALL_SCRIPTS = {"driver": "driver/script/uninstall.sh",
                     "firmware": "firmware/script/uninstall.sh"}
INSTALL_LOG = "/var/log/ascend_seclog/ascend_install.log"
# Package file names: Ascend-hdk-910b-npu-driver_25.3.rc1_linux-aarch64.run,
# Ascend-hdk-910b-npu-firmware_7.7.0.6.236.run, Ascend-cann-toolkit_8.3.RC1_linux-x86_64.run
NAME_VERSION = re.compile(r"_(\d[0-9A-Za-z.]*?)(?:_linux(?:-[0-9A-Za-z_]+)?)?\.run$")
ERROR_LINE = re.compile(r"\[ERROR\]\s*(.*)")


def version_file(component, install_path="/usr/local/Ascend", arch="x86_64"):
    rel, key = COMPONENTS[component]
    return "%s/%s" % (install_path.rstrip("/"), rel.format(arch=arch)), key


def version_from_name(path):
    """The version in a package file name, or None."""
    m = NAME_VERSION.search(path.rsplit("/", 1)[-1])
    return m.group(1) if m else None


def installed(read, install_path="/usr/local/Ascend", arch="x86_64",
              install_info="/etc/ascend_install.info", packages=None):
    """{component: version or None, 'install_user', 'install_group', 'driver_complete'} from
    the version files (a package's own `version_file` / `version_key` first); `read(path)`
    returns a file's text or None."""
    result = {}
    for component in COMPONENTS:
        path, key = version_file(component, install_path, arch)
        own = (packages or {}).get(component) or {}
        path, key = own.get("version_file") or path, own.get("version_key") or key
        result[component] = parse_kv_file(read(path) or "").get(key) or None
    info = parse_kv_file(read(install_info) or "")
    result["install_user"] = info.get("UserName")
    result["install_group"] = info.get("UserGroup")
    result["driver_complete"] = info.get("Driver_Install_Status") == "complete"
    return result


SHA256 = re.compile(r"^[0-9a-f]{64}$")


def check_packages(packages, state="present"):
    """Problems with the `packages` option, in plain words (empty when it is usable)."""
    problems = []
    for component, pkg in sorted((packages or {}).items()):
        if component not in COMPONENTS:
            problems.append("unknown package %r (known: %s)" % (component, ", ".join(COMPONENTS)))
            continue
        if not isinstance(pkg, dict) or not pkg.get("path"):
            problems.append("package %s needs a path (the .run file on the node)" % component)
            continue
        if state == "present":
            digest = str(pkg.get("sha256") or "").lower()
            if not SHA256.match(digest):
                problems.append("package %s (%s) needs its sha256 (64 hex digits), got %r"
                                % (component, pkg["path"], pkg.get("sha256")))
            if not (pkg.get("version") or version_from_name(pkg["path"])):
                problems.append("package %s: no version given and none in the file name %s"
                                % (component, pkg["path"]))
    return problems


def normalise(packages):
    """{component: {'path', 'sha256', 'version'}} with the version from the file name when
    not given and the digest in lower case."""
    out = {}
    for component, pkg in (packages or {}).items():
        out[component] = {"path": pkg["path"], "sha256": str(pkg.get("sha256") or "").lower(),
                          "version": str(pkg.get("version") or version_from_name(pkg["path"])),
                          "staged": bool(pkg.get("staged")),
                          "version_file": pkg.get("version_file"),
                          "version_key": pkg.get("version_key")}
    return out


def verify_files(steps, packages, exists, digest_of, check_mode=False):
    """Before anything runs as root: every package that will run exists and has the sha256
    the inventory gives.  Returns problems naming the file and both digests.  In check mode a
    package the role stages from the controller (`staged`) is not there yet: not a problem."""
    problems = []
    for step in steps:
        if step["action"] in ("none", "uninstall"):
            continue
        path, want = step["path"], packages[step["component"]]["sha256"]
        if check_mode and packages[step["component"]].get("staged") and not exists(path):
            continue
        if not exists(path):
            problems.append("package %s: %s does not exist on this node" % (step["component"],
                                                                            path))
            continue
        have = digest_of(path)
        if have != want:
            problems.append("package %s: %s has sha256 %s, the inventory says %s (a corrupt or "
                            "wrong file)" % (step["component"], path, have, want))
    return problems


def owner_problem(steps, current, user, group):
    """The installers refuse to change the owner of an installed driver (error 0x0095):
    say so before running one."""
    if not user or not current.get("install_user"):
        return None
    runs = [s for s in steps
            if s["component"] in HDK and s["action"] in ("install", "reinstall")]
    if runs and (current["install_user"], current["install_group"]) != (user, group):
        return ("the installed driver and firmware belong to %s:%s and the installers refuse to "
                "change the owner (error 0x0095); install as %s:%s, or uninstall first "
                "(state absent)" % (current["install_user"], current["install_group"],
                                    current["install_user"], current["install_group"]))
    return None


def order(components, driver_installed, state="present"):
    """Install order: a first install is driver then firmware, an upgrade of an installed
    system firmware then driver, CANN (toolkit before kernels and nnal) after both.
    Uninstall: CANN first, then driver and firmware."""
    if state == "absent":
        seq = list(reversed(CANN)) + ["driver", "firmware"]
    else:
        hdk = ["firmware", "driver"] if driver_installed else ["driver", "firmware"]
        seq = hdk + list(CANN)
    return [c for c in seq if c in components]


def plan(packages, current, force=False, state="present"):
    """Steps to run, in order: [{'component', 'action', 'from', 'to', 'path'}]; actions
    install | upgrade | reinstall | uninstall | none.  `packages`: {component: {'path',
    'version'}}; `current`: installed()."""
    steps = []
    for component in order(packages, bool(current.get("driver")), state):
        pkg = packages[component]
        have, want = current.get(component), pkg.get("version")
        if state == "absent":
            action = "uninstall" if have else "none"
        elif not have:
            action = "install"
        elif have != want:
            action = "upgrade"
        else:
            action = "reinstall" if force else "none"
        steps.append({"component": component, "action": action, "from": have, "to": want,
                      "path": pkg.get("path")})
    return steps


def argv(step, install_path="/usr/local/Ascend", user=None, group=None, for_all=False):
    """The installer's argv: always --quiet (never a prompt) and --nox11."""
    component, action = step["component"], step["action"]
    if action == "uninstall":
        return ["bash", step["path"], "--uninstall", "--quiet", "--nox11"]
    if action == "upgrade":
        mode = "--upgrade"
    else:
        mode = "--full" if component in HDK else "--install"
    args = ["bash", step["path"], mode, "--quiet", "--nox11"]
    if install_path.rstrip("/") != "/usr/local/Ascend":
        args.append("--install-path=%s" % install_path)
    if user and mode != "--upgrade":
        args += ["--install-username=%s" % user, "--install-usergroup=%s" % group]
    if for_all and mode != "--upgrade":
        args.append("--install-for-all")
    return args


def uninstall_argv(component, install_path, exists, package_path=None):
    """The package's own uninstall script (driver, firmware), else `PKG.run --uninstall`."""
    if component in UNINSTALL_SCRIPTS:
        script = "%s/%s" % (install_path.rstrip("/"), UNINSTALL_SCRIPTS[component])
        if exists(script):
            return ["bash", script]
    if package_path:
        return ["bash", package_path, "--uninstall", "--quiet", "--nox11"]
    return None


def _strip(text):
    return re.sub(r"\x1b\[[0-9;]*m", "", text or "")


def classify(component, rc, stdout, stderr):
    """What an installer's exit code and output mean: {'ok', 'reboot_required', 'message'}.

    Exit 0 is success; the firmware asks for a reboot after any change ("Reboot now or after
    driver installation"), the driver when its hot reset failed ("Reboot needed").  Exit 2 of
    the driver is installed-but-reboot-needed, but makeself also exits 2 on a corrupt archive
    ("Error in SHA256 checksums"), so the text decides.  Exit 1 is a failure; its message is
    the installer's [ERROR] line (ERR_NO code and description)."""
    text = _strip(stdout) + "\n" + _strip(stderr)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    reboot = bool(re.search(r"reboot (now|needed)", text, re.IGNORECASE))
    if "Error in SHA256 checksums" in text or "Error in MD5 checksums" in text:
        bad = next(ln for ln in lines if ln.startswith("Error in"))
        return {"ok": False, "reboot_required": False,
                "message": "the package is corrupt (the installer's own check: %s)" % bad}
    if rc == 0 or (rc == 2 and component == "driver" and reboot):
        return {"ok": True, "reboot_required": reboot, "message": None}
    errors = [m.group(1).strip() for m in (ERROR_LINE.search(ln) for ln in lines) if m]
    failed = [ln for ln in lines if "Failed to" in ln]
    if errors:
        message = errors[0]
    elif failed:
        message = failed[0]
    elif rc == 124:
        message = lines[-1] if lines else "timed out"
    else:
        message = lines[-1] if lines else "no output"
    return {"ok": False, "reboot_required": False, "message": "exit %s: %s" % (rc, message)}


def tail(text, count=20):
    return [ln for ln in (text or "").splitlines() if ln.strip()][-count:]


def apply(steps, run, exists, install_path="/usr/local/Ascend", user=None, group=None,
          for_all=False, check_mode=False):
    """Run the plan's steps in order until one fails.  `run(argv)` -> (rc, out, err).
    Returns {'results': [...], 'changed', 'failed', 'reboot_required', 'message'}."""
    results, reboot, changed = [], False, False
    for step in steps:
        res = dict(step, rc=None, stdout_lines=[], reboot_required=False, message=None)
        results.append(res)
        if step["action"] == "none":
            continue
        changed = True
        if step["action"] == "uninstall":
            cmd = uninstall_argv(step["component"], install_path, exists, step["path"])
            if cmd is None:
                res["message"] = ("%s %s is installed but has no uninstall script and no "
                                  "package was given to uninstall it with"
                                  % (step["component"], step["from"]))
                return {"results": results, "changed": changed, "failed": True,
                        "reboot_required": reboot, "message": res["message"]}
        else:
            cmd = argv(step, install_path, user, group, for_all)
        res["argv"] = cmd
        if check_mode:
            continue
        rc, out, err = run(cmd)
        verdict = classify(step["component"], rc, out, err)
        res.update(rc=rc, stdout_lines=tail(out, 40), reboot_required=verdict["reboot_required"],
                   message=verdict["message"])
        reboot = reboot or verdict["reboot_required"]
        if not verdict["ok"]:
            return {"results": results, "changed": changed, "failed": True,
                    "reboot_required": reboot,
                    "message": "%s %s of %s failed: %s" % (
                        step["component"], step["action"], step["path"], verdict["message"])}
    return {"results": results, "changed": changed, "failed": False, "reboot_required": reboot,
            "message": None}


def running_driver(rc, stdout, stderr):
    """{'driver': the version npu-smi reports, 'error'}: the driver the kernel runs."""
    parsed = parse_info(rc, stdout, stderr)
    return {"driver": parsed["npu_smi_version"], "error": parsed["error"]}


def pending_reboot(after, running, check_mode=False, changed=False):
    """An installed driver that is not the running one takes effect at the next reboot (this
    run, or an earlier one, installed it without one).  In check mode after planned changes the
    running driver says nothing yet."""
    if check_mode and changed:
        return False
    return bool(running and running.get("driver") and after.get("driver")
                and running["driver"] != after["driver"])
