# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""The `vllm serve` command line of a given vLLM version, checked without vLLM.

The option table of vLLM 0.33.0 (`vllm_schemas/vllm-0.33.0.json`) was read from vLLM's own
argument parser. Older versions are described as that table plus the options they still had
and 0.33.0 removed, as far as the runbooks this project reproduces use them:

- 0.11.0 (vllm-ascend 0.10.x-0.11.x): `--disable-frontend-multiprocessing` still existed.
- 0.9.2 (Enflame's vllm-gcu fork): also `--num-scheduler-steps` (the V0 engine).
- 0.9.1 (vllm-ascend 0.9.1, runbook 003): as 0.9.2.

Options newer than an older version are not removed from its table: such an option is
accepted here and rejected by the engine at start.  The planner uses `parse()` to refuse a
profile before any host changes; the lab's simulated engine uses the same function to fail
the way vLLM does (argparse's message and exit code 2).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vllm_schemas")
BASE_VERSION = "0.33.0"

_FLAG = {"nargs": 0, "takes_value": False, "boolean_optional": False, "choices": None}
_INT = {"nargs": None, "takes_value": True, "boolean_optional": False, "choices": None,
        "type": "int"}
OLDER = {
    "0.11.0": {"base": "0.33.0", "add": [
        dict(_FLAG, dest="disable_frontend_multiprocessing",
             options=["--disable-frontend-multiprocessing"]),
    ]},
    "0.9.2": {"base": "0.11.0", "add": [
        dict(_INT, dest="num_scheduler_steps", options=["--num-scheduler-steps"]),
    ]},
    # vllm-ascend v0.9.1 (runbook 003) runs on vLLM 0.9.1: the options of 0.9.2 as far as the
    # runbooks use them; kv_parallel_size in --kv-transfer-config was still a field
    "0.9.1": {"base": "0.9.2", "add": []},
}
USAGE = "usage: vllm serve [model_tag] [options]"
_CACHE = {}


class Schema(object):
    def __init__(self, version, options):
        self.version = version
        self.options = options
        self.by_flag = {}
        for opt in options:
            for flag in opt["options"]:
                self.by_flag[flag] = (opt, not opt["boolean_optional"]
                                      or not _negative(flag, opt["dest"]))
            if opt["boolean_optional"]:
                for flag in opt["options"]:
                    if flag.startswith("--") and not flag.startswith("--no-"):
                        self.by_flag.setdefault("--no-" + flag[2:], (opt, False))

    def lookup(self, flag):
        """(option, value_for_a_flag) for an option string (`_` accepted for `-`), or None."""
        if flag.startswith("--"):
            flag = "--" + flag[2:].replace("_", "-")
        return self.by_flag.get(flag)


def _negative(flag, dest):
    """`--no-x`, or `--disable-x` for an option whose name is not itself `disable_...`."""
    return flag.startswith("--no-") or (flag.startswith("--disable-")
                                        and not dest.startswith("disable"))


def versions():
    names = set(OLDER) | {BASE_VERSION}
    for name in os.listdir(SCHEMA_DIR):
        if name.startswith("vllm-") and name.endswith(".json"):
            names.add(name[5:-5])
    return sorted(names, key=_version_key)


def _version_key(text):
    return tuple(int(p) if p.isdigit() else 0 for p in text.split("."))


def schema(version):
    """The Schema of a vLLM version; ValueError naming the known versions if there is none."""
    version = str(version)
    if version in _CACHE:
        return _CACHE[version]
    path = os.path.join(SCHEMA_DIR, "vllm-%s.json" % version)
    if os.path.exists(path):
        with open(path) as handle:
            options = json.load(handle)["options"]
    elif version in OLDER:
        base = schema(OLDER[version]["base"])
        options = list(base.options) + list(OLDER[version]["add"])
    else:
        raise ValueError("no option table for vLLM %s (known: %s)" % (version,
                                                                      ", ".join(versions())))
    _CACHE[version] = Schema(version, options)
    return _CACHE[version]


def _convert(opt, flag, value):
    kind = opt.get("type")
    if kind == "int":
        try:
            return int(value), None
        except ValueError:
            return None, "argument %s: invalid int value: %r" % (flag, value)
    if kind == "float":
        try:
            return float(value), None
        except ValueError:
            return None, "argument %s: invalid float value: %r" % (flag, value)
    return value, None


def parse(version, args):
    """Parse `vllm serve` arguments (without `vllm serve`) like vLLM's parser would.

    Returns {"model": str or None, "values": {dest: value}, "errors": [argparse-style text]}.
    """
    sch = schema(version)
    values, errors, model = {}, [], None
    unknown = []
    i = 0
    args = [str(a) for a in args]
    while i < len(args):
        token = args[i]
        i += 1
        if not token.startswith("-") or token == "-" or _is_number(token):
            if model is None:
                model = token
            else:
                unknown.append(token)
            continue
        flag, eq, inline = token.partition("=")
        found = sch.lookup(flag)
        if found is None:
            unknown.append(token)
            # argparse leaves the value of an unknown option in the unrecognized list too
            if not eq and i < len(args) and not args[i].startswith("-"):
                unknown.append(args[i])
                i += 1
            continue
        opt, flag_value = found
        if not opt["takes_value"]:
            if eq:
                errors.append("argument %s: ignored explicit argument %r" % (flag, inline))
                continue
            values[opt["dest"]] = flag_value
            continue
        taken = []
        if eq:
            taken = [inline]
        elif opt["nargs"] == "+":
            while i < len(args) and (not args[i].startswith("-") or _is_number(args[i])):
                taken.append(args[i])
                i += 1
        elif i < len(args) and (not args[i].startswith("-") or _is_number(args[i])):
            taken = [args[i]]
            i += 1
        if not taken and opt["nargs"] != "?":
            errors.append("argument %s: expected %s" % (
                "/".join(opt["options"]),
                "at least one argument" if opt["nargs"] == "+" else "one argument"))
            continue
        converted = []
        for item in taken:
            val, err = _convert(opt, flag, item)
            if err:
                errors.append(err)
            elif opt.get("choices") and item not in [str(c) for c in opt["choices"]]:
                errors.append("argument %s: invalid choice: %r (choose from %s)" % (
                    "/".join(opt["options"]), item,
                    ", ".join(repr(str(c)) for c in opt["choices"])))
            else:
                converted.append(val)
        values[opt["dest"]] = converted if opt["nargs"] == "+" else (
            converted[0] if converted else None)
    if unknown:
        errors.append("unrecognized arguments: %s" % " ".join(unknown))
    return {"model": model, "values": values, "errors": errors}


def error_text(errors):
    """What vLLM prints (on stderr, exit code 2) for the first parse error."""
    return "%s\nvllm serve: error: %s" % (USAGE, errors[0])


def _is_number(token):
    try:
        float(token)
        return True
    except ValueError:
        return False
