"""What the benchmarks share: run commands from the repository root with the project's venv
and ansible.cfg, and time them."""
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), LC_ALL="C.UTF-8",
           PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), ANSIBLE_FORKS="64")


def run(argv, check=True):
    res = subprocess.run(argv, cwd=REPO, env=ENV, capture_output=True, text=True, check=False)
    if check and res.returncode != 0:
        sys.exit("%s failed:\n%s\n%s" % (" ".join(argv), res.stdout[-4000:], res.stderr[-3000:]))
    return res


def timed(argv):
    start = time.monotonic()
    res = run(argv)
    return time.monotonic() - start, res
