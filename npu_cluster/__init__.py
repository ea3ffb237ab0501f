"""npu-cluster: Ansible automation for multi-node vLLM on Ascend / Enflame clusters.

The Python API (plan, verify, deploy, status, bench, teardown over ansible-runner) grows with
later issues; today the package carries the lab (`npu_cluster.lab`) and its CLI `npu-lab`.
"""
__version__ = "0.1.0"
