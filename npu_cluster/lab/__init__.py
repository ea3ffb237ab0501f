"""The lab: a simulated Ascend / Enflame cluster of containers (README.md, "The lab")."""
