# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Readiness of the processes of a launch stage on one node, decided from what was observed
(pure).

The process_wait module observes (each process's status -- its pid and exit-code files, or a
daemon's status command --, and its probe: an HTTP status, a TCP connect, a command, or an
OpenAI-compatible server's /health, /v1/models and one completion) and `judge` turns that
into one of:

    ready    every process runs and, where the stage waits for it, answers its probe
    waiting  still starting (the progress text says what is missing)
    failed   a process exited or stopped, or its probe says it will never be ready
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.npu.cluster.plugins.module_utils import ray
from ansible_collections.npu.cluster.plugins.module_utils.text import to_text


# access-log lines of the readiness probes themselves (uvicorn's and the lab engine's form)
_PROBE = re.compile(r'"(GET|HEAD) /(health|v1/models|metrics)[ ?]')


def log_tail(text, lines=20):
    """The last lines of an engine log, without the access-log lines of health probes (the
    wait polls /health every half second; those lines would hide the engine's own)."""
    rows = [r for r in to_text(text).rstrip("\n").splitlines() if not _PROBE.search(r)]
    return rows[-lines:]


def judge_process(host, proc, obs, elapsed):
    """One process.  proc: {"name", "role", "wait": "started"|"ready", "probe"}; obs:
    {"status": "running"|"exited N"|"stopped"|"absent", "exit_code", "probe": observations of
    the probe (see probe_state)} -> {"state", "progress", "problem"}."""
    label = "%s (%s)" % (proc["name"], proc["role"]) if proc.get("role") else proc["name"]
    status = obs.get("status") or "absent"
    if status == "absent":
        return _result("failed", "%s: %s was never started" % (host, label),
                       "%s: %s was not started (no pid or exit-code file): re-run the play" % (
                           host, label))
    if status.startswith("exited"):
        code = obs.get("exit_code", status[7:])
        limit = (proc.get("lifecycle") or {}).get("start_timeout")
        if limit and str(code) == "124":
            probe = proc.get("probe") or {}
            return _result("failed", "%s: %s did not start" % (host, label),
                           "%s: %s: its start command did not finish within %ss and was "
                           "stopped (exit 124)%s" % (
                               host, label, limit,
                               "; the node never joined the Ray cluster at %s (is that port "
                               "reachable from %s?)" % (probe.get("address"), host)
                               if probe.get("type") == "ray" and proc.get("kind") == "ray_worker"
                               else ""))
        return _result("failed", "%s: %s exited" % (host, label),
                       "%s: %s exited with code %s after %ds" % (host, label, code, elapsed))
    if status != "running":
        return _result("failed", "%s: %s %s" % (host, label, status),
                       "%s: %s is %s (its status command fails) after %ds" % (
                           host, label, status, elapsed))
    if proc.get("wait") != "ready" or not proc.get("probe"):
        return _result("ready", "%s: %s running (%ds)" % (host, label, elapsed), None)
    return probe_state(host, label, proc["probe"], obs.get("probe") or {}, elapsed)


def probe_state(host, label, probe, seen, elapsed):
    kind = probe.get("type")
    if kind == "http":
        code = (seen.get("get") or (None, ""))[0]
        want = probe.get("expect_status", 200)
        if code == want:
            return _result("ready", "%s: %s ready, GET %s %s (%ds)" % (
                host, label, probe["url"], code, elapsed), None)
        return _result("waiting", "%s: %s running, GET %s %s (%ds)" % (
            host, label, probe["url"], code or "not answering", elapsed), None)
    if kind == "tcp":
        if seen.get("connect"):
            return _result("ready", "%s: %s ready, %s:%s accepts connections (%ds)" % (
                host, label, probe["host"], probe["port"], elapsed), None)
        return _result("waiting", "%s: %s running, %s:%s not accepting yet (%ds)" % (
            host, label, probe["host"], probe["port"], elapsed), None)
    if kind == "cmd":
        rc = seen.get("rc")
        if rc == 0:
            return _result("ready", "%s: %s ready, its probe command exits 0 (%ds)" % (
                host, label, elapsed), None)
        return _result("waiting", "%s: %s running, its probe command exits %s (%ds)" % (
            host, label, rc, elapsed), None)
    if kind == "openai":
        return _openai_state(host, label, probe, seen, elapsed)
    if kind == "ray":
        return ray.judge(host, label, probe, seen, elapsed)
    return _result("failed", "%s: %s has an unknown probe" % (host, label),
                   "%s: %s has a probe of unknown type %r" % (host, label, kind))


def _openai_state(host, label, probe, seen, elapsed):
    status, body = seen.get("health") or (None, "")
    if status is None:
        return _result("waiting", "%s: %s running, API not answering yet (%ds)" % (
            host, label, elapsed), None)
    if status != 200:
        detail = _status_text(body)
        return _result("waiting", "%s: %s %s%s (%ds)" % (
            host, probe.get("health") or "/health", status, (": " + detail) if detail else "",
            elapsed), None)
    mstatus, mbody = seen.get("models") or (None, "")
    if mstatus in (401, 403):
        return _result("failed", "%s: the API key was refused" % host,
                       "%s: %s is healthy but refuses the API key: /v1/models answers HTTP %s %s" % (
                           host, label, mstatus, to_text(mbody).strip()[:200]))
    if mstatus != 200:
        # a proxy answers /health itself and asks a backend for /v1/models: a moment later it
        # answers (a slow or busy backend); a wrong list is the failure
        detail = _status_text(mbody) if mstatus else ""
        return _result("waiting", "%s: %s 200, /v1/models %s%s (%ds)" % (
            host, probe.get("health") or "/health", mstatus or "not answering",
            (": " + detail) if detail else "", elapsed), None)
    names = model_ids(mbody)
    if probe.get("model") not in names:
        return _result("failed", "%s: served model missing" % host,
                       "%s: %s is healthy but /v1/models lists %s, not %s" % (
                           host, label, ", ".join(names) or "nothing", probe.get("model")))
    if probe.get("completion"):
        cstatus, cbody = seen.get("completion") or (None, "")
        text = _completion_text(cbody) if cstatus == 200 else None
        if text is None:
            return _result("failed", "%s: the completion failed" % host,
                           "%s: the completion through %s failed: HTTP %s %s" % (
                               host, probe.get("url"), cstatus or "(no answer)",
                               to_text(cbody).strip()[:300]))
    return _result("ready", "%s: ready, %s 200, serving %s (%ds)" % (
        host, probe.get("health") or "/health", probe.get("model"), elapsed), None)


def judge(host, procs, observed, elapsed):
    """Every process of this node -> the node's verdict: {"state", "progress", "problem",
    "process": the failing process's name or None}."""
    verdicts = [(p, judge_process(host, p, observed.get(p["name"]) or {}, elapsed))
                for p in procs]
    failed = [(p, v) for p, v in verdicts if v["state"] == "failed"]
    if failed:
        # the one that exited first (its exit-code file's time): the others may have died of it
        proc, verdict = min(failed, key=lambda pv: (observed.get(pv[0]["name"]) or {}).get(
            "exited_at") or float("inf"))
        return dict(verdict, process=proc["name"])
    waiting = [v for _p, v in verdicts if v["state"] == "waiting"]
    if waiting:
        return dict(waiting[0], process=None)
    return {"state": "ready", "problem": None, "process": None,
            "progress": "; ".join(v["progress"] for _p, v in verdicts) or
            "%s: nothing to wait for" % host}


# probes another node can watch over the network (a `cmd` probe runs in the owner's container)
WATCHABLE = ("http", "tcp", "openai")


def watched(host, verdict, probes, seen, elapsed):
    """A node that owns no process of the stage watches the stage's probes over the network
    while its own (earlier) processes keep running -- so that check runs while the owners
    wait instead of after them.  verdict: judge() of its own processes; probes: the stage's
    probes; seen: one observation per probe ({"get"}, {"connect"} or {"health"}) ->
    ready once every probe answers (an OpenAI server's /health only: the owner checks its
    models and completion), failed when its own verdict failed, else waiting."""
    if verdict["state"] == "failed":
        return verdict
    for probe, obs in zip(probes, seen):
        kind = probe.get("type")
        if kind == "tcp":
            up = bool(obs.get("connect"))
            where = "%s:%s" % (probe.get("host"), probe.get("port"))
        else:
            want = probe.get("expect_status", 200) if kind == "http" else 200
            up = (obs.get("get") or obs.get("health") or (None, ""))[0] == want
            where = probe.get("url", "") + ((probe.get("health") or "/health")
                                            if kind == "openai" else "")
        if not up:
            return dict(_result("waiting", "%s: watching the stage (%s not up yet); %s" % (
                host, where, verdict["progress"].replace(host + ": ", "", 1)), None),
                process=None)
    return dict(_result("ready", "%s: the stage is up (%s); %s" % (
        host, ", ".join(p.get("url") or "%s:%s" % (p.get("host"), p.get("port")) for p in probes),
        verdict["progress"].replace(host + ": ", "", 1)), None), process=None)


def _result(state, progress, problem):
    return {"state": state, "progress": progress, "problem": problem}


def _completion_text(body):
    try:
        data = json.loads(to_text(body) or "{}")
        return data["choices"][0].get("text", data["choices"][0].get("message"))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


def _status_text(body):
    try:
        data = json.loads(to_text(body) or "{}")
    except ValueError:
        return to_text(body).strip()[:120]
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):     # OpenAI's form: {"error": {"message": ...}}
            error = error.get("message")
        return str(data.get("status") or data.get("detail") or data.get("message") or error
                   or "")[:120]
    return ""


def model_ids(body):
    try:
        data = json.loads(to_text(body) or "{}")
        return [m.get("id") for m in data.get("data", [])]
    except (ValueError, AttributeError):
        return []
