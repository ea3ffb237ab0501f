"""Write the option table of `vllm serve` as the installed vLLM's own parser defines it, in the
form plugins/plugin_utils/vllm_schemas/vllm-<version>.json holds (read by vllm_args.py).

Run with the engine's install on PYTHONPATH:

    PYTHONPATH=<engine site> VLLM_TARGET_DEVICE=cpu python3 dump_serve_args.py OUT.json
"""
import argparse
import json
import sys


def table():
    import vllm
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = make_arg_parser(FlexibleArgumentParser(prog="vllm serve"))
    options = []
    for action in parser._actions:   # pylint: disable=protected-access
        if isinstance(action, argparse._HelpAction):   # pylint: disable=protected-access
            continue
        kind = getattr(action.type, "__name__", None) if action.type is not None else None
        options.append({
            "dest": action.dest, "options": list(action.option_strings),
            "nargs": action.nargs,
            "takes_value": action.nargs != 0,
            "boolean_optional": isinstance(action, argparse.BooleanOptionalAction),
            "choices": [str(c) for c in action.choices] if action.choices else None,
            "type": kind})
    return {"version": vllm.__version__,
            "source": "vllm %s, argument parser of `vllm serve` (vllm.entrypoints.launchers."
                      "cli_args.make_arg_parser), written by lab/engine/dump_serve_args.py"
                      % vllm.__version__,
            "options": options}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: dump_serve_args.py OUT.json")
    with open(sys.argv[1], "w") as handle:
        json.dump(table(), handle, separators=(",", ":"))
        handle.write("\n")
