#!/usr/bin/env bash
# Everything `make test` and `make demo` need on a fresh Debian machine; safe to re-run.
#   - docker.io, debootstrap, iputils-ping, iproute2, gcc, shellcheck from Debian's packages when missing
#   - dockerd started when not running
#   - .venv with the pinned controller requirements, this package installed editable
#   - the pinned collections in ./collections (+ npu.cluster -> this checkout)
set -euo pipefail
export LC_ALL=C.UTF-8
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# ansible-test sanity's shellcheck test (skipped with only a warning when it is missing)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
# the lab's tool client is a static C binary built on this machine
command -v gcc >/dev/null 2>&1 || need+=(gcc)
# the tests open the run's HTML pages (artifacts index, fabric report) in a real headless browser
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -f /usr/lib/aarch64-linux-gnu/libc.a ] || need+=(libc6-dev)
if [ "${#need[@]}" -gt 0 ]; then
  echo "[setup] installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "[setup] starting dockerd"
  if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    $SUDO systemctl start docker
  else
    $SUDO sh -c 'nohup dockerd >/var/log/npu-lab-dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/npu-lab-dockerd.log" >&2; exit 1; }
fi

PY=${PYTHON:-python3}
stamp=.venv/.requirements.sha256
want=$(cat requirements/controller.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] creating .venv with pinned requirements"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements/controller.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi
.venv/bin/python scripts/install_collections.py
