"""What the benchmarks share: drive the cluster through the Python API (`npu_cluster.api.run`,
ansible-runner: the same way in as the lab tests and every user of the API), run the lab's own
commands from the repository root with the project's venv, time runs, and say where the CPU
went: the whole machine (/proc/stat) and inside the lab's node containers (their cgroups,
which include the containers they run)."""
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), LC_ALL="C.UTF-8",
           PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))


def run(argv, check=True):
    res = subprocess.run(argv, cwd=REPO, env=ENV, capture_output=True, text=True, check=False)
    if check and res.returncode != 0:
        sys.exit("%s failed:\n%s\n%s" % (" ".join(argv), res.stdout[-4000:], res.stderr[-3000:]))
    return res


def machine_cpu():
    """CPU seconds the whole machine has spent busy (all cores)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    busy = sum(fields[:3]) + sum(fields[5:8])  # user nice system + irq softirq steal
    return busy / float(os.sysconf("SC_CLK_TCK"))


def _cgroup_cpu(cid):
    for path, scale in (("/sys/fs/cgroup/cpuacct/docker/%s/cpuacct.usage" % cid, 1e-9),
                        ("/sys/fs/cgroup/docker/%s/cpu.stat" % cid, 1e-6),
                        ("/sys/fs/cgroup/system.slice/docker-%s.scope/cpu.stat" % cid, 1e-6)):
        try:
            with open(path) as fh:
                text = fh.read()
        except OSError:
            continue
        if path.endswith("cpu.stat"):
            text = dict(line.split() for line in text.splitlines()).get("usage_usec", "0")
        return int(text) * scale
    return None


def nodes_cpu(cluster):
    """CPU seconds spent inside the lab cluster's node containers, or None if unreadable."""
    ids = subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter",
                          "name=^npu-lab-%s-" % cluster], capture_output=True, text=True,
                         check=False).stdout.split()
    values = [_cgroup_cpu(i) for i in ids]
    return sum(values) if ids and None not in values else None


ARTIFACTS = None


def play(verb, inventory, extra_vars=(), check=True, **kwargs):
    """One run through the API: `verb` (deploy, teardown, verify, ...) or, with playbook=,
    another playbook named by `verb`; extra_vars as `-e` strings (Ansible's own parser).  64
    forks unless told (every node of the largest lab at once).  Each run's artifacts go to
    their own folder in one temporary directory per benchmark.  check: exit with the failed
    tasks when the run fails.  Returns the typed Result."""
    from npu_cluster import api, cli
    global ARTIFACTS
    if ARTIFACTS is None:
        ARTIFACTS = Path(tempfile.mkdtemp(prefix="npu-perf-"))
    kwargs.setdefault("forks", 64)
    res = api.run(verb, str(inventory), extra_vars=cli.parse_extra_vars(list(extra_vars)),
                  artifacts_root=str(ARTIFACTS), **kwargs)
    if check and not res.ok:
        failed = "\n".join("%s: %s: %s" % (f.host, f.task, f.message[:500]) for f in res.failures)
        sys.exit("%s on %s failed (%s):\n%s\n%s" % (verb, inventory, res.status, failed,
                                                    res.output()[-3000:]))
    return res


def timed(verb, inventory, cluster=None, **kwargs):
    """(wall seconds, Result, cpu) of play(verb, inventory, **kwargs), where cpu =
    {"machine": s, "nodes": s or None} (nodes: the CPU of the lab cluster's node containers)."""
    n0 = nodes_cpu(cluster) if cluster else None
    c0 = machine_cpu()
    start = time.monotonic()
    res = play(verb, inventory, **kwargs)
    wall = time.monotonic() - start
    c1 = machine_cpu()
    n1 = nodes_cpu(cluster) if cluster else None
    return wall, res, {"machine": c1 - c0,
                       "nodes": (n1 - n0) if n0 is not None and n1 is not None else None}


def cpu_text(cpu):
    """CPU spent, in the nodes, and the wall time the machine's cores could not go below."""
    nodes = cpu.get("nodes")
    return "cpu %.1fs, in nodes %s, floor %.1fs on %d cores" % (
        cpu["machine"], "%.1fs" % nodes if nodes is not None else "?",
        cpu["machine"] / (os.cpu_count() or 1), os.cpu_count() or 1)


MEASUREMENTS = REPO / "docs" / "measurements.md"


def record(section, title, lines, note=""):
    """Replace the section between `<!-- section:begin -->` and `<!-- section:end -->` of
    docs/measurements.md with this run's figures: the date, the machine, the command line and
    the lines the benchmark printed.  Dated figures live there, not in the README."""
    text = MEASUREMENTS.read_text()
    begin, end = "<!-- %s:begin -->" % section, "<!-- %s:end -->" % section
    if begin not in text or end not in text:
        sys.exit("%s has no %s ... %s markers" % (MEASUREMENTS, begin, end))
    body = [begin, "## %s" % title, "",
            "%s, %d cores, `%s` (written by the benchmark)." % (
                time.strftime("%Y-%m-%d"), os.cpu_count() or 0,
                " ".join(["perf/" + Path(sys.argv[0]).name] + sys.argv[1:])), "",
            "```"] + list(lines) + ["```", ""]
    if note:
        body += [note.strip(), ""]
    body.append(end)
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    MEASUREMENTS.write_text(head + "\n".join(body) + tail)
    print("recorded in %s" % MEASUREMENTS.relative_to(REPO))


def memory_mib(node, container):
    """Memory of a container in a lab node's own dockerd (the cgroup's usage, as `docker stats`
    shows it), in MiB."""
    out = run(["docker", "exec", node, "docker", "stats", "--no-stream", "--format",
               "{{.MemUsage}}", container]).stdout.split("/")[0].strip()
    value, unit = re.match(r"([\d.]+)\s*([KMG]i?B)", out).groups()
    return float(value) * {"KiB": 1 / 1024.0, "MiB": 1, "GiB": 1024, "KB": 1 / 1024.0,
                           "MB": 1, "GB": 1024}[unit]
