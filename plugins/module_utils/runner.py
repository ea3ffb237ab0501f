# -*- coding: utf-8 -*-
# Copyright: npu-cluster developers
# Apache License 2.0
"""Run many tool invocations of one node concurrently through module.run_command (argv lists,
LC_ALL=C), with a per-call timeout and a retry when hccn_tool says it is busy."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from concurrent.futures import ThreadPoolExecutor

TIMEOUT_RC = 124
BUSY_TEXT = "is busy, please try again"


def run_many(module, argvs, concurrency=16, timeout=None, busy_retries=3, busy_wait=0.5,
             environ=None):
    """[(rc, stdout, stderr)] in the order of `argvs`.  `timeout` (s) wraps each call in
    coreutils `timeout` when it exists; a timed-out call returns rc 124 and says so."""
    module.run_command_environ_update = {"LANGUAGE": "C", "LC_ALL": "C"}
    wrapper = []
    if timeout:
        tbin = module.get_bin_path("timeout")
        if tbin:
            wrapper = [tbin, str(int(timeout))]

    def one(argv):
        for attempt in range(busy_retries + 1):
            rc, out, err = module.run_command(wrapper + list(argv), check_rc=False,
                                              environ_update=environ or None)
            if wrapper and rc == TIMEOUT_RC:
                return rc, out, (err or "") + "timed out after %ss: %s" % (timeout,
                                                                           " ".join(argv))
            if BUSY_TEXT not in (out or "") + (err or "") or attempt == busy_retries:
                return rc, out, err
            time.sleep(busy_wait * (attempt + 1))
        return rc, out, err

    if not argvs:
        return []
    workers = max(1, min(int(concurrency or 1), len(argvs)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, argvs))
