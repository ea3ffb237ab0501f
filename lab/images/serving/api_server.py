"""`python -m vllm.entrypoints.openai.api_server` in the lab serving image: the older entry
point runbook 001 uses, running the simulated engine (lab/sim/vllm_sim.py) like `vllm serve`."""
import sys

sys.path.insert(0, "/usr/local/lib/npu-lab-vllm")
import vllm_sim  # noqa: E402  (copied next to vllm_args.py in the image)

if __name__ == "__main__":
    sys.exit(vllm_sim.main(["serve"] + sys.argv[1:]))
