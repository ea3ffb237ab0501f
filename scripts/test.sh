#!/usr/bin/env bash
# make test: the collection's own test suites first (ansible-test sanity and units, Galaxy's
# importer), then the project's tests, lint, Molecule and the lab end-to-end tests -- the cheap
# checks fail first.  Lab images are built once by `make images` before this.
source "$(dirname "$0")/env.sh"
export ANSIBLE_INJECT_FACT_VARS=false
start=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - start ))s)"; }

step "ansible-test sanity"
scripts/ansible_test.sh sanity
step "ansible-test units"
scripts/ansible_test.sh units
step "project tests (tests/project: lab simulator, CLI, package, modules run through Ansible)"
pytest -q -p no:cacheprovider tests/project
step "Galaxy importer on the built collection"
scripts/galaxy_import.sh
step "lint (yamllint, ansible-lint --profile production, role READMEs, changelog)"
scripts/lint.sh
step "molecule"
scripts/molecule.sh
step "lab end-to-end tests"
pytest -q -p no:cacheprovider tests/lab
step "all tests passed"
