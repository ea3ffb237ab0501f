"""npu-cluster: Ansible automation for multi-node vLLM on Ascend / Enflame clusters.

The Python API (`npu_cluster.api`, its verbs also importable from here): `plan` (no host
contacted), `verify`, `deploy`, `status`, `bench` and `teardown` over ansible-runner, each returning a
typed `Result`.  The package also carries the lab (`npu_cluster.lab`) and its CLI `npu-lab`.
"""
from npu_cluster.api import Result, bench, deploy, plan, run, status, teardown, verify  # noqa: F401

__version__ = "0.1.0"
