#!/usr/bin/env bash
# Molecule scenarios (docker driver, testinfra): destroy, create, prepare, check, converge,
# idempotence, verify, destroy.
source "$(dirname "$0")/env.sh"
export ANSIBLE_COLLECTIONS_PATH="$PWD/collections"
for scenario in molecule/*/; do
  name=$(basename "$scenario")
  echo "== molecule test -s $name"
  molecule test -s "$name"
done
