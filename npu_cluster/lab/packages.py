"""Stand-ins for the vendors' .run packages, for the lab's bare nodes.

A real driver, firmware, CANN or TopsPlatform package is a makeself archive that runs its
installer as root.  A stand-in has the real file name, is run the same way (`bash PKG.run
--full --quiet ...`) and carries a makeself-style digest of its payload; it contains no vendor
code: it hands its options to the lab node's simulated installer (`npu-lab-install` in
lab/sim/npulab_sim.py), which checks, prompts, writes the version files and records, and exits
as the real one does.  Off a lab node it does nothing but say so.
"""
import hashlib
import json
from pathlib import Path

from npu_cluster.lab import topology

MARK = "__NPU_LAB_PAYLOAD__"
CHIPS = {"a2": "910b", "a3": "910c"}


def file_name(kind, version, series="a2", arch="x86_64"):
    chip = CHIPS.get(series, "910b")
    return {
        "driver": "Ascend-hdk-%s-npu-driver_%s_linux-%s.run" % (chip, version, arch),
        "firmware": "Ascend-hdk-%s-npu-firmware_%s.run" % (chip, version),
        "toolkit": "Ascend-cann-toolkit_%s_linux-%s.run" % (version, arch),
        "kernels": "Ascend-cann-kernels-%s_%s_linux-%s.run" % (chip, version, arch),
        "nnal": "Ascend-cann-nnal_%s_linux-%s.run" % (version, arch),
        "topsplatform": "TopsPlatform_%s_deb_amd64.run" % version,
    }[kind]


def package_bytes(kind, version, arch="x86_64", seconds=1.0):
    """The stand-in's bytes: a shell header, the payload mark, a JSON manifest, the payload."""
    if kind == "firmware":
        arch = "noarch"
    body = ("npu-lab stand-in payload for %s %s (%s): no vendor code.\n" % (kind, version, arch)
            ).encode() * 64
    manifest = {"kind": kind, "version": version, "arch": arch, "seconds": seconds,
                "payload_sha256": hashlib.sha256(body).hexdigest()}
    head = ("#!/bin/sh\n"
            "# npu-lab stand-in for a %s %s .run package (no vendor code): it runs the lab\n"
            "# node's simulated installer, which behaves as the real one does.\n"
            "sim=${NPU_LAB_SIM:-/usr/local/lib/npu-lab/npulab_sim.py}\n"
            "if [ ! -f \"$sim\" ]; then\n"
            "  echo \"$0: an npu-lab stand-in package runs only on an npu-lab node\" >&2\n"
            "  exit 1\nfi\n"
            "NPU_LAB_PACKAGE_FILE=\"$0\" NPU_LAB_TOOL=npu-lab-install exec /usr/bin/python3 -SE "
            "\"$sim\" \"$@\"\nexit 127\n" % (kind, version))
    return (head + MARK + "\n" + json.dumps(manifest, sort_keys=True) + "\n").encode() + body


def default_versions(series):
    v = topology.VERSIONS[series]
    if series == "gcu":
        return {"topsplatform": v["driver"]}
    return {"driver": v["driver"], "firmware": v["firmware"], "toolkit": v["cann"],
            "kernels": v["cann"], "nnal": v["cann"]}


def write(directory, series="a2", versions=None, arch="x86_64", seconds=1.0):
    """Write the stand-ins of one release into `directory` with a SHA256SUMS file; returns
    {kind: {"path", "sha256", "version"}} (what an inventory's package list holds)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    result = {}
    for kind, version in (versions or default_versions(series)).items():
        data = package_bytes(kind, version, arch=arch, seconds=seconds)
        path = out / file_name(kind, version, series, arch)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        path.chmod(0o644)
        result[kind] = {"path": str(path), "sha256": hashlib.sha256(data).hexdigest(),
                        "version": version}
    sums = out / "SHA256SUMS"
    lines = {}
    if sums.exists():
        for line in sums.read_text().splitlines():
            digest, _sp, name = line.partition("  ")
            lines[name] = digest
    lines.update({Path(r["path"]).name: r["sha256"] for r in result.values()})
    sums.write_text("".join("%s  %s\n" % (lines[n], n) for n in sorted(lines)))
    return result
