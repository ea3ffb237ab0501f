#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: eccl_perf
short_description: Run the ECCL all-to-all bandwidth test and parse its table
version_added: 0.1.0
description:
  - Runs C(mpirun -np N eccl_alltoall_perf -b 1k -e 128M -f 2) (the Enflame runbook's ECCL
    check; the older C(eccl_all_to_all_perf) name is used when that is what is installed) and
    parses the nccl-tests style table - per size time / algbw / busbw, out-of-bounds count and
    average bus bandwidth.
  - Compares the average bus bandwidth with C(min_busbw_gbps).
  - Read-only; runs in check mode.
options:
  binary:
    description: The perf binary; empty picks C(eccl_alltoall_perf) or
      C(eccl_all_to_all_perf) from C(bin_dir).
    type: path
  bin_dir:
    description: Where the ECCL perf tools live.
    type: path
    default: /usr/local/bin
  mpirun:
    description: Path of mpirun; empty runs the binary directly (one process).
    type: str
    default: mpirun
  mpirun_args:
    description: Extra mpirun arguments (root and small hosts need these two).
    type: list
    elements: str
    default: ["--allow-run-as-root", "--oversubscribe"]
  np:
    description: MPI processes, one per GCU.
    type: int
    default: 8
  min_bytes:
    description: C(-b).
    type: str
    default: 1k
  max_bytes:
    description: C(-e).
    type: str
    default: 128M
  step_factor:
    description: C(-f).
    type: int
    default: 2
  environment:
    description: Environment for the test (the runbook sets ECCL_ALLTOALLV_MAXSIZE).
    type: dict
    default: {ECCL_ALLTOALLV_MAXSIZE: "134217728"}
  min_busbw_gbps:
    description: Minimum average bus bandwidth in GB/s (0 = only require a result).
    type: float
    default: 0
  timeout:
    description: Seconds before the test is abandoned.
    type: int
    default: 600
extends_documentation_fragment:
  - npu.cluster.common
  - npu.cluster.common.read_only
author:
  - npu-cluster developers (@npu-cluster)
"""

EXAMPLES = r"""
- name: ECCL all-to-all on 8 GCUs
  npu.cluster.eccl_perf:
    np: 8
    min_busbw_gbps: 10
  register: eccl
"""

RETURN = r"""
avg_busbw_gbps:
  description: Average bus bandwidth as printed by the test.
  returned: always
  type: float
out_of_bounds:
  description: Wrong values reported by the test.
  returned: always
  type: int
rows:
  description: Per message size - size, count, type, redop, oop/ip time_us, algbw, busbw, wrong.
  returned: always
  type: list
  elements: dict
cmd:
  description: The argv that ran.
  returned: always
  type: list
  elements: str
ok:
  description: True when the test produced a table, no wrong values and enough bandwidth.
  returned: always
  type: bool
problems:
  description: Plain-words problems.
  returned: always
  type: list
  elements: str
"""

import os
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.npu.cluster.plugins.module_utils import enflame, fabric
from ansible_collections.npu.cluster.plugins.module_utils.runner import run_one

NAMES = ("eccl_alltoall_perf", "eccl_all_to_all_perf")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            binary=dict(type="path"),
            bin_dir=dict(type="path", default="/usr/local/bin"),
            mpirun=dict(type="str", default="mpirun"),
            mpirun_args=dict(type="list", elements="str",
                             default=["--allow-run-as-root", "--oversubscribe"]),
            np=dict(type="int", default=8),
            min_bytes=dict(type="str", default="1k"),
            max_bytes=dict(type="str", default="128M"),
            step_factor=dict(type="int", default=2),
            environment=dict(type="dict", default={"ECCL_ALLTOALLV_MAXSIZE": "134217728"}),
            min_busbw_gbps=dict(type="float", default=0.0),
            timeout=dict(type="int", default=600),
            host_label=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host = p["host_label"] or socket.gethostname()
    binary = p["binary"] or next((os.path.join(p["bin_dir"], n) for n in NAMES
                                  if os.access(os.path.join(p["bin_dir"], n), os.X_OK)), None)
    result = {"avg_busbw_gbps": None, "out_of_bounds": None, "rows": [], "cmd": []}
    problems = []
    if not binary or not os.access(binary, os.X_OK):
        problems.append(fabric.problem(host, None, "eccl_bandwidth", binary or p["bin_dir"],
                                       "no ECCL perf tool (%s) in %s" % (" / ".join(NAMES),
                                                                         p["bin_dir"])))
    else:
        argv = [binary, "-b", p["min_bytes"], "-e", p["max_bytes"], "-f", str(p["step_factor"])]
        if p["mpirun"]:
            mpirun = module.get_bin_path(p["mpirun"]) if "/" not in p["mpirun"] else p["mpirun"]
            if not mpirun:
                module.fail_json(msg="%s: mpirun not found; install openmpi-bin or set "
                                     "mpirun: '' to run the test without MPI" % host)
            argv = [mpirun] + p["mpirun_args"] + ["-np", str(p["np"])] + argv
        result["cmd"] = argv
        env = dict((k, str(v)) for k, v in p["environment"].items())
        environ = dict(os.environ, LANGUAGE="C", LC_ALL="C")
        environ.update(env)
        rc, out, err = run_one(argv, p["timeout"], environ)
        table = enflame.parse_perf_table(rc, out, err)
        result.update(avg_busbw_gbps=table["avg_busbw_gbps"],
                      out_of_bounds=table["out_of_bounds"], rows=table["rows"])
        if table["error"]:
            problems.append(fabric.problem(host, None, "eccl_bandwidth", rc, table["error"]))
        elif table["out_of_bounds"]:
            problems.append(fabric.problem(host, None, "eccl_bandwidth", table["out_of_bounds"],
                                           "ECCL all-to-all returned wrong values"))
        elif p["min_busbw_gbps"] and (table["avg_busbw_gbps"] or 0.0) < p["min_busbw_gbps"]:
            avg = table["avg_busbw_gbps"] or 0.0
            problems.append(fabric.problem(
                host, None, "eccl_bandwidth", "%.2f GB/s" % avg,
                "ECCL all-to-all average bus bandwidth %.2f GB/s is below the minimum %.2f GB/s"
                % (avg, p["min_busbw_gbps"])))
    module.exit_json(changed=False, ok=not problems, checks=problems,
                     problems=[x["message"] for x in problems], **result)


if __name__ == "__main__":
    main()
