"""Pure planning for the lab: shapes, address plan and each node's simulated-hardware state.

Nothing here touches Docker; `npu_cluster.lab.cli` turns these plans into containers.

Address plan: one /16 block 10.B.0.0/16 per lab cluster (B chosen free on the host), split
into three /18 planes, each its own `--internal` docker network:

    mgmt  10.B.0.0/18    node n 10.B.63.(10+n)  (its serving NIC; Ansible itself uses docker exec)
    roce  10.B.64.0/18   device d of node n 10.B.(65+n).(11+d); node n itself 10.B.127.(10+n)
    hccs  10.B.128.0/18  vNIC of (n, d) 10.B.(129+n).(11+d);   node n itself 10.B.191.(10+n)

Docker allocates only inside the last /24 of each plane (`ip_range`), so its own addresses
never collide with device addresses.

A3 vNIC addresses are printed as on real hardware, 192.<server>.<2+die>.<199-device>; the
simulated tools map them to the hccs lab address above before sending a packet.
"""
import ipaddress
import io
import re

from ansible_collections.npu.cluster.plugins.plugin_utils.hardware import HARDWARE

# device counts come from the collection's hardware table (one place for them)
SERIES = {
    "a2": {"devices": HARDWARE["ascend_a2"]["devices"], "chips_per_npu": 1, "name": "910B3",
           "hardware_group": "ascend_a2", "model": "Atlas 800T A2"},
    "a3": {"devices": HARDWARE["ascend_a3"]["devices"], "chips_per_npu": 2, "name": "Ascend910",
           "hardware_group": "ascend_a3", "model": "Atlas 800 A3"},
    "gcu": {"devices": HARDWARE["enflame_gcu"]["devices"], "chips_per_npu": 1,
            "name": "Enflame S60", "hardware_group": "enflame_gcu", "model": "Enflame S60 x8"},
}

MAX_NODES = 60

# The deployment profile a lab shape serves by default (the runbook it reproduces).
LAB_PROFILES = {"a2x2": "000-a2-dsv31-w8a8-dp4", "a3x2": "002-a3-dsv32-exp-dp2-tp16",
                "a3x1": "002-a3-dsv32-exp-w8a8-tp16", "gcux4": "004-gcu-dsr1-awq-dp8-tp4"}
# The profile a shape serves with the real engine (`npu-lab up --engine real`): vLLM's CPU
# build and the lab's tiny model, on one node or as DP 2 head + headless on two.
REAL_PROFILES = {"a2x1": "lab-cpu-single", "a2x2": "lab-cpu-dp-headless"}
# What the simulated engine is told on the lab (inventory `npu_cluster_extra_env`): a short
# weight load, so a deployment is ready in seconds.
LAB_ENGINE_ENV = {"NPU_LAB_VLLM_LOAD_SECONDS": "2", "NPU_LAB_VLLM_TOKEN_MS": "5"}

VERSIONS = {
    "a2": {"npu_smi": "25.3.rc1", "driver": "25.3.rc1", "firmware": "7.7.0.6.236",
           "cann": "8.3.RC1"},
    "a3": {"npu_smi": "25.3.rc1", "driver": "25.3.rc1", "firmware": "7.7.0.6.236",
           "cann": "8.3.RC1"},
    "gcu": {"efsmi": "1.4.0.505", "driver": "1.4.4.501", "firmware": "33.6.5"},
}

A2_BUS = ["0000:C1:00.0", "0000:C2:00.0", "0000:81:00.0", "0000:82:00.0",
          "0000:01:00.0", "0000:02:00.0", "0000:41:00.0", "0000:42:00.0"]
A3_BUS = ["0000:9D:00.0", "0000:9F:00.0", "0000:99:00.0", "0000:9B:00.0", "0000:95:00.0",
          "0000:97:00.0", "0000:91:00.0", "0000:93:00.0", "0000:8D:00.0", "0000:8F:00.0",
          "0000:89:00.0", "0000:8B:00.0", "0000:85:00.0", "0000:87:00.0", "0000:81:00.0",
          "0000:83:00.0"]

DEFAULT_LATENCY = {"query_ms": 250, "ping_ms": 1000}


class ShapeError(ValueError):
    pass


def parse_shape(shape):
    """'a3x2' -> {'series': 'a3', 'nodes': 2, 'groups': {...}}.  'a3x8' splits 4 prefill +
    4 decode, as runbook 003 does; any <series>x<N> is accepted for N in 1..60."""
    m = re.fullmatch(r"(a2|a3|gcu)x(\d+)", shape or "")
    if not m:
        raise ShapeError("unknown lab shape %r: use <series>x<N> with series a2, a3 or gcu "
                         "(e.g. a2x2, a3x2, a3x8, gcux4)" % shape)
    series, nodes = m.group(1), int(m.group(2))
    if not 1 <= nodes <= MAX_NODES:
        raise ShapeError("lab shape %r: node count must be 1..%d" % (shape, MAX_NODES))
    groups = {}
    if series == "a3" and nodes == 8:
        groups = {"prefill": list(range(0, 4)), "decode": list(range(4, 8))}
    return {"series": series, "nodes": nodes, "groups": groups}


def planes(block):
    """The three lab planes of block B (an int 0..255)."""
    base = ipaddress.ip_network("10.%d.0.0/16" % block)
    mgmt, roce, hccs, _spare = base.subnets(new_prefix=18)
    return {
        name: {"subnet": str(net), "gateway": str(net.network_address + 1),
               "ip_range": str(ipaddress.ip_network("%s/24" % (net.network_address + 63 * 256)))}
        for name, net in (("mgmt", mgmt), ("roce", roce), ("hccs", hccs))
    }


def node_name(series, index):
    return "%s-node-%d" % (series, index)


def node_addresses(block, index):
    b = block
    return {"mgmt": "10.%d.63.%d" % (b, 10 + index),
            "roce": "10.%d.127.%d" % (b, 10 + index),
            "hccs": "10.%d.191.%d" % (b, 10 + index)}


def device_ip(block, node, dev):
    return "10.%d.%d.%d" % (block, 65 + node, 11 + dev)


def vnic_lab_ip(block, node, dev):
    return "10.%d.%d.%d" % (block, 129 + node, 11 + dev)


def vnic_printed_ip(server, dev):
    return "192.%d.%d.%d" % (server, 2 + dev % 2, 199 - dev)


def sdid(server, dev):
    return (server << 22) | ((dev // 2) << 18) | ((dev % 2) << 16) | dev


def node_state(cluster, shape, block, index, latency=None, server_base=0, bare=False):
    """The per-node state file (schema documented in README.md, "Lab state file").  A `bare`
    node is a fresh server: no driver, firmware, CANN or TopsPlatform (no vendor tools, no
    device nodes) until the driver role runs the packages."""
    spec = parse_shape(shape)
    series = spec["series"]
    info = SERIES[series]
    nets = planes(block)
    if series != "a3":
        nets.pop("hccs")
    addrs = node_addresses(block, index)
    roce = ipaddress.ip_network(nets["roce"]["subnet"])
    gateway = nets["roce"]["gateway"]
    server = server_base + index
    devices = []
    for d in range(info["devices"]):
        npu_id, chip_id = divmod(d, info["chips_per_npu"])
        dev = {
            "phy_id": d, "logic_id": d, "npu_id": npu_id, "chip_id": chip_id,
            "name": info["name"], "health": "OK",
            "bus_id": (A3_BUS[d] if series == "a3" else
                       A2_BUS[d] if series == "a2" else "00:%02x:00.0" % (0x3d + d)),
            "power_w": round(90.0 + d * 1.3, 1), "temp_c": 36 + d % 4,
            "hbm_used_mb": 3412 - 200 * chip_id if series != "gcu" else 0,
            "hbm_total_mb": 65536 if series != "gcu" else 49120,
            "aicore_pct": 0,
        }
        if series in ("a2", "a3"):
            dev.update({
                "link": "UP", "net_health": "Success",
                "ip": device_ip(block, index, d), "lab_ip": device_ip(block, index, d),
                "netmask": str(roce.netmask), "netdetect": gateway, "gateway": gateway,
                "tls_switch": 0, "loss_pct": 0,
                "lldp": {"switch": "LEAF-%02d" % (index // 4 + 1),
                         "port": "400GE1/%d/%d:%d" % (index % 4 + 1, d // 2 + 1, d % 2 + 1),
                         "mac": "38:88:a4:%02x:%02x:%02x" % (block, index, d),
                         "mgmt": nets["mgmt"]["gateway"]},
            })
        if series == "a3":
            dev["vnic"] = {"link": "UP", "ip": vnic_printed_ip(server, d),
                           "netmask": "255.255.255.0", "lab_ip": vnic_lab_ip(block, index, d)}
            dev["sdid"] = sdid(server, d)
        devices.append(dev)
    state = {
        "schema": 1,
        "cluster": cluster,
        "shape": shape,
        "series": series,
        "model": info["model"],
        "node_index": index,
        "hostname": node_name(series, index),
        "networks": nets,
        "primary": {k: addrs[k] for k in nets},
        "apply_network": True,
        "latency": dict(latency or DEFAULT_LATENCY),
        "versions": dict(VERSIONS[series]),
        "devices": devices,
        "processes": [],
    }
    if series == "a3":
        state.update({"server_index": server, "server_base": server_base,
                      "super_pod_id": 0, "super_pod_size": 384})
    if series == "gcu":
        state["eccl"] = {"peak_busbw_gbps": 32.0, "wrong": 0}
        state["modules"] = ["enflame", "enflame_peer_mem"]
    if bare:
        state.update({"bare": True, "driver_loaded": False, "versions": {}, "modules": []})
    return state


def _sim():
    """The node simulator (lab/sim/npulab_sim.py): it writes the vendor's version files when
    its installers run on a node, and the lab reuses that one renderer for pre-installed nodes."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / "lab" / "sim" / "npulab_sim.py"
    spec = importlib.util.spec_from_file_location("npulab_sim", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def version_files(state):
    """Files a real installed node has (driver/firmware/CANN version, install info); none on a
    bare node, whose driver packages have not run yet."""
    if state.get("bare"):
        return {}
    return _sim().preinstalled_files(state)


def inventory(cluster, shape, block, containers, engine="sim"):
    """The Ansible inventory (as a dict for YAML) whose hosts are the lab containers; with the
    real engine, nothing is said to a simulator."""
    spec = parse_shape(shape)
    series = spec["series"]
    hw_group = SERIES[series]["hardware_group"]
    hosts = {}
    for index, container in enumerate(containers):
        addrs = node_addresses(block, index)
        hosts[node_name(series, index)] = {
            "ansible_host": container,
            "npu_cluster_serving_ip": addrs["mgmt"],
        }
    children = {hw_group: {"hosts": hosts}}
    for group, members in spec["groups"].items():
        children[group] = {"hosts": {node_name(series, i): None for i in members}}
        if group in ("prefill", "decode"):
            # the side of a prefill/decode profile (topology pd_disaggregated) on these hosts
            children[group]["vars"] = {"npu_cluster_pd_role": group}
    return {
        "all": {
            "children": {"npu_nodes": {"children": children, "vars": {
                "ansible_connection": "community.docker.docker",
                "ansible_python_interpreter": "/usr/bin/python3",
                "npu_cluster_expected_devices": SERIES[series]["devices"],
                "npu_cluster_extra_env": dict(LAB_ENGINE_ENV) if engine == "sim" else {},
            }}},
        }
    }


# Runbook 004's workspace on the Enflame lab nodes (/data/test, the container's /home/workspace):
# the wheels its Python environment installs, for a cluster without a package index.
WORKSPACE_WHEELS = "/data/test/wheels"


def stand_in_wheel(pin):
    """(file name, bytes) of a minimal valid wheel with the name and version of `pin`
    (NAME==VERSION): pip installs it like the real one -- metadata, a RECORD with hashes -- but
    it carries none of that project's code (a module npu_lab_wheel_<name> saying so)."""
    import base64
    import hashlib
    import zipfile
    name, version = pin.split("==")
    dist = re.sub(r"[-_.]+", "_", name).lower()
    module = "npu_lab_wheel_%s" % dist
    files = {
        "%s/__init__.py" % module: ('"""npu-lab stand-in for %s %s (no code of that project)."""\n'
                                    '__version__ = "%s"\n' % (name, version, version)),
        "%s-%s.dist-info/METADATA" % (dist, version): (
            "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: npu-lab stand-in wheel\n"
            % (name, version)),
        "%s-%s.dist-info/WHEEL" % (dist, version): (
            "Wheel-Version: 1.0\nGenerator: npu-lab\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        "%s-%s.dist-info/top_level.txt" % (dist, version): module + "\n",
    }
    record = "%s-%s.dist-info/RECORD" % (dist, version)
    lines = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        lines.append("%s,sha256=%s,%d" % (path, digest.decode(), len(text.encode())))
    files[record] = "\n".join(lines + ["%s,," % record]) + "\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as whl:
        for path, text in files.items():
            info = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
            whl.writestr(info, text)
    return "%s-%s-py3-none-any.whl" % (dist, version), buf.getvalue()


def workspace_files(state, pins):
    """{path: bytes} of the Enflame lab node's workspace: a wheel for every pin."""
    if state["series"] != "gcu":
        return {}
    out = {}
    for pin in pins:
        fname, data = stand_in_wheel(pin)
        out["%s/%s" % (WORKSPACE_WHEELS, fname)] = data
    return out
