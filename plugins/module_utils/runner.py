# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Run many tool invocations of one node concurrently: argv lists only (never a shell),
LC_ALL=C, stdin closed, a per-call timeout, and a retry when hccn_tool says it is busy.

Why not `module.run_command` from threads: it is not thread-safe (it passes a preexec_fn to
Popen, which CPython documents as unsafe with threads), and its read loop can return a
command's rc with its output lost when the command exits just after a 1 s select() timeout --
under load we saw exactly that (empty stdout, rc 0) in about 1 of 1000 hccn_tool calls.
`subprocess.run` (communicate) in each thread has neither problem, and gives every call a
timeout, which run_command cannot.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

TIMEOUT_RC = 124
BUSY_TEXT = "is busy, please try again"


def _text(data):
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")


def run_one(argv, timeout=None, env=None):
    """(rc, stdout, stderr) of one argv; a timeout gives rc 124 and says so on stderr."""
    try:
        res = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             timeout=timeout or None, check=False)
    except subprocess.TimeoutExpired as exc:
        return (TIMEOUT_RC, _text(exc.stdout),
                _text(exc.stderr) + "timed out after %ss: %s" % (timeout, " ".join(argv)))
    except OSError as exc:
        return 127, "", "cannot run %s: %s" % (argv[0], exc)
    return res.returncode, _text(res.stdout), _text(res.stderr)


def run_many(argvs, concurrency=16, timeout=None, busy_retries=3, busy_wait=0.5, environ=None):
    """[(rc, stdout, stderr)] in the order of `argvs`, at most `concurrency` at once."""
    env = dict(os.environ, LANGUAGE="C", LC_ALL="C")
    env.update(environ or {})

    def one(argv):
        for attempt in range(busy_retries + 1):
            rc, out, err = run_one(argv, timeout, env)
            if BUSY_TEXT not in out + err or attempt == busy_retries:
                break
            time.sleep(busy_wait * (attempt + 1))
        return rc, out, err

    if not argvs:
        return []
    workers = max(1, min(int(concurrency or 1), len(argvs)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, argvs))
