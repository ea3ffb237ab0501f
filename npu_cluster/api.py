"""Drive npu-cluster from Python: the playbooks run through ansible-runner, the results come
back typed.

    import npu_cluster
    result = npu_cluster.verify("inventories/a3")
    if not result.ok:
        for failure in result.failures:
            print(failure.host, failure.task, failure.message)
    print(result.fabric["verdict"], result.artifacts)

Every run gets a fresh private data directory (absolute paths, no env files carried between
runs), so runs are independent and can run at once on different inventories.  Results are
read from ansible-runner's events -- the task results Ansible itself produced -- never from
the text it printed.  Each run writes its artifacts (the fabric report, the version table,
the run's result as JSON, ansible-runner's own event files) to one folder, by default
`artifacts/<UTC time>-<verb>/` under the current directory.

A run can be stopped: `cancel` is a callable ansible-runner polls; when it returns True the
playbook is stopped and the result's status is `canceled`.  Ctrl-C does the same.
"""
import dataclasses
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

VERBS = {
    # verb: (playbook under the collection root, tags it implies)
    "verify": ("playbooks/site.yml", ["verify"]),
    "deploy": ("playbooks/site.yml", []),
    "teardown": ("playbooks/teardown.yml", []),
    "status": ("playbooks/status.yml", []),
    "bench": ("playbooks/site.yml", ["bench"]),
}
FABRIC_TASK = "Build the cluster verdict"
VERSIONS_TASK = "Build the version table"
PLAN_TASK = "Plan the deployment"
DRIVER_FACTS = ("ascend_driver_report", "enflame_driver_report")


@dataclasses.dataclass
class TaskFailure:
    """One task that failed on one host (`unreachable` when Ansible could not reach it)."""
    host: str
    play: str
    task: str
    message: str
    unreachable: bool = False


@dataclasses.dataclass
class PlayTiming:
    """Wall time of one play, from its start to the start of the next (or the run's end)."""
    play: str
    seconds: float


@dataclasses.dataclass
class HostResult:
    """What one host did and what the run learnt about it."""
    host: str
    ok: int = 0
    changed: int = 0
    failed: int = 0
    skipped: int = 0
    unreachable: bool = False
    fabric_passed: bool = None
    problems: list = dataclasses.field(default_factory=list)
    versions: dict = dataclasses.field(default_factory=dict)
    drivers: dict = None
    containers: list = None
    processes: dict = None
    serving_healthy: bool = None


@dataclasses.dataclass
class Result:
    """The typed result of one run.  `status`: successful, failed, canceled or timeout (as
    ansible-runner reports it); `ok` is True only for a successful run with no failed task."""
    verb: str
    status: str
    rc: int
    ok: bool
    failures: list
    unreachable: list
    hosts: dict
    plays: list
    fabric: dict = None
    version_table: dict = None
    plan: dict = None
    endpoint: dict = None
    last_deploy: dict = None
    bench: list = None
    inventory: str = None
    artifacts: str = None
    seconds: float = 0.0

    def to_dict(self):
        return dataclasses.asdict(self)

    def output(self):
        """The text Ansible printed during the run (what an operator would have seen; the
        typed fields above come from events, not from this text), or "" without artifacts."""
        if not self.artifacts:
            return ""
        try:
            text = (Path(self.artifacts) / "runner" / "run" / "stdout").read_text(errors="replace")
        except OSError:
            return ""
        return text.replace("\r\n", "\n")


def _message(res):
    if not isinstance(res, dict):
        return str(res)
    msg = res.get("msg") or res.get("stderr") or res.get("reason") or ""
    if isinstance(msg, list):
        msg = "; ".join(str(m) for m in msg)
    return str(msg).strip()


def summarize(events, verb="run", status="successful", rc=0, artifacts=None, seconds=0.0):
    """A Result from a run's ansible-runner events (dicts as ansible-runner writes them to
    artifacts/<ident>/job_events).  Pure: the unit tests feed it recorded events."""
    hosts = {}
    failures = []
    plays = []
    fabric = None
    version_table = None
    plan = None
    endpoint = None
    play_start = None

    def host(name):
        return hosts.setdefault(name, HostResult(host=name))

    for event in events:
        kind = event.get("event")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            stamp = _stamp(event.get("created"))
            if plays and play_start is not None and stamp is not None:
                plays[-1].seconds = round(stamp - play_start, 3)
            plays.append(PlayTiming(play=data.get("play") or data.get("name") or "", seconds=0.0))
            play_start = stamp
        elif kind == "playbook_on_stats":
            stamp = _stamp(event.get("created"))
            if plays and play_start is not None and stamp is not None:
                plays[-1].seconds = round(stamp - play_start, 3)
            for key, attr in (("ok", "ok"), ("changed", "changed"), ("failures", "failed"),
                              ("skipped", "skipped")):
                for name, count in (data.get(key) or {}).items():
                    setattr(host(name), attr, count)
            for name in (data.get("dark") or {}):
                host(name).unreachable = True
        elif kind in ("runner_on_failed", "runner_on_unreachable"):
            if data.get("ignore_errors"):
                continue
            name = data.get("host") or "?"
            failures.append(TaskFailure(host=name, play=data.get("play") or "",
                                        task=data.get("task") or "",
                                        message=_message(data.get("res")),
                                        unreachable=kind == "runner_on_unreachable"))
            if kind == "runner_on_unreachable":
                host(name).unreachable = True
        elif kind == "runner_on_ok":
            res = data.get("res") or {}
            facts = res.get("ansible_facts") or {}
            if "fabric_report" in facts and (data.get("task") or "").startswith(FABRIC_TASK):
                fabric = facts["fabric_report"]
            if "preflight_versions" in facts and (data.get("task") or "").startswith(
                    VERSIONS_TASK):
                version_table = facts["preflight_versions"]
            npu = facts.get("npu") or facts.get("gcu")
            if npu and data.get("host"):
                host(data["host"]).versions = dict(npu.get("versions") or {})
            if plan is None and "plan_deployment" in facts and (data.get("task") or "").startswith(
                    PLAN_TASK):
                plan = facts["plan_deployment"]
            if "npu_cluster_endpoint_status" in facts:
                endpoint = facts["npu_cluster_endpoint_status"]
            node_status = facts.get("launch_status")
            if isinstance(node_status, dict) and data.get("host"):
                node = host(data["host"])
                node.containers = list(node_status.get("containers") or [])
                node.processes = dict(node_status.get("processes") or {})
                node.serving_healthy = bool(node_status.get("healthy"))
            for key in DRIVER_FACTS:
                if isinstance(facts.get(key), dict) and data.get("host"):
                    # what the driver role read and did: installed versions, steps, reboots
                    host(data["host"]).drivers = facts[key]
    if fabric:
        for name, info in (fabric.get("hosts") or {}).items():
            host(name).fabric_passed = bool(info.get("passed"))
            host(name).problems = list(info.get("problems") or [])
    unreachable = sorted(h.host for h in hosts.values() if h.unreachable)
    ok = status == "successful" and rc == 0 and not failures
    return Result(verb=verb, status=status, rc=rc, ok=ok, failures=failures,
                  unreachable=unreachable, hosts=hosts, plays=plays, fabric=fabric,
                  version_table=version_table, plan=plan, endpoint=endpoint, artifacts=artifacts,
                  seconds=round(seconds, 3))


def _stamp(created):
    """Seconds since the epoch of an event's `created` (ISO 8601, UTC), or None."""
    if not created:
        return None
    from datetime import datetime
    try:
        return datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def collection_root():
    """The npu.cluster collection these runs use (the checkout, or the installed copy)."""
    from npu_cluster.cli import _collection
    return _collection()[1]


def run(verb, inventory, tags=None, skip_tags=None, extra_vars=None, limit=None, forks=None,
        check=False, cancel=None, artifacts_dir=None, quiet=True, event_handler=None,
        playbook=None, verbosity=0, diff=False, artifacts_root=None):
    """Run one verb's playbook against `inventory` (a path) and return its Result.

    tags / skip_tags: lists of tag names (added to the verb's own); extra_vars: a dict (what
    `-e` gives after Ansible's own parser); limit: a host pattern; forks: an int; check: run
    in check mode; cancel: a callable, True stops the run; artifacts_dir: the run's folder
    (default artifacts/<UTC time>-<verb> under the current directory); quiet: do not echo
    Ansible's output; event_handler: called with each ansible-runner event (progress).

    playbook: another of the collection's playbooks (a path under the collection root, e.g.
    `playbooks/drivers.yml`, or absolute) run the same way, `verb` then only names the run
    (lower-case letters and dashes); verbosity: Ansible's -v count; diff: Ansible's --diff.
    The text Ansible printed is kept in the artifacts (Result.output()), without colour.
    artifacts_root: where the run's own new folder is made when artifacts_dir is not given
    (default artifacts/ under the current directory; see new_run_folder)."""
    import ansible_runner

    root = collection_root()
    if playbook is not None:
        if not re.fullmatch(r"[a-z][a-z-]*", verb or ""):
            raise ValueError("a run's name is lower-case letters and dashes, not %r" % (verb,))
        playbook, implied = str(root / playbook), []
        if not os.path.isfile(playbook):
            raise FileNotFoundError("playbook %s does not exist" % playbook)
    elif verb not in VERBS:
        raise ValueError("unknown verb %r; one of %s" % (verb, ", ".join(sorted(VERBS))))
    else:
        playbook, implied = VERBS[verb]
    inventory = os.path.abspath(inventory)
    if not os.path.exists(inventory):
        raise FileNotFoundError("inventory %s does not exist" % inventory)
    if artifacts_dir:
        folder = Path(artifacts_dir).resolve()
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = new_run_folder(Path(artifacts_root or Path.cwd() / "artifacts"), verb)
    extra = dict(extra_vars or {})
    last_deploy = None
    if verb in ("status", "bench"):
        last_deploy = latest_deploy(folder.parent, inventory)
    if verb == "status" and last_deploy and last_deploy.get("endpoint"):
        extra.setdefault("status_endpoint", last_deploy["endpoint"]["url"])
        extra.setdefault("status_endpoint_host", last_deploy["endpoint"].get("host"))
    if verb == "bench":
        extra.setdefault("benchmark_artifacts_dir", str(folder / "bench"))
        if last_deploy:
            # the fabric verdict the measured deployment was started on
            extra.setdefault("benchmark_fabric_report_file", str(
                Path(last_deploy["artifacts"]) / "fabric" / "fabric-report.json"))
    extra.setdefault("fabric_artifacts_dir", str(folder / "fabric"))
    extra.setdefault("preflight_artifacts_dir", str(folder / "drivers"))
    cmdline = (["--check"] if check else []) + (["--diff"] if diff else [])
    private = tempfile.mkdtemp(prefix="npu-cluster-run-")
    env = {"ANSIBLE_CONFIG": str(root / "ansible.cfg")} if (root / "ansible.cfg").exists() \
        else {}
    # the ansible-playbook next to this Python (the project's venv) first, then PATH's
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent),
                                   os.environ.get("PATH", os.defpath)])
    if quiet:
        # nobody watches Ansible's own output: keep the artifacts' copy free of colour codes
        env["ANSIBLE_NOCOLOR"] = "1"
    start = time.monotonic()
    try:
        runner = ansible_runner.run(
            private_data_dir=private, project_dir=str(root), playbook=str(root / playbook),
            inventory=inventory, extravars=extra, limit=limit, forks=forks,
            tags=",".join(implied + list(tags or [])) or None,
            skip_tags=",".join(skip_tags or []) or None,
            cmdline=" ".join(cmdline) or None, envvars=env, quiet=quiet,
            verbosity=verbosity or None,
            cancel_callback=cancel, event_handler=event_handler,
            artifact_dir=str(folder / "runner"), ident="run", rotate_artifacts=0)
        events = list(runner.events)
        status, rc = runner.status, runner.rc
    finally:
        shutil.rmtree(private, ignore_errors=True)
    result = summarize(events, verb=verb, status=status, rc=rc if rc is not None else -1,
                       artifacts=str(folder), seconds=time.monotonic() - start)
    result.last_deploy = last_deploy
    result.inventory = inventory
    if verb == "bench":
        result.bench = []
        for path in sorted((folder / "bench").glob("*/records.json")):
            result.bench += json.loads(path.read_text())
    if result.plan:
        (folder / "plan.json").write_text(json.dumps(result.plan, indent=1, default=str) + "\n")
    from npu_cluster.artifacts import write_index
    result_dict = json.loads(json.dumps(result.to_dict(), default=str))
    (folder / "result.json").write_text(json.dumps(result_dict, indent=1) + "\n")
    write_index(str(folder), result_dict)
    return result


def new_run_folder(root, verb):
    """A new folder `<UTC time>-<verb>` under `root` for one run.  Runs that start within the
    same second get `<UTC time>.2-<verb>`, `.3`, ... so that no run reuses another's folder and
    the names still sort in start order (`latest_deploy` relies on it)."""
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for n in range(1, 1000):
        folder = root / ("%s%s-%s" % (stamp, ".%03d" % n if n > 1 else "", verb))
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise RuntimeError("more than 999 runs of %s started in one second under %s" % (verb, root))


def latest_deploy(root, inventory=None):
    """What the newest deploy run of `inventory` (an absolute path; None: of any) under `root`
    (an artifacts directory) left: its folder, the plan's endpoint, the fabric verdict and the
    version table, or None.  Folders of other inventories sharing `root` are passed over."""
    runs = sorted(Path(root).glob("*-deploy/result.json"), reverse=True) if root else []
    for path in runs:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if inventory is not None and data.get("inventory") != inventory:
            continue
        plan = data.get("plan") or {}
        return {"artifacts": str(path.parent), "ok": data.get("ok"),
                "endpoint": plan.get("endpoint"), "profile": plan.get("profile"),
                "fabric_verdict": (data.get("fabric") or {}).get("verdict"),
                "version_table": data.get("version_table")}
    return None


def status(inventory, **kwargs):
    """`playbooks/status.yml`, read-only: per host the serving containers and every process's
    state (result.hosts[h].containers / .processes / .serving_healthy), the last deployment's
    endpoint health (result.endpoint) and what that deployment recorded (result.last_deploy:
    fabric verdict, version table), read from the newest `*-deploy` folder next to this run's."""
    return run("status", inventory, **kwargs)


def verify(inventory, **kwargs):
    """`site.yml --tags verify`: preflight and the fabric verdict (result.fabric)."""
    return run("verify", inventory, **kwargs)


def deploy(inventory, **kwargs):
    """`site.yml`: preflight, drivers (where packages are given) and the version table, verify,
    serve."""
    return run("deploy", inventory, **kwargs)


def bench(inventory, **kwargs):
    """`site.yml --tags bench`: the benchmark client against the deployment's public endpoint;
    result.bench holds one normalised record per run (also `bench/<time>/records.json`), with
    the fabric verdict of the newest `*-deploy` folder next to this run's."""
    return run("bench", inventory, **kwargs)


def teardown(inventory, **kwargs):
    """`playbooks/teardown.yml`: stop what npu.cluster launched, remove its containers."""
    return run("teardown", inventory, **kwargs)


class PlanError(Exception):
    """The inventory's deployment profile cannot be loaded (the message says why)."""


def plan(inventory, extra_vars=None):
    """The deployment plan the roles would consume, computed without contacting any host;
    extra_vars as `-e` strings (key=value, JSON/YAML, @file).  Raises PlanError when the
    inventory's profile cannot be loaded, SystemExit when the inventory cannot be read."""
    from npu_cluster import cli
    serving, _root = cli._collection()
    hosts, hostvars, extra = cli.inventory_hostvars(inventory, extra_vars or [])
    name = extra.get("npu_cluster_profile") or hostvars[hosts[0]].get("npu_cluster_profile")
    inv_dir = os.path.dirname(os.path.abspath(inventory)) if os.path.isfile(inventory) \
        else os.path.abspath(inventory)
    loaded = serving.serving_profile(name, [os.path.join(inv_dir, "profiles"),
                                            str(cli._profiles_dir())])
    if loaded["profile"] is None:
        raise PlanError("\n".join(loaded["problems"]))
    return serving.serving_plan(hostvars, loaded["profile"], hosts,
                                {"profile_file": loaded["stem"]})
