#!/usr/bin/env bash
# make test: unit tests, lint, Molecule scenarios, lab end-to-end tests (in that order, so
# the cheap checks fail first).  Lab images are built once by `make images` before this.
source "$(dirname "$0")/env.sh"
export ANSIBLE_INJECT_FACT_VARS=false
start=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - start ))s)"; }

step "unit tests"
pytest -q -p no:cacheprovider tests/unit
step "lint (yamllint, ansible-lint --profile production)"
scripts/lint.sh
step "molecule"
scripts/molecule.sh
step "lab end-to-end tests"
pytest -q -p no:cacheprovider tests/lab
step "all tests passed"
