"""`npu-lab`: bring simulated Ascend / Enflame clusters up and down, inject faults, reset.

    npu-lab build                      build the lab images once (no-op when up to date)
    npu-lab up a3x2 [--name lab]       start a cluster and write inventories/<name>/hosts.yml
    npu-lab status [--name lab]        nodes, state, addresses
    npu-lab fault <node> <kind> [device] [value] [--name lab]
    npu-lab faults                     list fault kinds
    npu-lab reset [--name lab]         restore every node's healthy state
    npu-lab down [--name lab | --all]  remove the cluster's containers, networks, volumes
    npu-lab exec <node> -- <cmd...>    run a command on a node
    npu-lab state <shape> [index]      print one node's initial state file (JSON)
    npu-lab files <shape> [index]      print the driver/version files a node has ({path: text})
    npu-lab image-vars [--variant V]   a serving image's tag, tarball path on a node and sha256 (JSON)
"""
import argparse
import concurrent.futures
import io
import ipaddress
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import yaml

from npu_cluster.lab import docker, engine, images, packages, topology

REPO = Path(__file__).resolve().parents[2]
LABEL = "npu-lab"


def log(msg):
    print("[npu-lab] " + msg, file=sys.stderr, flush=True)


def container_name(cluster, host):
    return "npu-lab-%s-%s" % (cluster, host)


def default_inventory(cluster):
    return REPO / "inventories" / cluster / "hosts.yml"


# ------------------------------------------------------------------ address block


def used_networks():
    """Every IPv4 network already in use on this host: routes and docker networks."""
    nets = []
    res = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True,
                         text=True, check=False)
    for line in res.stdout.splitlines():
        first = line.split()[0] if line.split() else ""
        if first in ("default", "broadcast", "local", "unreachable"):
            continue
        try:
            nets.append(ipaddress.ip_network(first, strict=False))
        except ValueError:
            continue
    for net in docker.inspect("network", docker.out(["network", "ls", "-q"]).split()):
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            if cfg.get("Subnet") and ":" not in cfg["Subnet"]:
                nets.append(ipaddress.ip_network(cfg["Subnet"], strict=False))
    return nets


def pick_block():
    """A /16 10.B.0.0 (B in 200..254) that overlaps no host route and no docker network."""
    used = used_networks()
    for block in range(200, 255):
        cand = ipaddress.ip_network("10.%d.0.0/16" % block)
        if not any(cand.overlaps(n) for n in used):
            return block
    raise SystemExit("no free 10.B.0.0/16 (B=200..254) for a lab cluster: remove old lab "
                     "clusters (`npu-lab down --all`) or free one of those ranges")


# ------------------------------------------------------------------ cluster queries


def clusters():
    """{cluster: {'shape', 'block', 'inventory', 'nodes': [container inspect...]}}."""
    result = {}
    for net in docker.inspect("network", docker.ids("network", LABEL)):
        labels = net.get("Labels") or {}
        name = labels.get("npu-lab.cluster")
        if name and labels.get("npu-lab.plane") == "mgmt":
            result[name] = {"shape": labels.get("npu-lab.shape"),
                            "block": int(labels.get("npu-lab.block", 0)),
                            "inventory": labels.get("npu-lab.inventory"), "nodes": []}
    for ctr in docker.inspect("container", docker.ids("container", LABEL)):
        name = ctr["Config"]["Labels"].get("npu-lab.cluster")
        result.setdefault(name, {"shape": ctr["Config"]["Labels"].get("npu-lab.shape"),
                                 "block": None, "inventory": None, "nodes": []})
        result[name]["nodes"].append(ctr)
    for info in result.values():
        info["nodes"].sort(key=lambda c: int(c["Config"]["Labels"].get("npu-lab.index", 0)))
    return result


def node_container(cluster, node):
    """Container name for a node given as 'a3-node-1', '1' or a container name."""
    info = clusters().get(cluster)
    if not info:
        raise SystemExit("no lab cluster %r is up (`npu-lab status` lists them)" % cluster)
    for ctr in info["nodes"]:
        labels = ctr["Config"]["Labels"]
        if node in (labels.get("npu-lab.node"), labels.get("npu-lab.index"),
                    ctr["Name"].lstrip("/")):
            return ctr["Name"].lstrip("/")
    raise SystemExit("lab cluster %r has no node %r; nodes: %s" % (
        cluster, node, ", ".join(c["Config"]["Labels"]["npu-lab.node"] for c in info["nodes"])))


# ------------------------------------------------------------------ up / down


def lab_pins(shape):
    """The pinned Python packages of the shape's lab profile (its container's pip_packages)."""
    name = topology.LAB_PROFILES.get(shape)
    if not name:
        return []
    prof = yaml.safe_load((images.REPO / "profiles" / (name + ".yml")).read_text())
    return list((prof.get("container") or {}).get("pip_packages") or [])


def state_tar(state):
    """A tar stream of the files a node starts with: state, pristine state, version files."""
    buf = io.BytesIO()
    files = {"etc/npu-lab/state.json": json.dumps(state, indent=1, sort_keys=True),
             "etc/npu-lab/state.json.initial": json.dumps(state, indent=1, sort_keys=True)}
    for path, text in topology.version_files(state).items():
        files[path.lstrip("/")] = text
    for path, data in topology.workspace_files(state, lab_pins(state["shape"])).items():
        files[path.lstrip("/")] = data
    with tarfile.open(fileobj=buf, mode="w") as tar:
        dirs = set()
        for path in files:
            parts = Path(path).parts[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for path, text in files.items():
            data = text if isinstance(text, bytes) else text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# Some hosts' Docker engines cannot grant every capability (ours lacks CAP_SYS_RESOURCE, so
# `--privileged` fails with "unable to apply caps").  There a node gets everything privileged
# mode gives except that one capability: all other caps, all devices, no seccomp/AppArmor,
# unmasked /proc and /sys -- enough for its own dockerd, mknod, ip and iptables.
PRIVILEGED_FALLBACK = ["--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
                       "--security-opt", "seccomp=unconfined",
                       "--security-opt", "apparmor=unconfined",
                       "--security-opt", "systempaths=unconfined",
                       "--device-cgroup-rule", "a *:* rwm"]
_PRIV = {}


def privileged_args(image):
    if "args" not in _PRIV:
        res = docker.run(["run", "--rm", "--privileged", "--network", "none", "--entrypoint",
                          "true", image], check=False)
        _PRIV["args"] = ["--privileged"] if res.returncode == 0 else PRIVILEGED_FALLBACK
        if res.returncode != 0:
            log("this Docker engine refuses --privileged (%s); nodes run with every "
                "capability but CAP_SYS_RESOURCE" % res.stderr.decode().strip().splitlines()[0])
    return _PRIV["args"]


def create_node(cluster, shape, block, index, image, latency, bare=False):
    state = topology.node_state(cluster, shape, block, index, latency=latency, bare=bare)
    host = state["hostname"]
    name = container_name(cluster, host)
    addrs = topology.node_addresses(block, index)
    labels = {"npu-lab": "1", "npu-lab.cluster": cluster, "npu-lab.shape": shape,
              "npu-lab.node": host, "npu-lab.index": str(index)}
    volume = name + "-docker"
    docker.run(["volume", "create"] + sum([["--label", "%s=%s" % kv] for kv in labels.items()],
                                          []) + [volume])
    args = ["create", "--name", name, "--hostname", host] + privileged_args(image) + [
        "--network", "npu-lab-%s-mgmt" % cluster, "--ip", addrs["mgmt"],
        "-v", volume + ":/var/lib/docker", "--tmpfs", "/run",
        "-v", "%s:/mnt/npu-lab:ro" % images.shared_dir()]
    for key, value in labels.items():
        args += ["--label", "%s=%s" % (key, value)]
    docker.run(args + [image])
    for plane in state["networks"]:
        if plane != "mgmt":
            docker.run(["network", "connect", "--ip", addrs[plane],
                        "npu-lab-%s-%s" % (cluster, plane), name])
    docker.run(["cp", "-", name + ":/"], input_bytes=state_tar(state))
    docker.run(["start", name])
    return name


def wait_ready(name, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        res = docker.run(["exec", name, "sh", "-c",
                          "test -f /run/npu-lab/ready && docker info >/dev/null 2>&1"],
                         check=False)
        if res.returncode == 0:
            return True
        time.sleep(0.5)
    logs = docker.out(["exec", name, "tail", "-n", "20", "/var/log/dockerd.log"], check=False)
    raise SystemExit("lab node %s did not become ready in %ds (its dockerd log ends:\n%s)" % (
        name, timeout, logs))


def parse_latency(text):
    lat = dict(topology.DEFAULT_LATENCY)
    for item in (text or "").split(","):
        if item.strip():
            key, _sep, value = item.partition("=")
            if key.strip() not in lat:
                raise SystemExit("--latency keys are %s" % ", ".join(lat))
            lat[key.strip()] = int(value)
    return lat


NEIGH = "/proc/sys/net/ipv4/neigh/default/gc_thresh%d"
# Lab addresses per node that other nodes resolve (devices, vNICs, the plane primaries), and
# the share of the other nodes each one talks to at most (ping mode `full`: all of them).
NEIGH_PER_NODE = 40


def neighbour_need(node_counts):
    """ARP entries a set of labs can need at once: every node may resolve every other node's
    addresses (ping mode full), and it also holds the entries for the replies it sends."""
    return max(1024, sum(NEIGH_PER_NODE * n * n for n in node_counts))


def ensure_neighbour_capacity(node_counts, paths=NEIGH):
    """Raise the kernel's ARP table limits to what the labs need (never lower them).

    All lab containers share one kernel, and Linux keeps one ARP table for every network
    namespace together: its hard limit gc_thresh3 (1024 by default) is the whole machine's.
    Real servers each have their own.  An a3x60 lab needs about 2000 entries just for the
    ring pings, and past the limit the kernel refuses new neighbours ("neighbour: arp_cache:
    neighbor table overflow!"), so healthy pings are lost: a lab artefact, not the fabric's.
    Returns (old, new) of gc_thresh3, or raises SystemExit when it cannot be raised."""
    need = neighbour_need(node_counts)
    try:
        with open(paths % 3) as fh:
            old = int(fh.read())
    except (OSError, ValueError):
        return None, None  # not Linux, or no IPv4 neighbour table: nothing to do
    if old >= need:
        return old, old
    try:
        for index, value in ((2, need // 2), (3, need)):
            with open(paths % index) as fh:
                if int(fh.read()) >= value:
                    continue
            with open(paths % index, "w") as fh:
                fh.write("%d\n" % value)
    except OSError as exc:
        raise SystemExit("the kernel's ARP table holds at most %d entries for all containers "
                         "together and these labs need about %d; raise it as root (sysctl -w "
                         "net.ipv4.neigh.default.gc_thresh2=%d net.ipv4.neigh.default."
                         "gc_thresh3=%d) or pings between lab nodes are lost (%s)"
                         % (old, need, need // 2, need, exc))
    return old, need


def lab_packages(series):
    """The stand-in packages of the lab's release in the shared directory every node mounts at
    /mnt/npu-lab, as the inventory of a bare lab names them (path on the node, sha256)."""
    written = packages.write(images.shared_dir() / "packages" / series, series)
    return {kind: {"path": "/mnt/npu-lab/packages/%s/%s" % (series, Path(info["path"]).name),
                   "sha256": info["sha256"]} for kind, info in written.items()}


def driver_vars(series, bare):
    """Inventory variables of the driver roles on a lab: the simulated reboot, and on a bare lab
    the packages to install."""
    out = {"ascend_driver_reboot": True,
           "ascend_driver_reboot_command": "/usr/local/sbin/npu-lab-reboot",
           "ascend_driver_boot_time_command": "cat /run/npu-lab/boot_id"}
    if bare:
        pkgs = lab_packages(series)
        if series == "gcu":
            out["enflame_driver_package"] = pkgs["topsplatform"]
        else:
            out["ascend_driver_packages"] = pkgs
    return out


def stage_model(name):
    """Copy the lab's tiny model from shared storage into a node's model cache (Hugging Face hub
    layout under /root/.cache/huggingface), as an operator stages weights on each node."""
    src = "/mnt/npu-lab/models/%s/hub" % engine.MODEL_ID.replace("/", "--")
    docker.run(["exec", name, "sh", "-c", 'mkdir -p /root/.cache/huggingface && '
                'cp -a "$1" /root/.cache/huggingface/', "stage", src])


def up(shape, cluster="lab", inventory=None, latency=None, parallel=8, bare=False,
       engine_kind="sim"):
    spec = topology.parse_shape(shape)
    if engine_kind == "real" and shape not in topology.REAL_PROFILES:
        raise SystemExit("npu-lab: the real engine runs on %s (vLLM's CPU build, the tiny "
                         "model); %s is for the simulated engine" % (
                             " or ".join(sorted(topology.REAL_PROFILES)), shape))
    if engine_kind == "real":
        engine.build()
    existing = clusters().get(cluster)
    inventory = Path(inventory) if inventory else default_inventory(cluster)
    if existing:
        if existing["shape"] != shape or len(existing["nodes"]) != spec["nodes"]:
            raise SystemExit("lab cluster %r is already up with shape %s; `npu-lab down --name "
                             "%s` first" % (cluster, existing["shape"], cluster))
        stopped = [c["Name"].lstrip("/") for c in existing["nodes"]
                   if not c["State"]["Running"]]
        for name in stopped:
            docker.run(["start", name])
        block = existing["block"]
        names = [c["Name"].lstrip("/") for c in existing["nodes"]]
        log("cluster %r (%s) already up" % (cluster, shape))
    else:
        if not docker.engine_ok():
            raise SystemExit("the Docker engine is not running: `make setup` starts it")
        leftover = docker.ids("network", "npu-lab.cluster=%s" % cluster)
        if leftover and down(cluster)["stuck_networks"]:
            raise SystemExit("npu-lab: networks of an earlier lab %r are still there and Docker "
                             "refuses to remove them: restart dockerd, or pick another --name"
                             % cluster)
        image = images.build()["node"]
        old, new = ensure_neighbour_capacity(
            [len(c["nodes"]) for c in clusters().values()] + [spec["nodes"]])
        if old is not None and new != old:
            log("raised the kernel's ARP table limit (net.ipv4.neigh.default.gc_thresh3, shared "
                "by every container) from %d to %d for %d lab nodes" % (
                    old, new, spec["nodes"]))
        images.shared_dir().mkdir(parents=True, exist_ok=True)
        privileged_args(image)
        block = pick_block()
        nets = topology.planes(block)
        if spec["series"] != "a3":
            nets.pop("hccs")
        for plane, cfg in nets.items():
            docker.run(["network", "create", "--internal", "--driver", "bridge",
                        "--subnet", cfg["subnet"], "--gateway", cfg["gateway"],
                        "--ip-range", cfg["ip_range"],
                        "--label", "npu-lab=1", "--label", "npu-lab.cluster=" + cluster,
                        "--label", "npu-lab.plane=" + plane, "--label", "npu-lab.shape=" + shape,
                        "--label", "npu-lab.block=%d" % block,
                        "--label", "npu-lab.inventory=%s" % inventory,
                        "npu-lab-%s-%s" % (cluster, plane)])
        log("cluster %r: %s on 10.%d.0.0/16, %d nodes" % (cluster, shape, block, spec["nodes"]))
        lat = parse_latency(latency) if isinstance(latency, str) or latency is None else latency
        with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
            futs = [pool.submit(create_node, cluster, shape, block, i, image, lat, bare)
                    for i in range(spec["nodes"])]
            names = [f.result() for f in futs]
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(wait_ready, names))
    inventory.parent.mkdir(parents=True, exist_ok=True)
    inv = topology.inventory(cluster, shape, block, names, engine=engine_kind)
    if engine_kind == "real":
        with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
            list(pool.map(stage_model, names))
        inv["all"]["children"]["npu_nodes"]["vars"].update(engine.image_vars())
    else:
        inv["all"]["children"]["npu_nodes"]["vars"].update(images.serving_image_vars(
            "gcu" if shape.startswith("gcu") else "serving"))
    inv["all"]["children"]["npu_nodes"]["vars"].update(driver_vars(spec["series"], bare))
    profile = (topology.REAL_PROFILES if engine_kind == "real" else topology.LAB_PROFILES).get(shape)
    if profile:
        inv["all"]["children"]["npu_nodes"]["vars"]["npu_cluster_profile"] = profile
    inventory.write_text("# Written by `npu-lab up %s --name %s`; removed by `npu-lab down`.\n"
                         % (shape, cluster) + yaml.safe_dump(inv, sort_keys=False))
    log("inventory: %s" % inventory)
    return {"cluster": cluster, "shape": shape, "block": block, "nodes": names,
            "inventory": str(inventory), "engine": engine_kind}


def down(cluster="lab", everything=False):
    label = LABEL if everything else "npu-lab.cluster=%s" % cluster
    info = clusters()
    inventories = [c["inventory"] for name, c in info.items()
                   if c.get("inventory") and (everything or name == cluster)]
    ctrs = docker.ids("container", label)
    names = [c["Name"].lstrip("/") for c in docker.inspect("container", ctrs)]
    if ctrs:
        docker.run(["rm", "-f", "-v"] + ctrs)
    nets = docker.ids("network", label)
    stuck = []
    for net in nets:
        if docker.run(["network", "rm", net], check=False).returncode == 0:
            continue
        # Docker 20.10 can keep a removed container's endpoint on a network ("has active
        # endpoints" with no container left), and releases endpoints after `rm -f` returns:
        # disconnect every endpoint it still lists (and our containers) by force, then retry
        # for a few seconds.
        for _attempt in range(5):
            listed = [c.get("Name") for c in ((docker.inspect("network", [net]) or [{}])[0]
                                              .get("Containers") or {}).values()]
            for name in sorted(set(names) | set(n for n in listed if n)):
                docker.run(["network", "disconnect", "-f", net, name], check=False)
            if docker.run(["network", "rm", net], check=False).returncode == 0:
                break
            time.sleep(1)
        else:
            stuck.append(net)
    vols = docker.ids("volume", label)
    if vols:
        docker.run(["volume", "rm", "-f"] + vols)
    for inv in inventories:
        path = Path(inv)
        if path.exists() and path.read_text().startswith("# Written by `npu-lab up"):
            path.unlink()
    log("removed %d containers, %d networks, %d volumes" % (len(ctrs), len(nets) - len(stuck),
                                                            len(vols)))
    names = [n["Name"] for n in docker.inspect("network", stuck)] if stuck else []
    if names:
        # Not an error of the teardown: the nodes are gone, and a new lab picks another
        # address block (and `up` of this name retries the removal first).
        sys.stderr.write("npu-lab: WARNING: Docker refuses to remove network(s) %s: it still "
                         "lists endpoints of containers that no longer exist (a known Docker "
                         "20.10 fault). Everything else of the cluster is removed; restart "
                         "dockerd, then run `npu-lab down --all` to remove them.\n"
                         % ", ".join(names))
    return {"containers": len(ctrs), "networks": len(nets), "volumes": len(vols),
            "stuck_networks": names}


def status(cluster=None):
    rows = []
    for name, info in sorted(clusters().items()):
        if cluster and name != cluster:
            continue
        for ctr in info["nodes"]:
            labels = ctr["Config"]["Labels"]
            addrs = {n.split("-")[-1]: v["IPAddress"]
                     for n, v in ctr["NetworkSettings"]["Networks"].items()}
            rows.append((name, info["shape"], labels["npu-lab.node"], ctr["Name"].lstrip("/"),
                         ctr["State"]["Status"], addrs.get("mgmt", "-")))
    return rows


def exec_node(cluster, node, cmd):
    name = node_container(cluster, node)
    return subprocess.run(["docker", "exec", "-i", name] + cmd, check=False).returncode


def fault(cluster, node, args):
    name = node_container(cluster, node)
    res = docker.run(["exec", name, "npu-lab-fault"] + list(args), check=False)
    sys.stdout.write(res.stdout.decode())
    sys.stderr.write(res.stderr.decode())
    return res.returncode


def reset(cluster="lab"):
    info = clusters().get(cluster)
    if not info:
        raise SystemExit("no lab cluster %r is up" % cluster)
    names = [c["Name"].lstrip("/") for c in info["nodes"]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: docker.run(["exec", n, "npu-lab-fault", "reset"],
                                                     check=False), names))
    bad = [n for n, r in zip(names, results) if r.returncode != 0]
    if bad:
        raise SystemExit("reset failed on %s" % ", ".join(bad))
    log("cluster %r reset to healthy (%d nodes)" % (cluster, len(names)))
    return 0


def load_sim():
    """The node simulator module (lab/sim/npulab_sim.py), e.g. for its fault list."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("npulab_sim", images.SIM)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(prog="npu-lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("build", help="build the lab images (once; skipped when up to date)")
    p.add_argument("--force", action="store_true")
    p.add_argument("--engine", choices=["sim", "real"], default="sim",
                   help="real: also vLLM's CPU build (shared install), its image and the "
                        "tiny model")
    p = sub.add_parser("up", help="bring a lab cluster up")
    p.add_argument("shape", help="a2x2, a3x2, a3x8, gcux4 or any <series>x<N>")
    p.add_argument("--name", default="lab")
    p.add_argument("--inventory", help="where to write hosts.yml "
                                       "(default inventories/<name>/hosts.yml)")
    p.add_argument("--latency", help="tool latency, e.g. query_ms=250,ping_ms=1000 (default)")
    p.add_argument("--bare", action="store_true",
                   help="fresh servers: no driver, firmware, CANN or TopsPlatform yet; the "
                        "inventory names the lab's stand-in packages for the driver roles")
    p.add_argument("--engine", choices=["sim", "real"], default="sim",
                   help="real: serve with vLLM's CPU build and the lab's tiny model (a2x1: "
                        "profile lab-cpu-single, a2x2: lab-cpu-dp-headless) instead of the "
                        "simulated engine")
    p = sub.add_parser("packages", help="write stand-in .run packages (driver, firmware, CANN, "
                                        "TopsPlatform) and a SHA256SUMS file into DIR")
    p.add_argument("dir")
    p.add_argument("--series", choices=["a2", "a3", "gcu"], default="a2")
    p.add_argument("--set", action="append", default=[], metavar="KIND=VERSION",
                   help="another version of one package, e.g. driver=25.2.0 (repeatable)")
    p.add_argument("--arch", default="x86_64", help="the packages' architecture (aarch64 makes "
                                                    "an installer refuse with Arch mismatch)")
    p.add_argument("--node-dir", help="print JSON for an inventory: {kind: {path, sha256}} with "
                                      "the paths as nodes see DIR (e.g. /mnt/npu-lab/packages/x)")
    p = sub.add_parser("down", help="remove a lab cluster")
    p.add_argument("--name", default="lab")
    p.add_argument("--all", action="store_true", help="every lab cluster on this host")
    p = sub.add_parser("status", help="list lab clusters and nodes")
    p.add_argument("--name")
    p = sub.add_parser("fault", help="inject a fault on one node")
    p.add_argument("node")
    p.add_argument("args", nargs="+", help="<kind> [device] [value]")
    p.add_argument("--name", default="lab")
    sub.add_parser("faults", help="list the fault kinds")
    p = sub.add_parser("reset", help="restore every node's healthy state")
    p.add_argument("--name", default="lab")
    p = sub.add_parser("exec", help="run a command on a node")
    p.add_argument("node")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.add_argument("--name", default="lab")
    p = sub.add_parser("state", help="print a node's initial state file (JSON)")
    p.add_argument("shape")
    p.add_argument("index", nargs="?", type=int, default=0)
    p.add_argument("--name", default="lab")
    p.add_argument("--block", type=int, default=200)
    p.add_argument("--bare", action="store_true", help="a fresh server (no driver yet)")
    p = sub.add_parser("files", help="print a node's driver/version files as JSON {path: text}")
    p.add_argument("shape")
    p.add_argument("index", nargs="?", type=int, default=0)
    p.add_argument("--name", default="lab")
    p.add_argument("--block", type=int, default=200)
    p = sub.add_parser("image-vars", help="print the serving image inventory variables as JSON "
                                          "(tag, tarball path on a node, sha256)")
    p.add_argument("--variant", choices=["serving", "ray", "gcu", "pd", "cpu", "bench",
                                         "bench-aisbench"],
                   default="serving",
                   help="the plain serving image (default), the one with real Ray, "
                        "Enflame's, the prefill/decode one (example proxy, vllm-router), "
                        "the real engine's (vLLM's CPU build), or the benchmark client's "
                        "(vllm bench serve from that build, the tiny model's tokenizer; "
                        "bench-aisbench: AISBench installed from the shared wheel directory)")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "build":
            tags = images.build(force=args.force)
            if args.engine == "real":
                tags["serving-cpu"] = engine.build(force=args.force)
            for kind, tag in tags.items():
                print("%-7s %s" % (kind, tag))
        elif args.cmd == "up":
            res = up(args.shape, args.name, args.inventory, args.latency, bare=args.bare,
                     engine_kind=args.engine)
            print("lab %s (%s) is up: %s" % (res["cluster"], res["shape"],
                                             ", ".join(res["nodes"])))
            print("inventory: %s" % res["inventory"])
        elif args.cmd == "packages":
            versions = packages.default_versions(args.series)
            for item in args.set:
                kind, _eq, version = item.partition("=")
                if kind not in versions or not version:
                    raise SystemExit("--set takes KIND=VERSION with KIND one of %s"
                                     % ", ".join(versions))
                versions[kind] = version
            written = packages.write(args.dir, args.series, versions, arch=args.arch)
            if args.node_dir:
                print(json.dumps({kind: {"path": "%s/%s" % (args.node_dir.rstrip("/"),
                                                            Path(info["path"]).name),
                                         "sha256": info["sha256"]}
                                  for kind, info in written.items()}, sort_keys=True))
            for kind, info in ([] if args.node_dir else written.items()):
                print("%-12s %s  %s" % (kind, info["sha256"], info["path"]))
        elif args.cmd == "down":
            down(args.name, everything=args.all)
        elif args.cmd == "status":
            rows = status(args.name)
            if not rows:
                print("no lab cluster is up")
            for row in rows:
                print("%-10s %-6s %-10s %-28s %-8s %s" % row)
        elif args.cmd == "fault":
            return fault(args.name, args.node, args.args)
        elif args.cmd == "faults":
            sim = load_sim()
            for kind, text in sim.FAULTS.items():
                print("%-14s %s" % (kind, text))
        elif args.cmd == "reset":
            return reset(args.name)
        elif args.cmd == "state":
            state = topology.node_state(args.name, args.shape, args.block, args.index,
                                        bare=args.bare)
            print(json.dumps(state, indent=1, sort_keys=True))
        elif args.cmd == "files":
            state = topology.node_state(args.name, args.shape, args.block, args.index)
            print(json.dumps(topology.version_files(state), indent=1, sort_keys=True))
        elif args.cmd == "image-vars":
            out = (engine.image_vars() if args.variant == "cpu"
                   else engine.bench_vars("aisbench" if args.variant == "bench-aisbench" else "vllm")
                   if args.variant.startswith("bench") else images.serving_image_vars(args.variant))
            print(json.dumps(out, sort_keys=True))
        elif args.cmd == "exec":
            cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
            return exec_node(args.name, args.node, cmd)
    except (docker.DockerError, topology.ShapeError) as exc:
        print("npu-lab: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
