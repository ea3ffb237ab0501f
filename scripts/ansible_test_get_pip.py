"""Stand-in for the pip bootstrap script ansible-test downloads (get-pip-<version>.py).

ansible-test creates each sanity/units virtual environment without pip and runs the script
from ci-files.testing.ansible.com to install pip into it.  Machines that reach PyPI but no
other host cannot download it, so `scripts/setup.sh` copies this file to the cache path
ansible-test looks at first (~/.ansible/test/cache/get_pip_<version>.py).  It does what
get-pip.py does, with what Python itself ships: pip from `ensurepip`, then
`pip install --upgrade --force-reinstall <ansible-test's pinned packages>` from PyPI (with
the machine's own pip configuration, which ensurepip hides from the process it runs in).
"""
import ensurepip
import os
import subprocess
import sys


def main():
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    environ = dict(os.environ)
    ensurepip.bootstrap(upgrade=True)
    return subprocess.call([sys.executable, "-m", "pip", "install", "--upgrade",
                            "--force-reinstall"] + args, env=environ)


if __name__ == "__main__":
    sys.exit(main())
