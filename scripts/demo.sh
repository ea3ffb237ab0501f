#!/usr/bin/env bash
# make demo: bring up a lab cluster (default 2 x Atlas 800 A3) and run site.yml against it.
# make demo ENGINE=real: 2 x A2 serving with the real engine (vLLM's CPU build, a tiny model).
source "$(dirname "$0")/env.sh"
shape=${1:-a3x2}
engine=${2:-sim}
mkdir -p artifacts
.venv/bin/npu-lab up "$shape" --name lab --engine "$engine"
echo "== ansible-playbook -i inventories/lab site.yml"
NPU_CLUSTER_SUMMARY_JSON=artifacts/demo-summary.json \
  .venv/bin/ansible-playbook -i inventories/lab site.yml
echo "== lab cluster 'lab' stays up for you: npu-lab status | fault | reset | down (see README)"
.venv/bin/npu-lab status --name lab
