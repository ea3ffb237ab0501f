#!/usr/bin/env bash
# ansible-test, as every published collection is held to it:
#   scripts/ansible_test.sh sanity    # all sanity tests (tests/sanity/ignore-2.19.txt: reasons)
#   scripts/ansible_test.sh units     # tests/unit under ansible-test's own pytest
#   scripts/ansible_test.sh integration   # tests/integration targets, locally
# ansible-test must run from inside ansible_collections/<namespace>/<name>; the checkout is not
# laid out that way, so this copies the files git knows of (tracked, and new ones not ignored)
# to build/ansible-test/ansible_collections/npu/cluster and runs there.  Local Python, no
# containers; ansible-test's own requirements go into its per-test virtual environments
# (--requirements).  Those environments get pip from a bootstrap script ansible-test downloads
# from ci-files.testing.ansible.com, which machines that reach only PyPI and Debian cannot
# fetch: scripts/ansible_test_get_pip.py stands in for it at the cache path ansible-test reads.
source "$(dirname "$0")/env.sh"
what=${1:?usage: ansible_test.sh sanity|units|integration [ansible-test options]}
shift

pip_version=$(.venv/bin/python - <<'PY'
import re, ansible_test._internal.python_requirements as r
print(re.search(r"pip='([0-9.]+)'", open(r.__file__).read()).group(1))
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cmp -s scripts/ansible_test_get_pip.py "$cache" || cp scripts/ansible_test_get_pip.py "$cache"

root="$PWD/build/ansible-test/ansible_collections/npu/cluster"
rm -rf "$root"
mkdir -p "$root"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | xargs -0 cp --parents -t "$root"
(cd "$root" && git init -q . && git add -A)

cd "$root" || exit 1
case "$what" in
  sanity) exec ansible-test sanity --local --python 3.11 --requirements --color no "$@" ;;
  units) exec ansible-test units --venv --python 3.11 --requirements --color no "$@" ;;
  integration) exec ansible-test integration --local --python 3.11 --color no "$@" ;;
  *) echo "unknown: $what" >&2; exit 2 ;;
esac
