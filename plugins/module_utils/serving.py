# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Readiness of one node of a serving group, decided from what was observed (pure).

The serve_wait module observes (the engine's exit-code file, its log, the head's /health and
/v1/models) and `classify` turns that into one of:

    ready    the head answers /health 200 and lists the served model
    waiting  still starting (the progress text says what is missing)
    failed   this node's engine exited, or the head says the model is not served
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.npu.cluster.plugins.module_utils.text import to_text


# access-log lines of the readiness probes themselves (uvicorn's and the lab engine's form)
_PROBE = re.compile(r'"(GET|HEAD) /(health|v1/models|metrics)[ ?]')


def log_tail(text, lines=20):
    """The last lines of an engine log, without the access-log lines of health probes (the
    wait polls /health every half second; those lines would hide the engine's own)."""
    rows = [r for r in to_text(text).rstrip("\n").splitlines() if not _PROBE.search(r)]
    return rows[-lines:]


def classify(obs):
    """obs: {"host", "role", "exit_code" (None while running), "started" (bool),
    "health": (status or None, body), "models": (status or None, body), "served_name",
    "elapsed"} -> {"state", "progress", "problem"}."""
    host = obs.get("host", "?")
    elapsed = int(obs.get("elapsed") or 0)
    if not obs.get("started"):
        return {"state": "failed", "progress": "%s: engine was never started" % host,
                "problem": "%s: the engine was not started (no pid file): re-run the play" % host}
    if obs.get("exit_code") is not None:
        return {"state": "failed", "progress": "%s: engine exited with %s" % (
            host, obs["exit_code"]),
            "problem": "%s: the %s engine exited with code %s after %ds" % (
            host, obs.get("role", "vllm"), obs["exit_code"], elapsed)}
    status, body = obs.get("health") or (None, "")
    if status is None:
        return {"state": "waiting", "problem": None,
                "progress": "%s: %s engine running, head API not answering yet (%ds)" % (
                    host, obs.get("role", "vllm"), elapsed)}
    if status != 200:
        detail = _status_text(body)
        return {"state": "waiting", "problem": None,
                "progress": "%s: head /health %s%s (%ds)" % (
                    host, status, (": " + detail) if detail else "", elapsed)}
    mstatus, mbody = obs.get("models") or (None, "")
    names = _model_ids(mbody) if mstatus == 200 else []
    if obs.get("served_name") not in names:
        return {"state": "failed", "progress": "%s: served model missing" % host,
                "problem": "%s: the head is healthy but /v1/models lists %s, not %s" % (
                    host, ", ".join(names) or "nothing", obs.get("served_name"))}
    return {"state": "ready", "problem": None,
            "progress": "%s: ready, /health 200, serving %s (%ds)" % (
                host, obs.get("served_name"), elapsed)}


def _status_text(body):
    try:
        data = json.loads(to_text(body) or "{}")
    except ValueError:
        return to_text(body).strip()[:120]
    if isinstance(data, dict):
        return str(data.get("status") or data.get("detail") or "")[:120]
    return ""


def _model_ids(body):
    try:
        data = json.loads(to_text(body) or "{}")
        return [m.get("id") for m in data.get("data", [])]
    except (ValueError, AttributeError):
        return []
