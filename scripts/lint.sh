#!/usr/bin/env bash
# ansible-lint at the production profile (config in .ansible-lint) and yamllint.
set -euo pipefail
export LC_ALL=C.UTF-8
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
export PATH="$PWD/.venv/bin:$PATH"
.venv/bin/yamllint -s .
.venv/bin/ansible-lint
