# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Rendering a plan (controller only): each process's launch script, and the text
`npu-cluster plan` prints.

Nothing from the inventory or a profile reaches a script unquoted: values go through
shlex quoting, names are validated before planning, and free text in comments (host and
profile names) is reduced to printable characters on one line."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from shlex import quote as _quote

_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def comment_text(text):
    """Free text made safe for one `#` comment line: no line breaks, nothing unprintable."""
    return _UNPRINTABLE.sub("?", str(text))


def process_body(process):
    """The commands of one process -- its environment and its command line, every value
    quoted, exec'd so signals reach it -- as `npu-cluster plan` prints them."""
    lines = ["#!/bin/sh", "# Written by npu.cluster (%s on %s); do not edit: re-run the playbook."
             % (comment_text(process["name"]), comment_text(process.get("host", "?"))),
             "set -e"]
    for key, value in process["env"].items():
        lines.append("export %s=%s" % (key, _quote(str(value))))
    raw = list(process["argv"])
    argv = [_quote(a) for a in raw]
    # the command (and a subcommand or `-m module`), then one option per line: a flag with
    # its separate value, or a --flag=value token alone
    head = 3 if len(raw) > 2 and not raw[2].startswith("--") else 2
    body, line = [], "exec " + " ".join(argv[:head])
    rest, raw_rest = argv[head:], raw[head:]
    i = 0
    while i < len(rest):
        item = rest[i]
        if raw_rest[i].startswith("--") and "=" not in raw_rest[i] and i + 1 < len(rest) \
                and not raw_rest[i + 1].startswith("--"):
            item += " " + rest[i + 1]
            i += 1
        body.append(line)
        line = "  " + item
        i += 1
    body.append(line)
    lines.append(" \\\n".join(body))
    return "\n".join(lines) + "\n"


_WRAPPER = r'''#!/bin/sh
# %(title)s
# stage: %(stage)d
# Written by npu.cluster; do not edit: re-run the playbook. Inside the container:
#   %(self_c)s            run in the foreground
#   %(self_c)s start      %(start_doc)s
#   %(self_c)s stop       %(stop_doc)s
#   %(self_c)s status     prints running, "exited <code>", stopped or absent
set -u
self=%(self)s
logs=%(logs)s
secrets=%(secrets)s
pidf="$logs/%(name)s.pid"
rcf="$logs/%(name)s.rc"
log="$logs/%(name)s.log"
%(functions)s
case "${1:-run}" in
%(cases)s
  run) ;;
  *) echo "usage: $self [start|stop|status|run]" >&2; exit 2 ;;
esac

# --- the process itself (from the plan: every value quoted) ---
if [ -f "$secrets" ]; then . "$secrets"; fi
%(body)s'''

_FOREGROUND_FUNCTIONS = r'''
# the pid file holds the process group, the start time of the container's pid 1 and the start
# time of the group's leader: a replaced container numbers its processes afresh, and within one
# container pids are reused (a supervised node wraps 32768 pids in minutes), so a group id read
# from the pid file may, later, name some other group -- its leader started at another time
start_time() {  # the start time of process $1 (field 22 of /proc/$1/stat) in $stime; no fork
  stime=
  { read -r stime <"/proc/$1/stat"; } 2>/dev/null || return 0
  stime=${stime##*) }
  # shellcheck disable=SC2086 # split into stat's fields (numbers and a state letter)
  set -- $stime
  if [ "$#" -ge 20 ]; then shift 19; stime=$1; else stime=; fi
}
alive() {
  [ -f "$pidf" ] || return 1
  read -r pgid stamp leader <"$pidf" || return 1
  # (no stamp or no leader time: written by an earlier version of this script)
  start_time 1
  [ -z "$stamp" ] || [ "$stamp" = "$stime" ] || return 1
  kill -0 "-$pgid" 2>/dev/null || return 1
  # the group exists; its leader, while it runs, must be the one that was started (a group
  # whose leader has exited keeps its id until its last member exits: no one else has it)
  [ -z "$leader" ] && return 0
  start_time "$pgid"
  [ -z "$stime" ] || [ "$stime" = "$leader" ]
}
'''

_FOREGROUND_CASES = r'''  start)
    if alive; then echo running; exit 0; fi
    mkdir -p "$logs"
    rm -f "$rcf"
    if [ -f "$log" ]; then mv -f "$log" "$log.1"; fi
    setsid sh -c '"$1" run >>"$2" 2>&1; echo $? >"$3"' launch "$self" "$log" "$rcf" \
      </dev/null >/dev/null 2>&1 &
    pgid=$!
    start_time 1
    stamp=$stime
    start_time "$pgid"
    echo "$pgid $stamp $stime" >"$pidf"
    echo started
    exit 0
    ;;
  stop)
    if ! alive; then echo "not running"; exit 0; fi
    kill -TERM "-$pgid" 2>/dev/null
    i=0
    while alive && [ "$i" -lt "$(( ${STOP_TIMEOUT:-30} * 10 ))" ]; do
      sleep 0.1
      i=$((i + 1))
    done
    if alive; then kill -KILL "-$pgid" 2>/dev/null; echo killed; else echo stopped; fi
    exit 0
    ;;
  status)
    if alive; then echo running
    elif [ -f "$rcf" ]; then echo "exited $(cat "$rcf")"
    else echo absent; fi
    exit 0
    ;;'''

_DAEMON_FUNCTIONS = r'''
daemon_status() {
%(status)s
}
daemon_stop() {
%(stop)s
}
alive() {
  [ -f "$rcf" ] && [ "$(cat "$rcf")" = 0 ] && daemon_status >/dev/null 2>&1
}
'''

_DAEMON_CASES = r'''  start)
    if alive; then echo running; exit 0; fi
    mkdir -p "$logs"
    if [ -f "$log" ]; then mv -f "$log" "$log.1"; fi
    %(start_prefix)s"$self" run >>"$log" 2>&1 </dev/null
    rc=$?
    echo "$rc" >"$rcf"
    if [ "$rc" = 0 ]; then echo started; else echo "exited $rc"; fi
    exit 0
    ;;
  stop)
    if [ ! -f "$rcf" ]; then echo "not running"; exit 0; fi
    if ! alive; then rm -f "$rcf"; echo "not running"; exit 0; fi
    daemon_stop >>"$log" 2>&1 </dev/null
    i=0
    while daemon_status >/dev/null 2>&1 && [ "$i" -lt "$(( ${STOP_TIMEOUT:-30} * 10 ))" ]; do
      sleep 0.1
      i=$((i + 1))
    done
    rm -f "$rcf"
    if daemon_status >/dev/null 2>&1; then echo "still running"; else echo stopped; fi
    exit 0
    ;;
  status)
    if [ ! -f "$rcf" ]; then echo absent
    elif [ "$(cat "$rcf")" != 0 ]; then echo "exited $(cat "$rcf")"
    elif daemon_status >/dev/null 2>&1; then echo running
    else echo stopped; fi
    exit 0
    ;;'''


def launch_script(process, serving_dir, log_dir, title=""):
    """The whole script the launch role writes for one process: it runs the process in the
    foreground, or `start`s it (a foreground process in its own session, with its pid, exit
    code and log; a daemon by running its start command, which returns once it daemonised),
    `stop`s it (SIGTERM to the session then SIGKILL; a daemon's own stop command) and reports
    its `status`."""
    name = process["name"]
    path = "%s/%s.sh" % (serving_dir.rstrip("/"), name)
    lifecycle = process.get("lifecycle") or {"type": "foreground"}
    body = process_body(process).split("\n", 1)[1]
    if lifecycle.get("type") == "daemon":
        functions = _DAEMON_FUNCTIONS % {
            "status": "  " + " ".join(_quote(a) for a in lifecycle["status"]),
            "stop": "  " + " ".join(_quote(a) for a in lifecycle["stop"])}
        limit = lifecycle.get("start_timeout")
        # a start command that never returns (`ray start` retrying an unreachable head) is
        # stopped after start_timeout s: exit 124, in the exit-code file like any other code
        cases = _DAEMON_CASES.replace("%(start_prefix)s", "timeout -k 5 %d " % int(limit)
                                      if limit else "")
        start_doc = "run its start command (it daemonises%s); exit code and log in the log " \
            "dir" % (", at most %d s" % int(limit) if limit else "")
        stop_doc = "run its stop command"
    else:
        functions, cases = _FOREGROUND_FUNCTIONS, _FOREGROUND_CASES
        start_doc = "start in its own session (pid, exit code and log in the log dir)"
        stop_doc = "SIGTERM its process group, SIGKILL after STOP_TIMEOUT s"
    return _WRAPPER % {
        "title": comment_text(title or "%s on %s" % (name, process.get("host", "?"))),
        "self_c": comment_text(path), "self": _quote(path), "logs": _quote(log_dir),
        "secrets": _quote("%s/%s.secrets" % (serving_dir.rstrip("/"), name)),
        "name": name, "functions": functions, "cases": cases, "start_doc": start_doc,
        "stop_doc": stop_doc, "body": body, "stage": int(process.get("stage") or 0)}


def _ranges(items):
    items = list(items)
    if not items:
        return "-"
    if items == list(range(items[0], items[-1] + 1)) and len(items) > 2:
        return "%d-%d" % (items[0], items[-1])
    return ",".join(str(i) for i in items)


def _hosts_of(stage):
    """The hosts of a stage in order, a host with several processes once with their count."""
    counts = []
    for proc in stage["processes"]:
        if counts and counts[-1][0] == proc["host"]:
            counts[-1][1] += 1
        else:
            counts.append([proc["host"], 1])
    return ", ".join(h if n == 1 else "%s x%d" % (h, n) for h, n in counts)


def render_text(result):
    """The plan as a readable table per host (what `npu-cluster plan` prints)."""
    out = []
    if result.get("profile"):
        endpoint = result.get("endpoint") or {}
        out.append("profile %s (%s), endpoint %s, served as %s" % (
            result["profile"], result.get("topology", "?"), endpoint.get("url", "?"),
            result.get("served_model_name", "?")))
        if result.get("stages"):
            out.append("start order: " + " -> ".join(
                _hosts_of(stage) for stage in result["stages"]))
    for host, entry in result["hosts"].items():
        out.append("")
        if entry["role"] == "idle":
            out.append("== %s: idle (not used by this profile)" % host)
            continue
        out.append("== %s: %s, serving IP %s on %s, %s %s%s, vLLM %s" % (
            host, entry["role"], entry["serving_ip"], entry["nic"], entry["device_count"],
            "GCUs" if entry.get("hardware") == "enflame_gcu" else "NPUs",
            ", driver %s" % entry["driver_version"] if entry.get("driver_version") else "",
            entry["engine_version"]))
        out.append("   container %s from %s" % (entry["container"]["name"],
                                                entry["container"]["image"]))
        for proc in entry["processes"]:
            out.append("   process %s (stage %d): ports %s, devices %s, DP ranks %s" % (
                proc["name"], proc["stage"], ", ".join(
                    ["%s=%s" % kv for kv in sorted(proc["ports"].items())]
                    + ["%s=%d-%d" % (k, low, high) for k, (low, high)
                       in sorted((proc.get("port_ranges") or {}).items())]),
                _ranges(proc["devices"]), _ranges(proc["dp_ranks"])))
            for line in proc["script"].splitlines()[3:]:
                out.append("     " + line)
            if proc.get("secret_env"):
                out.append("     # and %s from its secrets file (not shown)" % ", ".join(
                    proc["secret_env"]))
    for title, items in (("unknown until facts are gathered", result["unknowns"]),
                         ("warnings", result["warnings"]), ("errors", result["errors"])):
        if items:
            out.append("")
            out.append("%s:" % title)
            out.extend("  - " + item for item in items)
    return "\n".join(out) + "\n"
