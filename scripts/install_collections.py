#!/usr/bin/env python3
"""Install the collections pinned in requirements.yml into ./collections, idempotently.

1. Already installed at the pinned versions -> nothing to do.
2. Otherwise `ansible-galaxy collection install -r requirements.yml -p collections`.
3. If Galaxy cannot be reached (our CI and lab machines only reach PyPI and Debian), take the
   same releases from the `ansible` community package on PyPI (pinned below, fetched with pip,
   hash-checked by pip's own download), copying only the pinned collections and refusing any
   whose MANIFEST.json version differs from the pin.

Finally link ./collections/ansible_collections/npu/cluster -> the repository root so that
FQCNs such as npu.cluster.preflight resolve from a checkout without a second copy.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEST = REPO / "collections" / "ansible_collections"
# The community package release that carries exactly the versions pinned in requirements.yml.
# ansible 14 itself needs Python 3.12; only its wheel is fetched (never installed), so pip is
# told which Python the wheel is for.
BUNDLE = "ansible==14.5.0"
BUNDLE_PYTHON = "3.12"


def pins():
    data = yaml.safe_load((REPO / "requirements.yml").read_text())
    return {c["name"]: str(c["version"]) for c in data["collections"]}


def installed_version(name):
    ns, coll = name.split(".")
    manifest = DEST / ns / coll / "MANIFEST.json"
    if not manifest.exists():
        return None
    return json.loads(manifest.read_text())["collection_info"]["version"]


def missing():
    return {n: v for n, v in pins().items() if installed_version(n) != v}


def from_galaxy():
    bindir = Path(sys.executable).parent
    try:
        res = subprocess.run([str(bindir / "ansible-galaxy"), "collection", "install", "-r",
                              str(REPO / "requirements.yml"), "-p", str(DEST.parent),
                              "--force"], capture_output=True, text=True, timeout=120,
                             check=False)
    except subprocess.TimeoutExpired:
        return False
    return res.returncode == 0


def from_pypi_bundle(wanted):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp,
                        "--python-version", BUNDLE_PYTHON, "--only-binary=:all:", BUNDLE], check=True)
        wheel = next(Path(tmp).glob("ansible-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
            for name, version in wanted.items():
                ns, coll = name.split(".")
                prefix = "ansible_collections/%s/%s/" % (ns, coll)
                manifest = json.loads(zf.read(prefix + "MANIFEST.json"))
                got = manifest["collection_info"]["version"]
                if got != version:
                    sys.exit("%s in %s is %s, requirements.yml pins %s: update BUNDLE in %s" % (
                        name, BUNDLE, got, version, __file__))
                target = DEST / ns / coll
                shutil.rmtree(target, ignore_errors=True)
                for member in names:
                    if member.startswith(prefix) and not member.endswith("/"):
                        out = DEST / member[len("ansible_collections/"):]
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_bytes(zf.read(member))


def link_self():
    link = DEST / "npu" / "cluster"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        if link.is_symlink() and os.readlink(link) == "../../..":
            return
        if link.is_symlink():
            link.unlink()
        else:
            shutil.rmtree(link)
    link.symlink_to("../../..")


def main():
    DEST.mkdir(parents=True, exist_ok=True)
    wanted = missing()
    if wanted:
        print("installing collections: %s" % ", ".join("%s==%s" % kv for kv in wanted.items()))
        if not from_galaxy() or missing():
            print("Galaxy unreachable; taking the pinned releases from PyPI's %s" % BUNDLE)
            from_pypi_bundle(missing())
    still = missing()
    if still:
        sys.exit("collections not installed at pinned versions: %s" % still)
    link_self()
    print("collections ok: %s" % ", ".join("%s==%s" % kv for kv in pins().items()))


if __name__ == "__main__":
    main()
