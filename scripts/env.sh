# shellcheck shell=bash
# Sourced by the other scripts: repository root, the venv first on PATH, the project's
# ansible.cfg, and ansible-compat's cache (ansible-lint, Molecule) under the venv rather than
# in ~/.ansible, where a stale copy of this collection would be shared by every checkout.
set -euo pipefail
export LC_ALL=C.UTF-8
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
export VIRTUAL_ENV="$PWD/.venv"
