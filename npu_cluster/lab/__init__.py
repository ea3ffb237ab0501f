"""The lab: a simulated Ascend / Enflame cluster of privileged containers (see lab/README.md)."""
