#!/usr/bin/env bash
# Molecule scenarios (docker driver, testinfra): destroy, create, prepare, check, converge,
# idempotence, verify, destroy.
set -euo pipefail
export LC_ALL=C.UTF-8
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$PWD/collections"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
export VIRTUAL_ENV="$PWD/.venv"  # ansible-compat caches under the venv, not ~/.ansible
for scenario in molecule/*/; do
  name=$(basename "$scenario")
  echo "== molecule test -s $name"
  molecule test -s "$name"
done
