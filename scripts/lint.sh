#!/usr/bin/env bash
# ansible-lint at the production profile (config in .ansible-lint) and yamllint.
set -euo pipefail
export LC_ALL=C.UTF-8
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
export PATH="$PWD/.venv/bin:$PATH"
# ansible-lint installs this collection into its cache before linting: keep that cache in
# this checkout's venv (.venv/.ansible), not in ~/.ansible shared by every checkout.
export VIRTUAL_ENV="$PWD/.venv"
.venv/bin/yamllint -s .
.venv/bin/ansible-lint
