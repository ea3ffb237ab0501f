#!/usr/bin/env python3
"""The lab's simulated vLLM engine, installed as `vllm` in the lab serving image.

No model and no NPU: everything around them behaves like the real stack, so the playbooks
that start, gate and tear down vLLM are exercised for real.

- `vllm serve MODEL [options]` parses its options against the option table of its version
  (NPU_LAB_VLLM_VERSION, default from /etc/npu-lab-vllm/version) and exits 2 with argparse's
  text on an unknown or malformed option, like vLLM.
- It checks the environment the way the real stack fails: HCCL_IF_IP must be a local address;
  GLOO/TP/HCCL_SOCKET_IFNAME must name an interface that has it; dp-local x tp x pp NPUs must
  be visible (/dev/davinciN, ASCEND_RT_VISIBLE_DEVICES); /etc/hccn.conf and hccn_tool must be
  mounted.
- Data parallel over the network: the head listens on --data-parallel-address:
  --data-parallel-rpc-port; --headless ranks connect (retrying until the head is up) and
  register their ranks.  The group is complete only with every rank.  A rank that goes away
  during start makes the head fail; after start, as vLLM 0.32.0 does in the lab, the head's
  /health stays 200 and the requests it routes to that rank hang.  A headless node whose
  head goes away exits.
- One child process per local DP rank (`EngineCore_DP<n>`); if one dies during start the
  front end exits 1; after start its /health is 503 for a moment, then the port closes and it
  exits 0 (what the real engine does); a headless node exits 0 either way.
- `--distributed-executor-backend ray`: joins the running Ray cluster (real Ray), refuses a
  driver node without NPU, asks for a placement group of TP x PP `{"NPU": 1}` bundles and
  runs one worker actor on every node holding bundles; each checks its node's Ray address
  against its HCCL_IF_IP and that Ray left ASCEND_RT_VISIBLE_DEVICES alone (vLLM's messages
  where vLLM has one).  `python -m vllm.entrypoints.openai.api_server --model M` works too.
- The head binds its API port at start and accepts connections only once the group is complete
  and loaded (connection refused before, as vLLM), then serves /health, /v1/models,
  /v1/completions, /v1/chat/completions (deterministic text, token usage, SSE streaming) and
  /metrics (Prometheus text, vLLM's metric names).  SIGTERM stops it cleanly.

Tunables (environment): NPU_LAB_VLLM_LOAD_SECONDS (simulated weight load, default 2),
NPU_LAB_VLLM_TOKEN_MS (per generated token after the first, default 5), NPU_LAB_VLLM_TTFT_MS
(time to the first token, default the per-token time), NPU_LAB_VLLM_CONNECT_TIMEOUT (headless
wait for the head, default 300), NPU_LAB_VLLM_FAULT=crash-on-start[:rank] (that local rank
exits during load), NPU_LAB_VLLM_LIB (where vllm_args.py lives).
"""
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LIB = os.environ.get("NPU_LAB_VLLM_LIB", "/usr/local/lib/npu-lab-vllm")
sys.path.insert(0, LIB)
import vllm_args  # noqa: E402  (copied next to this file in the image)

ROOT = os.environ.get("NPU_LAB_VLLM_ROOT", "/")   # tests point this at a fake root
STOP = threading.Event()
WORDS = ("the", "cluster", "serves", "tokens", "across", "every", "rank", "and", "node",
         "with", "steady", "latency", "while", "experts", "exchange", "activations", "over",
         "links", "that", "were", "verified", "first")


def log(level, msg):
    sys.stderr.write("%s %s [npu-lab vllm] %s\n" % (level, time.strftime("%m-%d %H:%M:%S"), msg))
    sys.stderr.flush()


def die(msg, code=1):
    log("ERROR", msg)
    sys.exit(code)


def version():
    if os.environ.get("NPU_LAB_VLLM_VERSION"):
        return os.environ["NPU_LAB_VLLM_VERSION"]
    try:
        with open(os.path.join(ROOT, "etc/npu-lab-vllm/version")) as handle:
            return handle.read().strip()
    except OSError:
        return vllm_args.BASE_VERSION


# ------------------------------------------------------------------ environment checks

def local_addresses():
    """{interface: [ipv4 addresses]} from `ip -j -4 addr`."""
    out = subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True,
                         check=False).stdout
    result = {}
    for link in json.loads(out or "[]"):
        result[link["ifname"]] = [a["local"] for a in link.get("addr_info", [])]
    return result


def visible_devices():
    devs = sorted(int(m.group(1)) for m in (re.match(r"davinci(\d+)$", n)
                                            for n in os.listdir(os.path.join(ROOT, "dev")))
                  if m)
    env = os.environ.get("ASCEND_RT_VISIBLE_DEVICES")
    if env:
        wanted = [int(x) for x in env.split(",") if x.strip().isdigit()]
        devs = [d for d in wanted if d in devs]
    return devs


GCU_LOCKS = []   # held for the process's life: one engine per GCU on a node


def check_enflame(opts, multi_node):
    """Enflame (runbook 004): TOPS_VISIBLE_DEVICES names GCUs the container has, enough for
    TP x PP, none used by another engine of this node; GLOO_SOCKET_IFNAME owns an address."""
    import fcntl
    tp = int(opts.get("tensor_parallel_size") or 1) * int(opts.get("pipeline_parallel_size") or 1)
    present = sorted(int(m.group(1)) for m in (re.match(r"gcu(\d+)$", n)
                                               for n in os.listdir(os.path.join(ROOT, "dev")))
                     if m)
    env = os.environ.get("TOPS_VISIBLE_DEVICES")
    wanted = [int(x) for x in env.split(",") if x.strip().isdigit()] if env else present
    missing = [d for d in wanted if d not in present]
    if missing:
        die("RuntimeError: TOPS_VISIBLE_DEVICES=%s names GCU %s, which this container does not "
            "have (/dev/gcuN: %s)" % (env, ",".join(str(d) for d in missing),
                                      ",".join(str(d) for d in present) or "none"))
    if len(wanted) < tp:
        die("RuntimeError: tensor-parallel-size %d needs %d GCUs, but only %d are visible (%s)" % (
            tp, tp, len(wanted), ",".join("gcu%d" % d for d in wanted) or "none"))
    for dev in wanted[:tp]:
        path = os.path.join(os.environ.get("NPU_LAB_VLLM_LOCK_DIR", "/tmp"),
                            "npu-lab-gcu%d.lock" % dev)
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            die("RuntimeError: GCU %d is already in use by another engine on this node (pid %s): "
                "two engines share a device" % (dev, handle.read().strip() or "?"))
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        GCU_LOCKS.append(handle)
    if not multi_node:
        return
    addrs = local_addresses()
    nic = os.environ.get("GLOO_SOCKET_IFNAME")
    if not nic:
        die("RuntimeError: GLOO_SOCKET_IFNAME is not set: the GLOO socket would pick an "
            "arbitrary interface")
    if nic not in addrs or not addrs[nic]:
        die("RuntimeError: [enforce fail at gloo/transport/tcp/device.cc] ifa != nullptr. "
            "Unable to find interface for: [%s] (GLOO_SOCKET_IFNAME)" % nic)


def check_environment(opts, multi_node, ray_backend=False, external_slot=None):
    """external_slot: for one engine of an external DP group, the devices it takes come after
    this many engines' (vllm-ascend 0.9.x places a rank by VLLM_DP_RANK_LOCAL in the visible
    devices; with --data-parallel-rank the visible devices are the rank's own: slot 0)."""
    if os.environ.get("TOPS_VISIBLE_DEVICES") is not None or \
            os.path.exists(os.path.join(ROOT, "dev", "gcu0")):
        return check_enflame(opts, multi_node)
    tp = opts.get("tensor_parallel_size") or 1
    pp = opts.get("pipeline_parallel_size") or 1
    local = opts.get("data_parallel_size_local") or opts.get("data_parallel_size") or 1
    if external_slot is not None:
        local = external_slot + 1
    need = int(local) * int(tp) * int(pp)
    if ray_backend:
        need = 0    # Ray places the workers on the nodes that hold the NPUs (checked there)
    devs = visible_devices()
    if len(devs) < need:
        die("RuntimeError: data-parallel-size-local %s x tensor-parallel-size %s x "
            "pipeline-parallel-size %s needs %d NPUs, but only %d are visible (%s)" % (
                local, tp, pp, need, len(devs), ",".join("davinci%d" % d for d in devs) or
                "no /dev/davinciN"))
    for path in ("/etc/hccn.conf", "/usr/local/Ascend/driver/tools/hccn_tool"):
        if not os.path.exists(os.path.join(ROOT, path.lstrip("/"))):
            die("RuntimeError: %s not found in the container: HCCL cannot read the NPU network "
                "configuration (mount it from the host)" % path)
    if not multi_node:
        return
    addrs = local_addresses()
    ip = os.environ.get("HCCL_IF_IP")
    if not ip:
        die("RuntimeError: HCCL_IF_IP is not set: multi-node HCCL needs the node's own address")
    owners = [nic for nic, ips in addrs.items() if ip in ips]
    if not owners:
        die("RuntimeError: HCCL_IF_IP=%s is not an address of this node (local: %s); "
            "HCCL cannot bind it" % (ip, ", ".join("%s=%s" % (n, "/".join(a))
                                                   for n, a in sorted(addrs.items()))))
    for var in ("GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME", "HCCL_SOCKET_IFNAME"):
        nic = os.environ.get(var)
        if not nic:
            die("RuntimeError: %s is not set: the %s socket would pick an arbitrary interface" %
                (var, var.split("_", maxsplit=1)[0]))
        if nic not in addrs:
            die("RuntimeError: [enforce fail at gloo/transport/tcp/device.cc] ifa != nullptr. "
                "Unable to find interface for: [%s] (%s)" % (nic, var))
        if ip not in addrs[nic]:
            die("RuntimeError: %s=%s does not have HCCL_IF_IP %s (it has %s); sockets would "
                "bind a different network than HCCL" % (var, nic, ip,
                                                        ", ".join(addrs[nic]) or "no address"))


# ------------------------------------------------------------------ Ray executor

PG_SPECS_WAIT = ("Waiting for creating a placement group of specs for %d seconds. specs=%s. "
                 "Check `ray status` and `ray list nodes` to see if you have enough resources, "
                 "and make sure the IP addresses used by ray cluster are the same as "
                 "VLLM_HOST_IP environment variable specified in each node if you are running "
                 "on a multi-node.")


class RayExecutor(object):
    """`--distributed-executor-backend ray`, as vLLM does it: join the running Ray cluster
    (ray.init(address="auto")), check the driver node has an NPU, ask for a placement group of
    TP x PP bundles of {"NPU": 1} (the first on the driver node, strategy PACK) and start the
    workers as Ray actors on the nodes that hold the bundles -- here one actor per node, which
    checks that its node's Ray address is the address its HCCL was told to use and that Ray
    left the node's visible devices alone."""

    def __init__(self, world, ips_env="HCCL_IF_IP"):
        try:
            import ray
            from ray.util.placement_group import placement_group
            from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy
        except ImportError:
            die("ImportError: Failed to import Ray, please install Ray with `pip install ray`.")
        self.ray, self.pg, self.actors = ray, None, []
        ray.init(address="auto", logging_level="ERROR", log_to_driver=False)
        driver_ip = ray.util.get_node_ip_address()
        told = os.environ.get("VLLM_HOST_IP") or os.environ.get(ips_env)
        if told and told != driver_ip:
            die("RuntimeError: this node is %s in Ray but %s=%s: the IP addresses used by ray "
                "cluster must be the same as VLLM_HOST_IP/%s on each node" % (
                    driver_ip, "VLLM_HOST_IP" if os.environ.get("VLLM_HOST_IP") else ips_env,
                    told, ips_env))
        from ray._private.state import available_resources_per_node
        node_id = ray.get_runtime_context().get_node_id()
        current = available_resources_per_node().get(node_id, {})
        specs = [{"NPU": 1.0} for _bundle in range(world)]
        if current.get("NPU", 0) < 1:
            die("ValueError: Current node has no NPU available. current_node_resource=%s. vLLM "
                "engine cannot start without NPU. Make sure you have at least 1 NPU available "
                "in a node current_ip=%s placement_group_specs=%s" % (
                    current, driver_ip, specs))
        specs[0]["node:%s" % driver_ip] = 0.001
        self.pg = placement_group(specs, strategy="PACK")
        timeout = float(os.environ.get("NPU_LAB_VLLM_PG_TIMEOUT", "30"))
        started = time.time()
        while True:
            ready, _pending = ray.wait([self.pg.ready()], timeout=min(10, timeout))
            if ready:
                break
            waited = time.time() - started
            if waited >= timeout or STOP.is_set():
                die("ValueError: Cannot provide a placement group of placement_group_specs=%s "
                    "within %d seconds. See `ray status` and `ray list nodes` to make sure the "
                    "cluster has enough resources." % (specs, timeout))
            log("INFO", PG_SPECS_WAIT % (int(waited), specs))
        table = ray.util.placement_group_table(self.pg)["bundles_to_node_id"]
        first = {}
        for index in sorted(table):
            first.setdefault(table[index], index)

        @ray.remote(num_cpus=0)
        class RayWorkerWrapper(object):
            def info(self):
                return {"ip": ray.util.get_node_ip_address(),
                        "hccl_if_ip": os.environ.get("HCCL_IF_IP"),
                        "visible": os.environ.get("ASCEND_RT_VISIBLE_DEVICES"),
                        "noset": os.environ.get(
                            "RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES"),
                        "pid": os.getpid()}

        for node, index in sorted(first.items(), key=lambda kv: kv[1]):
            self.actors.append(RayWorkerWrapper.options(
                resources={"NPU": 1.0}, scheduling_strategy=PlacementGroupSchedulingStrategy(
                    self.pg, placement_group_bundle_index=index)).remote())
        infos = ray.get([a.info.remote() for a in self.actors], timeout=120)
        per_node = {}
        for node in table.values():
            per_node[node] = per_node.get(node, 0) + 1
        for info, (node, _index) in zip(infos, sorted(first.items(), key=lambda kv: kv[1])):
            if info["hccl_if_ip"] != info["ip"]:
                die("RuntimeError: the Ray worker on %s has HCCL_IF_IP=%s: Ray was started on "
                    "that node with another environment (set it before `ray start`; a running "
                    "Ray never picks up a changed one)" % (info["ip"], info["hccl_if_ip"]))
            if info["noset"] != "1":
                die("RuntimeError: Error setting ASCEND_RT_VISIBLE_DEVICES on %s: Ray rewrote "
                    "it to %s for its worker (RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES "
                    "was not set before `ray start`)" % (info["ip"], info["visible"]))
            log("INFO", "RayWorkerWrapper pid=%s on %s: %d NPU bundle%s (visible devices %s)" % (
                info["pid"], info["ip"], per_node[node], "" if per_node[node] == 1 else "s",
                info["visible"]))
        log("INFO", "Ray placement group of %d NPU bundles over %d node%s" % (
            world, len(first), "" if len(first) == 1 else "s"))

    def alive(self):
        try:
            self.ray.get([a.info.remote() for a in self.actors], timeout=10)
            return True
        except Exception:  # pylint: disable=broad-except
            return False

    def stop(self):
        for actor in self.actors:
            try:
                self.ray.kill(actor)
            except Exception:  # pylint: disable=broad-except
                pass
        if self.pg is not None:
            try:
                self.ray.util.remove_placement_group(self.pg)
            except Exception:  # pylint: disable=broad-except
                pass
        self.ray.shutdown()


# ------------------------------------------------------------------ engine cores

def engine_core(rank, load_seconds, crash):
    """A per-rank engine core process: 'loads weights', then idles until told to stop."""
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        libc.prctl(15, ("EngineCore_DP%d" % rank).encode(), 0, 0, 0)   # PR_SET_NAME
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG: die with the front end
    except Exception:  # pragma: no cover
        pass
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if crash:
        time.sleep(load_seconds / 2.0)
        log("ERROR", "EngineCore_DP%d: RuntimeError: simulated failure while loading weights "
            "(NPU_LAB_VLLM_FAULT)" % rank)
        os._exit(1)
    while True:
        time.sleep(3600)


class Cores(object):
    def __init__(self, ranks, load_seconds, fault):
        self.pids = {}
        crash_rank = None
        if fault.startswith("crash-on-start"):
            crash_rank = int(fault.split(":")[1]) if ":" in fault else ranks[0]
        for rank in ranks:
            pid = os.fork()
            if pid == 0:
                engine_core(rank, load_seconds, rank == crash_rank)
            self.pids[pid] = rank

    def dead(self):
        """Rank of a core that exited, or None."""
        for pid, rank in list(self.pids.items()):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                del self.pids[pid]
                return rank, status
        return None

    def stop(self):
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in list(self.pids):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.pids = {}


# ------------------------------------------------------------------ data-parallel group

LAYOUT_KEYS = (("tp", "tensor-parallel-size"), ("pp", "pipeline-parallel-size"),
               ("ep", "enable-expert-parallel"), ("version", "vLLM version"))


class Group(object):
    """The head's view of the DP group: which ranks registered, from where."""

    def __init__(self, size, local_ranks, model, layout=None):
        self.size = size
        self.model = model
        # what every rank of one group must share besides the model and the DP size, as the
        # real stack fails when they differ: TP, PP, expert parallelism, the engine version
        self.layout = dict(layout or {})
        self.ranks = {r: "local" for r in local_ranks}
        self.follower = False    # a rank that registered with a master elsewhere
        self.lost = []
        self.lock = threading.Lock()
        self.complete = threading.Event()
        if len(self.ranks) == size:
            self.complete.set()

    def register(self, ranks, peer, hello):
        with self.lock:
            if hello.get("model") != self.model:
                return "model %r differs from the head's %r" % (hello.get("model"), self.model)
            if int(hello.get("dp_size", -1)) != self.size:
                return "data-parallel-size %s differs from the head's %d" % (
                    hello.get("dp_size"), self.size)
            for key, what in LAYOUT_KEYS:
                if key in self.layout and hello.get(key) != self.layout[key]:
                    return "%s %r differs from the head's %r" % (what, hello.get(key),
                                                                 self.layout[key])
            for r in ranks:
                if r < 0 or r >= self.size:
                    return "rank %d outside data-parallel-size %d" % (r, self.size)
                if r in self.ranks:
                    return "rank %d is already registered by %s" % (r, self.ranks[r])
            for r in ranks:
                self.ranks[r] = peer
            log("INFO", "DP ranks %s registered from %s (%d/%d)" % (
                ranks, peer, len(self.ranks), self.size))
            if len(self.ranks) == self.size:
                self.complete.set()
        return None

    def drop(self, ranks, peer):
        with self.lock:
            for r in ranks:
                if self.ranks.get(r) == peer:
                    del self.ranks[r]
                    self.lost.append(r)
            log("ERROR", "DP ranks %s from %s went away" % (ranks, peer))


def serve_rpc(group, address, port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        srv.bind((address, port))
    except OSError as exc:
        die("OSError: [Errno %d] %s: cannot bind data-parallel RPC %s:%d" % (
            exc.errno, exc.strerror, address, port))
    srv.listen(128)
    srv.settimeout(0.5)

    def peer_thread(conn, addr):
        ranks = []
        peer = "%s:%d" % addr
        try:
            conn.settimeout(None)
            hello = json.loads(conn.makefile().readline() or "{}")
            ranks = [int(r) for r in hello.get("ranks", [])]
            peer = "%s (%s)" % (hello.get("host") or addr[0], addr[0])
            err = group.register(ranks, peer, hello)
            conn.sendall((json.dumps({"ok": err is None, "error": err}) + "\n").encode())
            if err:
                log("ERROR", "refused DP registration from %s: %s" % (peer, err))
                ranks = []
                return
            conn.settimeout(0.5)
            told = False
            while not STOP.is_set():
                if group.complete.is_set() and not told:
                    conn.sendall(b'{"complete": true}\n')   # the rank may start serving
                    told = True
                try:
                    if not conn.recv(64):
                        break
                except socket.timeout:
                    continue
        except (OSError, ValueError):
            pass
        finally:
            conn.close()
            if ranks and not STOP.is_set():
                group.drop(ranks, peer)

    def accept_loop():
        while not STOP.is_set():
            try:
                conn, addr = srv.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            threading.Thread(target=peer_thread, args=(conn, addr), daemon=True).start()
        srv.close()

    threading.Thread(target=accept_loop, daemon=True).start()
    log("INFO", "data-parallel RPC listening on %s:%d, waiting for %d ranks" % (
        address, port, group.size))


def join_head(address, port, hello, timeout, complete=None, what="data-parallel head"):
    deadline = time.time() + timeout
    while not STOP.is_set():
        try:
            conn = socket.create_connection((address, port), timeout=2)
            break
        except OSError as exc:
            if time.time() > deadline:
                die("TimeoutError: no %s at %s:%d after %ds (%s)" % (
                    what, address, port, timeout, exc.strerror or exc))
            time.sleep(0.5)
    else:
        sys.exit(0)
    conn.settimeout(None)
    conn.sendall((json.dumps(hello) + "\n").encode())
    reader = conn.makefile()
    reply = json.loads(reader.readline() or "{}")
    if not reply.get("ok"):
        die("RuntimeError: the data-parallel head at %s:%d refused ranks %s: %s" % (
            address, port, hello["ranks"], reply.get("error") or "connection closed"))
    log("INFO", "registered DP ranks %s with the head at %s:%d" % (hello["ranks"], address, port))

    def watch():
        while not STOP.is_set():
            try:
                data = reader.readline()
            except (OSError, ValueError):
                data = ""
            if not data:
                if not STOP.is_set():
                    log("ERROR", "the %s at %s:%d went away; shutting down" % (
                        what, address, port))
                    os.kill(os.getpid(), signal.SIGUSR1)
                return
            if complete is not None and "complete" in data:
                complete.set()

    threading.Thread(target=watch, daemon=True).start()
    return conn


# ------------------------------------------------------------------ prefill/decode KV transfer

def _version_tuple(ver):
    return tuple(int(p) for p in re.findall(r"\d+", str(ver))[:3])


class KVSide(object):
    """One engine's side of MooncakeConnectorV1 (prefill `kv_producer`, decode `kv_consumer`):
    its side channel listens on kv_port + dp_rank x tp x pp (the bind fails like ZMQ's when the
    port is taken).  A producer answers a request carrying kv_transfer_params.do_remote_decode
    with the parameters a decode rank needs (its engine id, host, side-channel port and the
    request's block ids) and keeps those blocks until fetched; a consumer serves only requests
    whose parameters point at a live producer that holds those blocks for that engine id, and
    fetches them through the producer's side channel first.  A request on the wrong side, or
    without parameters on the decode side (a proxy that skipped prefill), is refused."""

    def __init__(self, config, rank, per_rank, host):
        self.role = config.get("kv_role")
        self.engine_id = str(config.get("engine_id") or "%x" % (hash(time.time()) & 0xffffffff))
        self.host = host
        self.port = int(config.get("kv_port") or 20001) + rank * per_rank
        self.tp = per_rank
        self.current = "kv_connector_extra_config" in config
        self.blocks = {}
        self.lock = threading.Lock()
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            srv.bind((host, self.port))
        except OSError as exc:
            die("zmq.error.ZMQError: %s (addr='tcp://%s:%d'): the Mooncake side channel "
                "(kv_port %s + dp_rank %d x tp x pp %d)" % (
                    exc.strerror, host, self.port, config.get("kv_port"), rank, per_rank))
        srv.listen(64)
        srv.settimeout(0.5)
        self.srv = srv
        threading.Thread(target=self._serve, daemon=True).start()
        log("INFO", "%s %s: engine_id %s, side channel %s:%d" % (
            config.get("kv_connector"), self.role, self.engine_id, host, self.port))

    @classmethod
    def from_opts(cls, opts, ver, rank, layout):
        try:
            config = json.loads(opts["kv_transfer_config"])
        except ValueError as exc:
            die("argument --kv-transfer-config: invalid JSON: %s" % exc, 2)
        if "kv_parallel_size" in config and _version_tuple(ver) >= (0, 33, 0):
            die("pydantic_core._pydantic_core.ValidationError: 1 validation error for "
                "KVTransferConfig\nkv_parallel_size\n  Extra inputs are not permitted", 1)
        if config.get("kv_role") not in ("kv_producer", "kv_consumer", "kv_both"):
            die("ValueError: Unsupported kv_role: %r" % config.get("kv_role"))
        extra = config.get("kv_connector_extra_config")
        if _version_tuple(ver) >= (0, 10, 0):
            sides = extra if isinstance(extra, dict) else {}
            if not all(isinstance(sides.get(s), dict) and "dp_size" in sides[s] and
                       "tp_size" in sides[s] for s in ("prefill", "decode")):
                die("AssertionError: kv_connector_extra_config must give prefill and decode "
                    "dp_size and tp_size (MooncakeConnectorV1)")
            if int(sides["prefill"]["tp_size"]) < int(sides["decode"]["tp_size"]):
                die("ValueError: prefill tp_size %s < decode tp_size %s is not supported" % (
                    sides["prefill"]["tp_size"], sides["decode"]["tp_size"]))
        host = os.environ.get("HCCL_IF_IP") or opts.get("host") or "127.0.0.1"
        return cls(config, rank, int(layout["tp"]) * int(layout["pp"]), host)

    def _serve(self):
        while not STOP.is_set():
            try:
                conn, _addr = self.srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        try:
            conn.settimeout(5)
            ask = json.loads(conn.makefile().readline() or "{}")
            if self.role != "kv_producer":
                reply = {"ok": False, "error": "%s:%d is a %s, not a prefill rank" % (
                    self.host, self.port, self.role)}
            elif ask.get("engine_id") != self.engine_id:
                reply = {"ok": False, "error": "engine id %r is not this prefill rank's (%r)" % (
                    ask.get("engine_id"), self.engine_id)}
            else:
                with self.lock:
                    held = self.blocks.pop(tuple(ask.get("block_ids") or []), None)
                reply = {"ok": True} if held else {"ok": False, "error": "blocks %s are not "
                                                   "held here" % ask.get("block_ids")}
            conn.sendall((json.dumps(reply) + "\n").encode())
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def admit(self, params):
        """((code, message) or None, the kv_transfer_params of the answer or None)."""
        params = params if isinstance(params, dict) else {}
        if self.role == "kv_producer":
            if params.get("do_remote_prefill"):
                return (400, "this prefill rank (kv_producer) got a request that decodes from "
                             "remote KV (do_remote_prefill): the proxy sent a prefill result "
                             "to the prefill side"), None
            if not params.get("do_remote_decode"):
                return None, None
            ids = [int(time.time() * 1000) % 100000 + i for i in range(4)]
            with self.lock:
                self.blocks[tuple(ids)] = time.time()
            return None, {"do_remote_prefill": True, "do_remote_decode": False,
                          "remote_engine_id": self.engine_id, "remote_block_ids": ids,
                          "remote_host": self.host, "remote_port": self.port,
                          "tp_size": self.tp}
        if not params.get("do_remote_prefill"):
            return (400, "this decode rank (kv_consumer) got a request without remote KV "
                         "(kv_transfer_params.do_remote_prefill): the proxy skipped prefill"), None
        engine = params.get("remote_engine_id")
        if self.current and engine == self.engine_id:
            return (500, "AssertionError: Conflict engine id %s with local engine id %s" % (
                engine, self.engine_id)), None
        where = "%s:%s" % (params.get("remote_host"), params.get("remote_port"))
        try:
            conn = socket.create_connection((params.get("remote_host"),
                                             int(params.get("remote_port"))), timeout=2)
            conn.settimeout(5)
            conn.sendall((json.dumps({"engine_id": engine, "block_ids": params.get(
                "remote_block_ids")}) + "\n").encode())
            reply = json.loads(conn.makefile().readline() or "{}")
            conn.close()
        except (OSError, ValueError, TypeError) as exc:
            reply = {"ok": False, "error": "cannot reach it: %s" % exc}
        if not reply.get("ok"):
            return (500, "KV transfer from prefill engine %s at %s failed: %s" % (
                engine, where, reply.get("error") or "no answer")), None
        return None, None


# ------------------------------------------------------------------ OpenAI-compatible API

class State(object):
    def __init__(self, names, token_ms, api_key=None, ttft_ms=None):
        self.names = names
        # as vLLM's API server: with --api-key or VLLM_API_KEY, every /v1 route needs
        # "Authorization: Bearer <key>"; /health and /metrics stay open
        self.api_key = api_key
        self.token_ms = token_ms
        # time to the first token (prefill); the later tokens come token_ms apart
        self.ttft_ms = token_ms if ttft_ms is None else ttft_ms
        self.ready = False
        self.unhealthy = None
        self.lock = threading.Lock()
        self.metrics = {"prompt": 0, "generation": 0, "success": 0, "running": 0}
        self.kv = None
        self.requests = 0


def tokens_for(prompt, count, seed):
    h = hashlib.sha256(("%s|%s" % (seed, prompt)).encode()).digest()
    return [WORDS[(h[i % len(h)] + i) % len(WORDS)] for i in range(count)]


def make_handler(state, group, created):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            log("INFO", "%s - %s" % (self.address_string(), fmt % args))

        def send_json(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def refused(self):
            if not state.api_key or not self.path.startswith("/v1"):
                return False
            if self.headers.get("Authorization") == "Bearer " + state.api_key:
                return False
            self.send_json(401, {"error": "Unauthorized"})
            return True

        def do_GET(self):
            if self.refused():
                return None
            if self.path == "/health":
                if state.ready and not state.unhealthy:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    waiting = ("starting: waiting for the data-parallel group (%d ranks) at "
                               "its master" % group.size if group.follower else
                               "starting: %d/%d data-parallel ranks" % (len(group.ranks),
                                                                        group.size))
                    self.send_json(503, {"status": state.unhealthy or (
                        waiting if not group.complete.is_set() else "loading model")})
            elif self.path == "/v1/models":
                self.send_json(200, {"object": "list", "data": [
                    {"id": n, "object": "model", "created": created, "owned_by": "vllm",
                     "root": state.names[0], "max_model_len": 32768} for n in state.names]})
            elif self.path == "/metrics":
                self.metrics()
            else:
                self.send_json(404, {"detail": "Not Found"})

        def metrics(self):
            m = state.metrics
            label = 'model_name="%s",engine="0"' % state.names[0]
            lines = [
                "# HELP vllm:num_requests_running Number of requests in model execution batches.",
                "# TYPE vllm:num_requests_running gauge",
                "vllm:num_requests_running{%s} %d" % (label, m["running"]),
                "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
                "# TYPE vllm:num_requests_waiting gauge",
                "vllm:num_requests_waiting{%s} 0" % label,
                "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.",
                "# TYPE vllm:prompt_tokens_total counter",
                "vllm:prompt_tokens_total{%s} %d" % (label, m["prompt"]),
                "# HELP vllm:generation_tokens_total Number of generation tokens processed.",
                "# TYPE vllm:generation_tokens_total counter",
                "vllm:generation_tokens_total{%s} %d" % (label, m["generation"]),
                "# HELP vllm:request_success_total Count of successfully processed requests.",
                "# TYPE vllm:request_success_total counter",
                'vllm:request_success_total{finished_reason="length",%s} %d' % (label,
                                                                                m["success"]),
            ]
            body = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            if self.refused():
                return None
            if self.path not in ("/v1/completions", "/v1/chat/completions"):
                return self.send_json(404, {"detail": "Not Found"})
            try:
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))
                                 or b"{}")
            except ValueError:
                return self.send_json(400, {"error": {"message": "invalid JSON body",
                                                      "type": "BadRequestError", "code": 400}})
            if not state.ready:
                return self.send_json(503, {"error": {"message": "engine is not ready",
                                                      "type": "ServiceUnavailableError",
                                                      "code": 503}})
            model = req.get("model")
            if model not in state.names:
                return self.send_json(404, {"error": {
                    "message": "The model `%s` does not exist." % model,
                    "type": "NotFoundError", "param": "model", "code": 404}})
            with state.lock:
                rank = state.requests % group.size
                state.requests += 1
            if rank in group.lost and not group.follower:
                # vLLM's head keeps routing to a DP rank whose engine died: the request hangs
                log("WARNING", "request routed to DP rank %d, which went away: no answer" % rank)
                STOP.wait(900)
                return None
            kv_params = None
            if state.kv:
                refused, kv_params = state.kv.admit(req.get("kv_transfer_params"))
                if refused:
                    return self.send_json(refused[0], {"error": {
                        "message": refused[1], "type": "BadRequestError" if refused[0] == 400
                        else "InternalServerError", "code": refused[0]}})
            chat = self.path.endswith("chat/completions")
            if chat:
                prompt = " ".join(str(m.get("content", "")) for m in req.get("messages") or [])
            else:
                prompt = req.get("prompt", "")
                prompt = " ".join(prompt) if isinstance(prompt, list) else str(prompt)
            count = int(req.get("max_tokens") or req.get("max_completion_tokens") or 16)
            words = tokens_for(prompt, count, req.get("seed", 0))
            usage = {"prompt_tokens": len(prompt.split()) + 1, "completion_tokens": count,
                     "total_tokens": len(prompt.split()) + 1 + count}
            rid = ("chatcmpl-" if chat else "cmpl-") + hashlib.md5(
                (prompt + str(time.time())).encode()).hexdigest()[:24]
            with state.lock:
                state.metrics["running"] += 1
            try:
                if req.get("stream"):
                    self.stream(rid, chat, model, words, usage, req)
                else:
                    time.sleep((state.ttft_ms + state.token_ms * (count - 1)) / 1000.0)
                    text = " " + " ".join(words)
                    choice = ({"index": 0, "message": {"role": "assistant", "content": text},
                               "finish_reason": "length"} if chat else
                              {"index": 0, "text": text, "logprobs": None,
                               "finish_reason": "length"})
                    body = {"id": rid, "object": "chat.completion" if chat else
                            "text_completion", "created": int(time.time()),
                            "model": model, "choices": [choice], "usage": usage}
                    if kv_params is not None:
                        body["kv_transfer_params"] = kv_params
                    self.send_json(200, body)
            finally:
                with state.lock:
                    state.metrics["running"] -= 1
                    state.metrics["prompt"] += usage["prompt_tokens"]
                    state.metrics["generation"] += count
                    state.metrics["success"] += 1

        def stream(self, rid, chat, model, words, usage, req):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            kind = "chat.completion.chunk" if chat else "text_completion"
            for i, word in enumerate(words):
                time.sleep((state.ttft_ms if i == 0 else state.token_ms) / 1000.0)
                last = i == len(words) - 1
                piece = " " + word
                choice = ({"index": 0, "delta": ({"role": "assistant", "content": piece}
                                                 if i == 0 else {"content": piece}),
                           "finish_reason": "length" if last else None} if chat else
                          {"index": 0, "text": piece, "logprobs": None,
                           "finish_reason": "length" if last else None})
                self.wfile.write(("data: %s\n\n" % json.dumps({
                    "id": rid, "object": kind, "created": int(time.time()), "model": model,
                    "choices": [choice]})).encode())
                self.wfile.flush()
            if (req.get("stream_options") or {}).get("include_usage"):
                self.wfile.write(("data: %s\n\n" % json.dumps({
                    "id": rid, "object": kind, "created": int(time.time()), "model": model,
                    "choices": [], "usage": usage})).encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

    return Handler


# ------------------------------------------------------------------ main

def serve(argv):
    ver = version()
    parsed = vllm_args.parse(ver, argv)
    if parsed["errors"]:
        sys.stderr.write(vllm_args.error_text(parsed["errors"]) + "\n")
        return 2
    opts = parsed["values"]
    model = parsed["model"] or opts.get("model") or "facebook/opt-125m"
    names = opts.get("served_model_name") or [model]
    dp = int(opts.get("data_parallel_size") or 1)
    local = int(opts.get("data_parallel_size_local") or dp)
    start = int(opts.get("data_parallel_start_rank") or 0)
    headless = bool(opts.get("headless"))
    ray_backend = opts.get("distributed_executor_backend") == "ray"
    # one engine per DP rank, joined through vLLM's VLLM_DP_* environment (runbooks 003 on
    # vllm-ascend 0.9.x and 004), or through --data-parallel-rank (current vllm-ascend)
    env_dp = os.environ.get("VLLM_DP_SIZE") is not None
    flag_dp = opts.get("data_parallel_rank") is not None
    slot = None
    if env_dp:
        dp, local = int(os.environ["VLLM_DP_SIZE"]), 1
        start = int(os.environ.get("VLLM_DP_RANK", "0"))
        if os.environ.get("VLLM_DP_RANK_LOCAL") is not None:
            slot = int(os.environ["VLLM_DP_RANK_LOCAL"])
    elif flag_dp:
        local, start, slot = 1, int(opts["data_parallel_rank"]), 0
    multi_node = local < dp or headless or ray_backend
    log("INFO", "vLLM %s (npu-lab simulated engine) serve %s: dp %d (local %d from rank %d), "
        "tp %s, pp %s%s%s" % (ver, model, dp, local, start, opts.get("tensor_parallel_size") or 1,
                              opts.get("pipeline_parallel_size") or 1,
                              ", headless" if headless else "",
                              ", Ray executor" if ray_backend else ""))
    check_environment(opts, multi_node, ray_backend, slot)
    load_seconds = float(os.environ.get("NPU_LAB_VLLM_LOAD_SECONDS", "2"))
    token_ms = float(os.environ.get("NPU_LAB_VLLM_TOKEN_MS", "5"))
    fault = os.environ.get("NPU_LAB_VLLM_FAULT", "")
    ranks = list(range(start, start + local))

    stop_code = {"code": 0}

    def on_term(signum, _frame):
        stop_code["code"] = 0 if signum == signal.SIGTERM else 1
        STOP.set()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGUSR1, on_term)

    address = opts.get("data_parallel_address") or os.environ.get("HCCL_IF_IP") or "127.0.0.1"
    rpc_port = int(opts.get("data_parallel_rpc_port") or 29550)
    layout = {"tp": int(opts.get("tensor_parallel_size") or 1),
              "pp": int(opts.get("pipeline_parallel_size") or 1),
              "ep": bool(opts.get("enable_expert_parallel")), "version": ver}
    if env_dp:
        address = os.environ.get("VLLM_DP_MASTER_IP") or "127.0.0.1"
        rpc_port = int(os.environ.get("VLLM_DP_MASTER_PORT") or 29500)
    follower = (env_dp or flag_dp) and start != 0     # a rank that joins the master (rank 0)
    kv = KVSide.from_opts(opts, ver, start, layout) if opts.get("kv_transfer_config") else None
    group = Group(dp, [] if headless else ranks, model, layout)
    group.follower = follower
    ttft = os.environ.get("NPU_LAB_VLLM_TTFT_MS")
    state = State(names, token_ms, opts.get("api_key") or os.environ.get("VLLM_API_KEY"),
                  ttft_ms=float(ttft) if ttft not in (None, "") else None)
    state.kv = kv
    httpd = None
    conn = None
    if follower:
        conn = join_head(address, rpc_port, {"ranks": ranks, "host": os.environ.get(
            "VLLM_HOST_IP") or opts.get("host"), "model": model, "dp_size": dp, **layout},
            float(os.environ.get("NPU_LAB_VLLM_CONNECT_TIMEOUT", "300")),
            complete=group.complete, what="data-parallel master (VLLM_DP_MASTER_IP:"
                                          "VLLM_DP_MASTER_PORT)")
    if headless:
        conn = join_head(address, rpc_port, {"ranks": ranks, "host": os.environ.get(
            "HCCL_IF_IP"), "model": model, "dp_size": dp, **layout},
            float(os.environ.get("NPU_LAB_VLLM_CONNECT_TIMEOUT", "300")))
    if not headless:
        if multi_node and not ray_backend and not follower:
            serve_rpc(group, address, rpc_port)
        host = opts.get("host") or "0.0.0.0"
        port = int(opts.get("port") or 8000)
        # as vLLM: the port is bound now (a busy port fails at once) and listened on only
        # when the engines are ready -- until then a client's connection is refused
        httpd = ThreadingHTTPServer((host, port), make_handler(state, group, int(time.time())),
                                    bind_and_activate=False)
        try:
            httpd.server_bind()
        except OSError as exc:
            die("OSError: [Errno %d] error while attempting to bind on address (%r, %d): %s" % (
                exc.errno, host, port, exc.strerror))
        httpd.daemon_threads = True

    executor = None
    if ray_backend:
        executor = RayExecutor(layout["tp"] * layout["pp"])
        group.complete.set()
        last_check = time.time()
    cores = Cores(ranks, load_seconds, fault)
    log("INFO", "engine cores for DP ranks %s loading weights (%.1fs)" % (ranks, load_seconds))
    loaded_at = time.time() + load_seconds
    code = 0
    announced = False
    lost_seen = 0
    while not STOP.is_set():
        dead = cores.dead()
        if dead:
            log("ERROR", "Engine core proc EngineCore_DP%d died unexpectedly (exit code %d), "
                "shutting down" % (dead[0], os.waitstatus_to_exitcode(dead[1])))
            if state.ready:
                # vLLM: EngineDeadError, /health 503 for a moment, the HTTP server closes, the
                # process cleans up and exits 0
                state.unhealthy = "EngineCore encountered an issue"
                STOP.wait(1.5)
                httpd.shutdown()
                httpd.server_close()
                httpd = None
                log("INFO", "Shutting down FastAPI HTTP server.")
                STOP.wait(1.0)
            # during start the front end fails (exit 1); a headless node and a server that
            # was serving shut down with 0, as vLLM 0.32.0 does
            code = 0 if headless or state.ready else 1
            break
        if not headless:
            if group.lost and not state.ready:
                log("ERROR", "RuntimeError: Engine core initialization failed: DP ranks %s "
                    "went away during startup" % sorted(group.lost))
                code = 1
                break
            if len(group.lost) > lost_seen:
                lost_seen = len(group.lost)
                log("ERROR", "data-parallel ranks %s went away; /health still answers 200 "
                    "(as vLLM's does)" % sorted(group.lost))
            if group.complete.is_set() and time.time() >= loaded_at and not state.ready:
                state.ready = True
                httpd.server_activate()
                threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                 daemon=True).start()
                log("INFO", "all %d data-parallel ranks up; application startup complete; "
                    "API server on http://%s:%d" % (dp, host, port))
            if executor and time.time() - last_check > 5:
                last_check = time.time()
                if not executor.alive():
                    log("ERROR", "RayWorkerWrapper died: a Ray node of the placement group "
                        "went away; shutting down")
                    code = 1
                    break
        elif time.time() >= loaded_at and not announced:
            announced = True
            log("INFO", "DP ranks %s ready (headless)" % ranks)
        STOP.wait(0.1)
    if STOP.is_set():
        code = code or stop_code["code"]
    STOP.set()
    if httpd:
        if state.ready:
            httpd.shutdown()
        httpd.server_close()
    if conn:
        conn.close()
    cores.stop()
    if executor:
        executor.stop()
    log("INFO" if code == 0 else "ERROR", "shut down (exit %d)" % code)
    return code


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["--version"], ["-v"]):
        print(version())
        return 0
    if argv[:1] != ["serve"]:
        sys.stderr.write("usage: vllm serve [model_tag] [options]\n(the npu-lab simulated "
                         "engine implements `vllm serve` and `vllm --version`)\n")
        return 2
    return serve(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
