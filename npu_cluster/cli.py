"""`npu-cluster`: the project's command line.

    npu-cluster plan -i <inventory> [-e key=value ...] [--json]
    npu-cluster verify|deploy|teardown -i <inventory> [-e key=value|@file ...] [--tags T]
                [--skip-tags T] [--limit PATTERN] [--forks N] [--check] [--json]
                [--artifacts DIR]

`plan` prints what would run on each node (processes with their argv, env, ports, devices,
the launch stages and the endpoint) for the deployment profile the inventory selects, without
connecting to any host: values that need a host's facts (the NIC that owns the serving IP, the
default-route address) come from inventory variables or are shown as marked unknowns.  With
--json it prints the plan itself, the format the roles consume
(plugins/plugin_utils/schemas/plan.schema.json).  Exit code 0 when the plan has no errors, 1
when it has (they are printed), 2 on usage errors.

`verify` (site.yml --tags verify), `deploy` (site.yml) and `teardown` (playbooks/teardown.yml)
run through the Python API (npu_cluster.api, on ansible-runner): a line per play and task while
it runs (stderr), then the verdict, the failed tasks (host, task, message), unreachable hosts,
the time of each play and the run's artifacts folder; --json prints the typed result instead.
-e takes what ansible-playbook -e takes, parsed by Ansible's own parser.  Exit codes: 0 the
run succeeded, 1 the cluster failed a check or a step (or the run was canceled), 2 usage or
environment error.
"""
import argparse
import json
import os
import sys
from pathlib import Path

SERVING_GROUP = "npu_nodes"


def _collection():
    """The npu.cluster collection this CLI runs: the checkout (through the editable install or
    ./collections) or the copy the wheel installs in site-packages/ansible_collections."""
    try:
        from ansible_collections.npu.cluster.plugins.filter import serving
    except ImportError:
        raise SystemExit("npu-cluster: the npu.cluster collection is not importable; install "
                         "this package with pip (it carries the collection)")
    return serving, Path(serving.__file__).resolve().parents[2]


def _profiles_dir():
    return _collection()[1] / "profiles"


def inventory_hostvars(inventory, extra_vars):
    """(ordered serving hosts, {host: vars}, extra vars) from an Ansible inventory, without
    connecting; -e is parsed by Ansible's own extra-vars parser (key=value, JSON/YAML, @file)."""
    from ansible import context
    from ansible.inventory.manager import InventoryManager
    from ansible.module_utils.common.collections import ImmutableDict
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager
    from ansible.errors import AnsibleError

    from ansible.utils.vars import load_extra_vars

    context.CLIARGS = ImmutableDict(extra_vars=tuple(extra_vars or ()))
    load_extra_vars.extra_vars = None  # Ansible keeps the first parse for the process
    loader = DataLoader()
    try:
        inv = InventoryManager(loader=loader, sources=[str(inventory)])
        variables = VariableManager(loader=loader, inventory=inv)
        extra = dict(variables.extra_vars)
    except AnsibleError as exc:
        raise SystemExit("npu-cluster: %s" % exc)
    group = extra.get("npu_cluster_serving_group", SERVING_GROUP)
    hosts = inv.get_hosts(pattern=group)
    if not hosts:
        raise SystemExit("npu-cluster: inventory %s has no hosts in group %s" % (inventory, group))
    out = {}
    for host in hosts:
        out[host.name] = variables.get_vars(host=host, include_hostvars=False)
    return [h.name for h in hosts], out, extra


def cmd_plan(args):
    from npu_cluster import api
    try:
        result = api.plan(args.inventory, args.extra_vars)
    except api.PlanError as exc:
        sys.stderr.write("npu-cluster: %s\n" % exc)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        sys.stdout.write(_collection()[0].serving_plan_text(result))
    return 1 if result["errors"] else 0


def parse_extra_vars(values):
    """`-e` values as ansible-playbook parses them (key=value with quoting, JSON, YAML,
    @file), merged left to right, by Ansible's own parser."""
    from ansible import context
    from ansible.errors import AnsibleError
    from ansible.module_utils.common.collections import ImmutableDict
    from ansible.parsing.dataloader import DataLoader
    from ansible.utils.vars import load_extra_vars

    context.CLIARGS = ImmutableDict(extra_vars=tuple(values or ()))
    load_extra_vars.extra_vars = None  # Ansible keeps the first parse for the process
    try:
        return dict(load_extra_vars(DataLoader()))
    except AnsibleError as exc:
        raise SystemExit("npu-cluster: -e: %s" % exc)


class Progress:
    """Progress of a run from ansible-runner's events, for people: the play and task, which
    hosts are done and which still run, the elapsed time -- one live line on a terminal,
    plain lines otherwise -- and, while a stage of the serving group starts (the launch wait
    retries every round), one line per round with each node's state instead of a
    "FAILED - RETRYING" line per node per round."""

    def __init__(self, stream, live=None, clock=None):
        import time
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.clock = clock or time.monotonic
        self.start = self.clock()
        self.play_hosts = set()
        self.task = None
        self.task_start = None
        self.done = {}
        self.waits = {}
        self.round = 0
        self.reported = set()

    def _elapsed(self):
        return "%5.0fs" % (self.clock() - self.start)

    def _write(self, text, final=True):
        if self.live:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _round_line(self):
        self.round += 1
        self._write("%s    %s, round %d: %s" % (
            self._elapsed(), self.task, self.round,
            "; ".join("%s %s" % (h, self.waits[h]) for h in sorted(self.reported))))
        self.reported = set()

    def _end_task(self):
        if self.task is None:
            return
        if self.reported:
            self._round_line()
        took = self.clock() - self.task_start
        bad = sorted(h for h, st in self.done.items() if st in ("failed", "unreachable"))
        if self.done and (took >= 1.0 or bad):
            self._write("%s    %s: %d host%s in %.1fs%s" % (
                self._elapsed(), self.task, len(self.done), "" if len(self.done) == 1 else "s",
                took, "; failed: " + ", ".join(bad) if bad else ""))
        self.task = None

    def _running_line(self):
        pending = sorted(self.play_hosts - set(self.done))
        self._write("%s    %s -- done %d%s" % (
            self._elapsed(), self.task, len(self.done),
            ", running: " + ", ".join(pending[:6]) + (" ..." if len(pending) > 6 else "")
            if pending else ""), final=False)

    def __call__(self, event):
        data = event.get("event_data") or {}
        kind = event.get("event")
        host = data.get("host")
        if kind == "playbook_on_play_start":
            self._end_task()
            self.play_hosts = set()
            self._write("%s == %s" % (self._elapsed(), data.get("play") or data.get("name")))
        elif kind == "playbook_on_task_start":
            self._end_task()
            self.task, self.task_start, self.done = data.get("task"), self.clock(), {}
            self.waits, self.round, self.reported = {}, 0, set()
            if self.live:
                self._running_line()
        elif kind == "runner_retry" and host:
            # a node's second retry starts the next round: say how the last one ended
            if host in self.reported:
                self._round_line()
            res = data.get("res") or {}
            self.waits[host] = "%s%s" % (res.get("state") or "waiting", (
                " (%s)" % res["progress"]) if res.get("progress") else "")
            self.reported.add(host)
        elif kind in ("runner_on_ok", "runner_on_failed", "runner_on_skipped",
                      "runner_on_unreachable") and host:
            state = {"runner_on_ok": "ok", "runner_on_failed": "failed",
                     "runner_on_skipped": "skipped"}.get(kind, "unreachable")
            if state == "failed" and data.get("ignore_errors"):
                state = "ok"
            if self.reported:
                self._round_line()  # the wait ended: its last round first
            self.play_hosts.add(host)
            self.done[host] = state
            if state in ("failed", "unreachable"):
                self._write("%s    ! %s: %s in %s" % (self._elapsed(), host, state, self.task))
            elif self.live:
                self._running_line()
        elif kind == "playbook_on_stats":
            self._end_task()
        return True


def _progress(stream):
    return Progress(stream)


def human(result):
    """The Result as a few lines for people."""
    lines = []
    verdict = result.fabric and result.fabric.get("verdict")
    word = "OK" if result.ok else result.status.upper()
    if result.verb == "status" and result.ok and not status_ok(result):
        word = "NOT ALL RUNNING"
    lines.append("%s: %s%s in %.1fs" % (result.verb, word,
                                        " (fabric %s)" % verdict if verdict else "",
                                        result.seconds))
    for failure in result.failures:
        lines.append("  %s %s | %s: %s" % ("UNREACHABLE" if failure.unreachable else "FAILED",
                                           failure.host, failure.task,
                                           failure.message.replace("\n", "\n    ")))
    if result.unreachable:
        lines.append("  unreachable: %s" % ", ".join(result.unreachable))
    for play in result.plays:
        if play.seconds >= 0.05:
            lines.append("  %6.1fs  %s" % (play.seconds, play.play))
    if result.verb == "status":
        lines.extend(status_lines(result))
    if result.verb == "bench" and result.bench:
        lines.extend("  " + line for line in bench_table(result.bench).splitlines())
    lines.append("artifacts: %s" % result.artifacts)
    return "\n".join(lines) + "\n"


def status_lines(result):
    lines = []
    for name, node in sorted(result.hosts.items()):
        if node.processes is None:
            continue
        procs = ", ".join("%s %s" % kv for kv in sorted(node.processes.items())) or "none"
        lines.append("  %-16s %-9s containers: %s; processes: %s" % (
            name, "serving" if node.serving_healthy else "-",
            ", ".join(node.containers or []) or "none", procs))
    if result.endpoint:
        lines.append("  endpoint %s: %s" % (result.endpoint.get("url"), "healthy (200)"
                                            if result.endpoint.get("healthy") else
                                            "NOT healthy (%s)" % (result.endpoint.get(
                                                "http_status") or result.endpoint.get("error"))))
    last = result.last_deploy
    if last:
        lines.append("  last deploy: %s (%s), fabric %s" % (
            last["artifacts"], "ok" if last.get("ok") else "failed",
            last.get("fabric_verdict") or "not verified"))
        table = last.get("version_table") or {}
        for row in table.get("rows") or []:
            lines.append("    %s: %s" % (row["host"], ", ".join(
                "%s %s" % (c, row.get(c) or "-") for c in table.get("columns") or [])))
    else:
        lines.append("  no deploy run recorded under the artifacts directory")
    return lines


def status_ok(result):
    """A status run is OK when it ran and everything npu.cluster started is running (and the
    endpoint, when one is recorded, answers 200)."""
    nodes = [n for n in result.hosts.values() if n.processes]
    healthy = all(n.serving_healthy for n in nodes)
    if result.endpoint is not None:
        healthy = healthy and bool(result.endpoint.get("healthy"))
    return result.ok and healthy


def cmd_run(args):
    from npu_cluster import api
    if not os.path.exists(args.inventory):
        sys.stderr.write("npu-cluster: inventory %s does not exist\n" % args.inventory)
        return 2
    extra = parse_extra_vars(args.extra_vars)

    def split(text):
        return [t for t in (text or "").split(",") if t]

    try:
        result = api.run(args.verb, args.inventory, tags=split(args.tags),
                         skip_tags=split(args.skip_tags), extra_vars=extra, limit=args.limit,
                         forks=args.forks, check=args.check, artifacts_dir=args.artifacts,
                         event_handler=None if args.json else _progress(sys.stderr))
    except KeyboardInterrupt:
        sys.stderr.write("npu-cluster: interrupted\n")
        return 1
    if args.json:
        print(json.dumps(result.to_dict(), indent=1, default=str))
    else:
        sys.stdout.write(human(result))
    if args.verb == "status":
        return 0 if status_ok(result) else 1
    return 0 if result.ok else 1


def bench_table(records):
    from ansible_collections.npu.cluster.plugins.plugin_utils import bench
    return bench.table(records)


def _records(path):
    """The records of a records.json file (a list) or of one record's JSON."""
    data = json.loads(Path(path).read_text())
    records = data if isinstance(data, list) else [data]
    if not records or not all(isinstance(r, dict) and "metrics" in r for r in records):
        raise ValueError("%s holds no benchmark records" % path)
    return records


def cmd_compare(argv):
    """npu-cluster bench compare A B [--run NAME]: two records side by side, every metric's
    ratio B/A.  A and B are records.json files (or one record each); with several runs, the
    runs of the same name are compared."""
    parser = argparse.ArgumentParser(prog="npu-cluster bench compare",
                                     description=cmd_compare.__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("a", help="records.json (or one record) of the baseline run")
    parser.add_argument("b", help="records.json (or one record) to compare with it")
    parser.add_argument("--run", help="the run name to compare (default: every run both have)")
    args = parser.parse_args(argv)
    _serving, _root = _collection()
    from ansible_collections.npu.cluster.plugins.plugin_utils import bench
    try:
        left, right = _records(args.a), _records(args.b)
    except (OSError, ValueError) as exc:
        print("npu-cluster bench compare: %s" % exc, file=sys.stderr)
        return 2
    if args.run:
        pairs = [(a, b) for a in left for b in right
                 if a.get("name") == args.run and b.get("name") == args.run]
    elif len(left) == 1 and len(right) == 1:
        pairs = [(left[0], right[0])]
    else:
        pairs = [(a, b) for a in left for b in right if a.get("name") == b.get("name")]
    if not pairs:
        names_a = ", ".join(str(r.get("name")) for r in left)
        names_b = ", ".join(str(r.get("name")) for r in right)
        print("npu-cluster bench compare: no run to compare (A has %s; B has %s)%s" % (
            names_a, names_b, "" if not args.run else " named %s" % args.run), file=sys.stderr)
        return 2
    for a, b in pairs:
        print("run %s: A %s (%s), B %s (%s)" % (
            a.get("name"), (a.get("deployment") or {}).get("profile"), a["run"].get("date"),
            (b.get("deployment") or {}).get("profile"), b["run"].get("date")))
        print(bench.compare_text(a, b))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="npu-cluster",
                                     description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    plan = sub.add_parser("plan", help="print what would run on each node (no host contacted)")
    plan.add_argument("-i", "--inventory", required=True, help="inventory file or directory")
    plan.add_argument("-e", "--extra-vars", action="append", default=[],
                      help="key=value, JSON/YAML or @file, as ansible-playbook -e")
    plan.add_argument("--json", action="store_true",
                      help="print the plan itself (plugins/plugin_utils/schemas/plan.schema.json)")
    helps = {"verify": "site.yml --tags verify: preflight and the fabric verdict",
             "deploy": "site.yml: preflight, verify, serve",
             "teardown": "playbooks/teardown.yml: stop what npu.cluster started",
             "status": "read-only: containers, every process's state, the endpoint's health and "
                       "the last deployment's verdict and versions",
             "bench": "site.yml --tags bench: the benchmark client against the endpoint, one "
                      "record per run (`npu-cluster bench compare A B` compares two)"}
    for verb, text in helps.items():
        cmd = sub.add_parser(verb, help=text)
        cmd.add_argument("-i", "--inventory", required=True, help="inventory file or directory")
        cmd.add_argument("-e", "--extra-vars", action="append", default=[],
                         help="key=value, JSON/YAML or @file, as ansible-playbook -e")
        cmd.add_argument("--tags", help="comma-separated tags, added to the verb's own")
        cmd.add_argument("--skip-tags", help="comma-separated tags to skip")
        cmd.add_argument("--limit", help="host pattern, as ansible-playbook --limit")
        cmd.add_argument("--forks", type=int)
        cmd.add_argument("--check", action="store_true", help="check mode: change nothing")
        cmd.add_argument("--json", action="store_true", help="print the typed result as JSON")
        cmd.add_argument("--artifacts", help="the run's artifacts folder (default "
                                             "artifacts/<UTC time>-<verb>)")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["bench", "compare"]:
        return cmd_compare(argv[2:])
    args = parser.parse_args(argv)
    if args.verb == "plan":
        return cmd_plan(args)
    return cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
