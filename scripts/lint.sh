#!/usr/bin/env bash
# ansible-lint at the production profile (config in .ansible-lint) and yamllint.
source "$(dirname "$0")/env.sh"
.venv/bin/yamllint -s .
.venv/bin/ansible-lint
