"""The lab client image's `python3 -m vllm_utils.benchmark_serving` (the Enflame fork's client).

The fork ships vLLM's `benchmarks/benchmark_serving.py` as `vllm_utils.benchmark_serving` with
its vllm-gcu wheel, which is not on PyPI.  In the lab the same module name runs vLLM's own
serving benchmark -- the code that script became (`vllm.benchmarks.serve`, from the engine's
install) -- with the same command line, so the role's Enflame client path (module check, argv,
saved JSON, records) is exercised against the lab's Enflame deployment through its router.  The
fork's older result schema (no `failed` field) is covered by the unit tests.
"""
from vllm.benchmarks.serve import add_cli_args, main
from vllm.utils.argparse_utils import FlexibleArgumentParser

if __name__ == "__main__":
    parser = FlexibleArgumentParser(
        description="Benchmark the online serving throughput (npu-lab: vLLM's benchmark under "
                    "the Enflame fork's module name).")
    add_cli_args(parser)
    main(parser.parse_args())
