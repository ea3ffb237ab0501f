#!/usr/bin/python3 -SE
"""Simulated Ascend / Enflame node tools for the npu-cluster lab.

One self-contained file installed under every tool's real path (hccn_tool, npu-smi, efsmi,
eccl_alltoall_perf, eccl_all_to_all_perf, npu-lab-fault); it dispatches on the name it was
called by (or $NPU_LAB_TOOL).  Everything it prints follows
shared/reference/tool-output-formats.md: the most widely observed real form of each output,
error texts on the stream and with the exit status the real tool uses.

All hardware state lives in one JSON file per node ($NPU_LAB_STATE, default
/etc/npu-lab/state.json; schema in README.md, "Lab state file").  /etc/hccn.conf is a separate file, as on
real servers, so the two can disagree (the "stale hccn.conf" fault).  Paths are prefixed with
$NPU_LAB_ROOT so unit tests can run the tools against a temporary directory.

Pings are real: `-ping` / `-hccs_ping` run iputils `ping` from the device address to the
target, and only ever to addresses inside the lab's own subnets (or loopback).
"""
import json
import os
import re
import sys
import time

# ipaddress, subprocess and random are imported where needed: every tool call is a new
# process, and on a lab of many nodes per core their import time is most of its CPU cost.

STATE_DEFAULT = "/etc/npu-lab/state.json"

# ---------------------------------------------------------------- state and paths


def root_path(path):
    return os.environ.get("NPU_LAB_ROOT", "") + path


def state_path():
    return os.environ.get("NPU_LAB_STATE") or root_path(STATE_DEFAULT)


_CACHE = {}


def load_state(fresh=False):
    """The node's state.  In the daemon, queries share one parsed copy per version of the file
    (faults and set commands replace the file, so a new inode/mtime means a new parse); code
    that changes the state asks for a `fresh` private copy."""
    path = state_path()
    if fresh or getattr(_REQ, "env", None) is None:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    st = os.stat(path)
    key = (st.st_ino, st.st_mtime_ns, st.st_size)
    cached = _CACHE.get(path)
    if cached is None or cached[0] != key:
        with open(path, encoding="utf-8") as fh:
            cached = (key, json.load(fh))
        _CACHE[path] = cached
    return cached[1]


def save_state(state):
    path = state_path()
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


def latency(state, kind):
    """Sleep like the real tool: hundreds of ms per query, about a second per ping."""
    ms = state.get("latency", {}).get(kind + "_ms", 0)
    if ms:
        time.sleep(ms / 1000.0)


# In the node's simulator daemon (npu-lab-simd) each request runs in its own thread: output,
# environment and "is stdin a terminal" come from that request, not from the daemon process.
import threading  # noqa: E402

_REQ = threading.local()
STATE_LOCK = threading.Lock()


def out(text=""):
    buf = getattr(_REQ, "out", None)
    if buf is None:
        sys.stdout.write(text + "\n")
    else:
        buf.append(text + "\n")


def err(text):
    buf = getattr(_REQ, "err", None)
    if buf is None:
        sys.stderr.write(text + "\n")
    else:
        buf.append(text + "\n")


def getenv(name, default=None):
    env = getattr(_REQ, "env", None)
    if env is not None:
        return env.get(name) or default
    return os.environ.get(name, default)


def interactive():
    env = getattr(_REQ, "env", None)
    return env.get("TTY") == "1" if env is not None else sys.stdin.isatty()


def device_by_phy(state, phy):
    for dev in state.get("devices", []):
        if dev["phy_id"] == phy:
            return dev
    return None


# ---------------------------------------------------------------- hccn.conf


def read_hccn_conf(path):
    """Parse key_N=value lines; '#' comments ignored; later lines win (writes append)."""
    conf = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line or line.startswith("#") or "=" not in line:
                    continue
                key, value = line.split("=", 1)
                conf[key] = value
    except FileNotFoundError:
        pass
    return conf


def write_hccn_conf_key(path, key, value):
    """hccn_tool removes an existing key_N= line and appends the new one at the end."""
    lines = []
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [ln for ln in fh.read().splitlines() if not ln.startswith(key + "=")]
    except FileNotFoundError:
        pass
    lines.append("%s=%s" % (key, value))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def render_hccn_conf(state):
    lines = []
    for dev in state.get("devices", []):
        n = dev["phy_id"]
        if dev.get("ip"):
            lines.append("address_%d=%s" % (n, dev["ip"]))
            lines.append("netmask_%d=%s" % (n, dev["netmask"]))
        if dev.get("netdetect"):
            lines.append("netdetect_%d=%s" % (n, dev["netdetect"]))
        if dev.get("gateway"):
            lines.append("gateway_%d=%s" % (n, dev["gateway"]))
        lines.append("send_arp_status_%d=1" % n)
        lines.append("tls_enable_%d=%d" % (n, dev.get("tls_switch", 0)))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- lab networking


def lab_networks(state):
    import ipaddress
    nets = [ipaddress.ip_network("127.0.0.0/8")]
    for plane in state.get("networks", {}).values():
        nets.append(ipaddress.ip_network(plane["subnet"]))
    return nets


def in_lab(state, addr):
    import ipaddress
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in net for net in lab_networks(state))


def run(argv):
    import subprocess
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def iface_for_subnet(subnet):
    """The interface of this node that holds an address in `subnet` (docker numbers them)."""
    import ipaddress
    res = run(["ip", "-o", "-4", "addr", "show"])
    net = ipaddress.ip_network(subnet)
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "inet":
            if ipaddress.ip_interface(parts[3]).ip in net:
                return parts[1]
    return None


def vnic_lab_ip(state, printed):
    """Map a printed A3 vNIC address 192.<server>.<2+die>.<199-dev> to its lab address."""
    import ipaddress
    hccs = state.get("networks", {}).get("hccs")
    if not hccs:
        return None
    octets = [int(x) for x in printed.split(".")]
    server, third, fourth = octets[1], octets[2], octets[3]
    dev = 199 - fourth
    if not 0 <= dev <= 15 or third != 2 + dev % 2:
        return None
    node = server - state.get("server_base", 0)
    if not 0 <= node < 60:
        return None
    base = ipaddress.ip_network(hccs["subnet"]).network_address
    return str(base + (1 + node) * 256 + 11 + dev)


def apply_network(state):
    """Make the live network match the state: device and vNIC addresses present only while
    their link is up, and the per-device drop rules of the loss/unreachable faults."""
    import ipaddress
    if not state.get("apply_network"):
        return
    nets = state.get("networks", {})
    planes = {name: (iface_for_subnet(p["subnet"]), ipaddress.ip_network(p["subnet"]))
              for name, p in nets.items()}
    want = {}
    for dev in state.get("devices", []):
        if dev.get("lab_ip") and dev.get("link") == "UP":
            want.setdefault("roce", set()).add(dev["lab_ip"])
        vnic = dev.get("vnic")
        if vnic and vnic.get("link") == "UP" and vnic.get("lab_ip"):
            want.setdefault("hccs", set()).add(vnic["lab_ip"])
    for name in ("roce", "hccs"):
        if name not in planes or planes[name][0] is None:
            continue
        iface, net = planes[name]
        primary = state.get("primary", {}).get(name)
        have = set()
        for line in run(["ip", "-o", "-4", "addr", "show", "dev", iface]).stdout.splitlines():
            addr = str(ipaddress.ip_interface(line.split()[3]).ip)
            if addr != primary:
                have.add(addr)
        for addr in sorted(have - want.get(name, set())):
            run(["ip", "addr", "del", "%s/%d" % (addr, net.prefixlen), "dev", iface])
        for addr in sorted(want.get(name, set()) - have):
            run(["ip", "addr", "add", "%s/%d" % (addr, net.prefixlen), "dev", iface])
    # Loss / unreachable: drop ICMP to and from the device's address, for real.
    chain = "NPU-LAB"
    if run(["iptables", "-n", "-L", chain]).returncode != 0:
        run(["iptables", "-N", chain])
        run(["iptables", "-I", "INPUT", "-j", chain])
        run(["iptables", "-I", "OUTPUT", "-j", chain])
    run(["iptables", "-F", chain])
    # Blocked ports: this node's outgoing TCP connections to them are refused (OUTPUT only:
    # the node's own services on that port stay reachable).
    out_chain = "NPU-LAB-OUT"
    if run(["iptables", "-n", "-L", out_chain]).returncode != 0:
        run(["iptables", "-N", out_chain])
        run(["iptables", "-I", "OUTPUT", "-j", out_chain])
    run(["iptables", "-F", out_chain])
    for port in state.get("blocked_ports", []):
        run(["iptables", "-A", out_chain, "-p", "tcp", "--dport", str(port), "-j", "REJECT",
             "--reject-with", "tcp-reset"])
    for dev in state.get("devices", []):
        loss = dev.get("loss_pct", 0)
        if not loss:
            continue
        addrs = [dev.get("lab_ip")] + [(dev.get("vnic") or {}).get("lab_ip")]
        for addr in [a for a in addrs if a]:
            for direction in ("-d", "-s"):
                rule = ["iptables", "-A", chain, direction, addr, "-p", "icmp"]
                if loss < 100:
                    # Two independent drops (in and out) -> per-packet loss of about `loss`.
                    keep = (1 - loss / 100.0) ** 0.5
                    rule += ["-m", "statistic", "--mode", "random",
                             "--probability", "%.4f" % (1 - keep)]
                run(rule + ["-j", "DROP"])


def real_ping(src, dst, count, size, interval_s=0.2, wait_s=1):
    """Send `count` real ICMP echoes from `src` to `dst`; returns per-seq times in ms or None."""
    import subprocess
    argv = ["ping", "-n", "-c", str(count), "-i", str(interval_s), "-W", str(wait_s),
            "-s", str(size)]
    if src:
        argv += ["-I", src]
    argv.append(dst)
    res = run(argv)
    times = [None] * count
    for m in re.finditer(r"icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ms", res.stdout):
        seq = int(m.group(1)) - 1
        if 0 <= seq < count and times[seq] is None:
            times[seq] = float(m.group(2))
    return times


# ---------------------------------------------------------------- hccn_tool formatting


def fmt_ping(phy, target, times):
    """RoCE `-ping` text (device-generated part verbatim in form) and whether it failed."""
    lines = ["device %d PING %s" % (phy, target)]
    for seq, t in enumerate(times):
        if t is None:
            lines.append("recv time out seq=%d" % seq)
        else:
            lines.append("recv seq=%d,time=%.6fms" % (seq, t))
    sent = len(times)
    recv = sum(1 for t in times if t is not None)
    loss = 100.0 * (sent - recv) / sent if sent else 0.0
    lines.append("%d packets transmitted, %d received, %.2f%% packet loss" % (sent, recv, loss))
    return "\n".join(lines), recv < sent


def fmt_us(value_us):
    ns = int(round(value_us * 1000))
    return "%d.%03dus" % (ns // 1000, ns % 1000)


def fmt_hccs_ping(phy, target, times_ms, send_fail=False):
    """A3 `-hccs_ping` text: blank lines, per-packet verdicts, plural 'packets loss'."""
    lines = ["device %d PING %s" % (phy, target), ""]
    got = []
    for seq, t in enumerate(times_ms):
        if send_fail:
            lines.append("This pkt send fail!")
        elif t is None:
            lines.append("This pkt check recv msg fail!")
        else:
            lines.append("This pkt ping success!")
        us = 0.0 if t is None else t * 1000.0
        if t is not None:
            got.append(us)
        lines.append("recv seq %d, time = %s, L1 plane check result = 0x0" % (seq, fmt_us(us)))
        lines.append("")
    sent = len(times_ms)
    recv = len(got)
    loss = 100.0 * (sent - recv) / sent if sent else 0.0
    lines.append("%d packets transmitted, %d received, %.2f%% packets loss" % (sent, recv, loss))
    srt = sorted(got)
    tp95 = srt[min(len(srt) - 1, int(0.95 * len(srt)))] if srt else 0.0
    lines.append("max time %s" % fmt_us(max(got) if got else 0.0))
    lines.append("min time %s" % fmt_us(min(got) if got else 0.0))
    lines.append("average time %s" % fmt_us(sum(got) / len(got) if got else 0.0))
    lines.append("TP95 time %s" % fmt_us(tp95))
    lines.append("Cmd executed successfully!")
    return "\n".join(lines)


LLDP_TEMPLATE = """Chassis ID TLV
\tMAC: {mac}
Port ID TLV
\tIfname: {port}
Time to Live TLV
\t121
Port Description TLV
\t{port}
System Name TLV
\t{switch}
System Description TLV
\tHuawei YunShan OS
Version 1.22.0.1 (CE9860 V200R022C10SPC500)
Copyright (C) 2021-2022 Huawei Technologies Co., Ltd.
HUAWEI CE9860-4C-EI

System Capabilities TLV
\tSystem capabilities:  Bridge, Router
\tEnabled capabilities: Bridge, Router
Management Address TLV
\tIPv4: {mgmt}
\tIfindex: 17
Maximum Frame Size TLV
\t9216
End of LLDPDU TLV"""

STAT_KEYS = (
    ["mac_tx_mac_pause_num", "mac_rx_mac_pause_num", "mac_tx_pfc_pkt_num"]
    + ["mac_tx_pfc_pri%d_pkt_num" % i for i in range(8)] + ["mac_rx_pfc_pkt_num"]
    + ["mac_rx_pfc_pri%d_pkt_num" % i for i in range(8)]
    + ["mac_tx_total_pkt_num", "mac_tx_total_oct_num", "mac_tx_bad_pkt_num", "mac_tx_bad_oct_num",
       "mac_rx_total_pkt_num", "mac_rx_total_oct_num", "mac_rx_bad_pkt_num", "mac_rx_bad_oct_num",
       "roce_rx_rc_pkt_num", "roce_rx_all_pkt_num", "roce_rx_err_pkt_num", "roce_tx_rc_pkt_num",
       "roce_tx_all_pkt_num", "roce_tx_err_pkt_num", "roce_cqe_num", "roce_rx_cnp_pkt_num",
       "roce_tx_cnp_pkt_num", "roce_unexpected_ack_num", "roce_out_of_order_num",
       "roce_verification_err_num", "roce_qp_status_err_num", "roce_new_pkt_rty_num",
       "nic_tx_all_pkg_num", "nic_tx_all_oct_num", "nic_rx_all_pkg_num", "nic_rx_all_oct_num"])

OPTICAL = """optical info:
present              : present
temperature          : {temp} C
high power enable reg: enabled
vendor name          : Hisense
vendor part number   : LMQ8611-PC+
vendor serial number : V8BD6H2{sn:04d}
vendor org unique id : 0xac 0x4a 0x0
xsfp identifier      : QSFP+ or later
xsfp wave length     : 850 nm
manufact date code   : 2023.6.18
Vcc                  : 3262.90 mV
Tx Power0            : 1.4035 mW
Rx Power0            : {rx} mW
Tx Power1            : 1.3968 mW
Rx Power1            : {rx} mW
Tx Power2            : 1.4140 mW
Rx Power2            : {rx} mW
Tx Power3            : 1.4988 mW
Rx Power3            : {rx} mW
Vcc High Thres       : 3465.00 mV
Vcc Low Thres        : 3135.00 mV
Temp High Thres      : 70 C
Temp Low Thres       : 0 C
TxPower High Thres   : 3.5481 mW
TxPower Low Thres    : 0.2818 mW
RxPower High Thres   : 3.5481 mW
RxPower Low Thres    : 0.1445 mW
Tx Bias0             : 7.9360 mA
Tx Bias1             : 7.9280 mA
Tx Bias2             : 7.9360 mA
Tx Bias3             : 7.9240 mA
Tx Los Flag          : 0x0
Rx Los Flag          : {los}
Tx LoL Flag          : 0x0
Rx LoL Flag          : {los}
Host SNR Lane0       : not supported
Host SNR Lane1       : not supported
Host SNR Lane2       : not supported
Host SNR Lane3       : not supported
Media SNR Lane0      : 23.1211 dB
Media SNR Lane1      : 22.6289 dB
Media SNR Lane2      : 22.1875 dB
Media SNR Lane3      : 23.2969 dB"""

TLS_SUMMARY = ("dev_id:%d, tls switch[%d](0:disable, 1:enable), tls preconfigured[1](0:non-preset, "
               "1:preset), tls alarm time threshold[60]days")

# The help block of each sub-command, verbatim (trailing spaces are real): printed on stdout
# after a parameter-count error and after an unknown sub-option.
HELP = {
    "lldp": (
        "hccn_tool -i devid -lldp\n"
        "   [-g]        : get lldp cfg "
    ),
    "link": (
        "hccn_tool -i devid -link\n"
        "   [-s]                   : set the eth ports link status\n"
        "       down               : shut down eth port \n"
        "       up                 : start up eth port \n"
        "   [-g]                   : get the eth ports link status, UP or DOWN "
    ),
    "net_health": (
        "hccn_tool -i devid -net_health\n"
        "   [-g]        : get net health status"
    ),
    "netdetect": (
        "hccn_tool -i devid -netdetect\n"
        "   [-s]                : set net detect cfg \n"
        "       address %s      : set net detect IPv4 ip address, such as x.x.x.x\n"
        "   [-g]                : get net detect cfg "
    ),
    "gateway": (
        "hccn_tool -i devid -gateway\n"
        "   [-s]                : set gateway cfg \n"
        "       gateway %s      : set IPv4 gateway, such as x.x.x.x\n"
        "   [-g]                : get gateway address "
    ),
    "ip": (
        "hccn_tool -i devid -ip\n"
        "   [-s]                 : set ip cfg \n"
        "       address %s       : set IPv4 ip address, such as x.x.x.x\n"
        "       netmask %s       : set IPv4 ip netmask, such as x.x.x.x\n"
        "   [-g]                 : get ip address and netmask/prefix_length "
    ),
    "vnic": (
        "hccn_tool -i devid -vnic\n"
        "   [-g]        : get vnic link status, ip address and netmask "
    ),
    "ping": (
        "hccn_tool -i devid -ping\n"
        "   [-g]                : get ping result\n"
        "       address %s      : set net detect IPv4 ip address, such as x.x.x.x\n"
        "      pkt %d           : ping cfg, the packet data length, [0 ~ 65507]"
    ),
    "hccs_ping": (
        "hccn_tool -i devid -hccs_ping\n"
        "   [-g]                : get the supernodes ping result\n"
        "       address   %s    : set net detect IPv4 ip address, such as x.x.x.x\n"
        "       or\n"
        "       sdid      %s    : set net detect device sdid value. this value conflicts with address, one of the two is used\n"
        "       pkt       %d    : ping cfg, the packet data length, [1792 ~ 3000] (byte) (default 1792)\n"
        "       cnt       %d    : ping cfg, the total count of packet send, [1 ~ 1000] (default 3)\n"
        "       interval  %d    : ping cfg, the interval between receiving a reply packet and sending the next packet, [0 ~ 10] (ms) (default 0)\n"
        "       timeout   %d    : ping cfg, the timeout waiting time for each packet, [1 ~ 20000] (ms)"
    ),
}


class ToolExit(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


def fail(msg, code, stream="err"):
    (err if stream == "err" else out)(msg)
    raise ToolExit(code)


def help_block(cmd):
    return HELP.get(cmd.lstrip("-"), "hccn_tool -i devid %s\n   [-g]        : get" % cmd)


def unknown_option(cmd):
    """`Get unknown option!` on stderr and the sub-command's parameter list on stdout."""
    err("Get unknown option!")
    out(help_block(cmd))
    raise ToolExit(3)


def valid_ipv4(text):
    import ipaddress
    try:
        ipaddress.IPv4Address(text)
        return True
    except ValueError:
        return False


def kv_args(args, allowed):
    """Parse `key value` pairs after -g/-s (any order); unknown keys -> count error."""
    if len(args) % 2:
        return None
    pairs = dict(zip(args[0::2], args[1::2]))
    if any(k not in allowed for k in pairs):
        return None
    return pairs


def hccn_tool(argv):
    if not argv or argv[0] in ("-h", "--help"):
        out("hccn_tool -i devid -<cmd> -g|-s [args]")
        return 0
    if len(argv) < 3 or argv[0] != "-i":
        fail("Get invalid major cmd.\nEnter [ hccn_tool -h ] for more details.", 3)
    state = load_state()
    series = state.get("series")
    if series not in ("a2", "a3") or not re.fullmatch(r"\d{1,2}", argv[1]):
        fail("Get invalid device id.", 4)
    dev = device_by_phy(state, int(argv[1]))
    if dev is None:
        fail("Get invalid device id.", 4)
    cmd = argv[2]
    rest = argv[3:]
    known = {"-lldp", "-link", "-net_health", "-netdetect", "-gateway", "-ip", "-vnic", "-tls",
             "-optical", "-stat", "-ping", "-hccs_ping"}
    if cmd not in known:
        fail("Get invalid major cmd.\nEnter [ hccn_tool -h ] for more details.", 3)
    if not rest or rest[0] not in ("-g", "-s"):
        unknown_option(cmd)
    mode, args = rest[0], rest[1:]
    conf_path = root_path("/etc/hccn.conf")
    phy = dev["phy_id"]
    latency(state, "query")

    if dev.get("control_unreachable"):
        fail("Control link unreachable.", 15)

    if mode == "-g" and cmd not in ("-ping", "-hccs_ping") and args:
        err("The total count of input parameters is wrong!")
        out("[ hccn_tool -i devid %s ] needs the following parameters:" % cmd)
        out(help_block(cmd))
        raise ToolExit(4)

    if cmd == "-link":
        if mode == "-g":
            out("link status: %s" % dev["link"])
            return 0
        if args not in (["up"], ["down"]):
            unknown_option(cmd)
        if args == ["down"] and interactive() and getattr(_REQ, "env", None) is None:
            sys.stdout.write("[WARNING] This link down command will result in the loss of the "
                             "IPv6 address, continue? [Y/N]: ")
            sys.stdout.flush()
            if sys.stdin.readline().strip().lower() not in ("y", "yes"):
                return 0
        with STATE_LOCK:
            return set_link(phy, args[0].upper())

    if mode == "-s":
        with STATE_LOCK:
            state = load_state(fresh=True)
            return hccn_set(state, device_by_phy(state, phy), cmd, args, conf_path)

    if cmd == "-lldp":
        lldp = dev.get("lldp")
        if dev["link"] != "UP" or not lldp:
            fail("Command execute failed!", 1)
        out(LLDP_TEMPLATE.format(mac=lldp.get("mac", "38:88:a4:00:11:22"), port=lldp["port"],
                                 switch=lldp.get("switch", "SPINE-01"),
                                 mgmt=lldp.get("mgmt", "10.0.0.1")))
        return 0
    if cmd == "-net_health":
        status = dev.get("net_health", "Success")
        if status == "__error__":
            fail("Command execute failed!", 1)
        out("net health status: %s" % status)
        return 0
    if cmd == "-netdetect":
        out("netdetect addr: %s" % (dev.get("netdetect") or "0.0.0.0"))
        return 0
    if cmd == "-gateway":
        if not dev.get("gateway"):
            fail("Get gateway failed, because no gateway was preset there!", 2)
        out("default gateway:%s, Iface:eth%d" % (dev["gateway"], phy))
        return 0
    if cmd == "-ip":
        if not dev.get("ip"):
            fail("Get ipconf failed, because no ip was preset there!", 13)
        out("ipaddr:%s" % dev["ip"])
        out("netmask:%s" % dev["netmask"])
        return 0
    if cmd == "-vnic":
        if series != "a3":
            fail("The command is not supported on this product.", 13, stream="out")
        vnic = dev.get("vnic")
        if not vnic:
            fail("Command execute failed!", 1)
        out("vnic link status: %s" % vnic["link"])
        out("vnic ipaddr: %s" % vnic["ip"])
        out("vnic netmask: %s" % vnic.get("netmask", "255.255.255.0"))
        return 0
    if cmd == "-tls":
        if dev.get("tls_no_cert"):
            fail("No certificate found, please set certs firstly!", 14)
        out(TLS_SUMMARY % (phy, dev.get("tls_switch", 0)))
        for kind, subject in (("pub cert", "/C=CN/O=Huawei/CN=npu-%d" % phy),
                              ("ca1 cert", "/C=CN/O=Huawei/CN=Huawei RSA CA")):
            out("dev_id:%d, [%s] info:" % (phy, kind))
            out("\t subject[%s]" % subject)
            out("\t issuer[/C=CN/O=Huawei/CN=Huawei RSA CA]")
            out("\t start_time[Sat Jan 31 03:10:27 2026 GMT]")
            out("\t end_time[Wed Jun 18 03:10:27 2053 GMT]")
            out("\t tls expiration status[0](0:normal, 1:near expiration, 2:has expired)")
        return 0
    if cmd == "-optical":
        if not dev.get("optical_present", True):
            fail("Optical module is not present.", 20, stream="out")
        down = dev["link"] != "UP"
        out(OPTICAL.format(temp=45 + phy % 5, sn=phy, rx="0.0054" if down else "1.0189",
                           los="0xff" if down else "0x0"))
        return 0
    if cmd == "-stat":
        stats = dev.get("stat", {})
        out("packet statistics:")
        for key in STAT_KEYS:
            out("%s:%d" % (key, stats.get(key, 0)))
        return 0
    if cmd == "-ping":
        return hccn_ping(state, dev, args)
    if cmd == "-hccs_ping":
        return hccn_hccs_ping(state, dev, args)
    fail("Cmd execute failed!", 1)
    return 1


def set_link(phy, value):
    """-link -s up|down: the link, and the net health that follows from it."""
    state = load_state(fresh=True)
    dev = device_by_phy(state, phy)
    dev["link"] = value
    if value == "DOWN":
        dev["net_health"] = "Fault"
    else:
        dev["net_health"] = "Success" if dev.get("netdetect") else "Init"
    save_state(state)
    apply_network(state)
    out("Cmd executed successfully!")
    return 0


def hccn_set(state, dev, cmd, args, conf_path):
    import ipaddress
    phy = dev["phy_id"]
    if cmd == "-ip":
        pairs = kv_args(args, {"address", "netmask"})
        if not pairs or set(pairs) != {"address", "netmask"}:
            fail("The total count of input parameters is wrong!", 4)
        if not valid_ipv4(pairs["address"]) or not valid_ipv4(pairs["netmask"]):
            fail("The ip address you configured is invalid!", 6)
        try:
            ipaddress.IPv4Network("0.0.0.0/%s" % pairs["netmask"])
        except ValueError:
            fail("Inconsistent address and mask!", 34)
        for other in state["devices"]:
            if other is not dev and other.get("ip") == pairs["address"]:
                fail("The ip address configured is conflicted!", 7)
        dev["ip"], dev["netmask"] = pairs["address"], pairs["netmask"]
        if in_lab(state, pairs["address"]) and not pairs["address"].startswith("127."):
            dev["lab_ip"] = pairs["address"]
        write_hccn_conf_key(conf_path, "address_%d" % phy, dev["ip"])
        write_hccn_conf_key(conf_path, "netmask_%d" % phy, dev["netmask"])
    elif cmd == "-netdetect":
        pairs = kv_args(args, {"address"})
        if not pairs:
            fail("The total count of input parameters is wrong!", 4)
        if not valid_ipv4(pairs["address"]):
            fail("The ip address you configured is invalid!", 6)
        if pairs["address"].endswith(".255"):
            fail("Can not config broadcast address!", 37)
        dev["netdetect"] = pairs["address"]
        dev["net_health"] = "Success" if dev["link"] == "UP" else "Fault"
        write_hccn_conf_key(conf_path, "netdetect_%d" % phy, dev["netdetect"])
    elif cmd == "-gateway":
        pairs = kv_args(args, {"gateway"})
        if not pairs:
            fail("The total count of input parameters is wrong!", 4)
        if not dev.get("ip"):
            fail("Unable to configure gateway, because ip is not configured!", 26)
        if not valid_ipv4(pairs["gateway"]):
            fail("The ip address you configured is invalid!", 6)
        net = ipaddress.IPv4Network("%s/%s" % (dev["ip"], dev["netmask"]), strict=False)
        if ipaddress.IPv4Address(pairs["gateway"]) not in net:
            fail("The segment of configured gateway doesn't match that of the configured "
                 "ip adress!", 8)
        dev["gateway"] = pairs["gateway"]
        write_hccn_conf_key(conf_path, "gateway_%d" % phy, dev["gateway"])
    elif cmd == "-tls":
        pairs = kv_args(args, {"enable"})
        if not pairs or pairs["enable"] not in ("0", "1"):
            unknown_option(cmd)
        dev["tls_switch"] = int(pairs["enable"])
        write_hccn_conf_key(conf_path, "tls_enable_%d" % phy, pairs["enable"])
    else:
        unknown_option(cmd)
    save_state(state)
    apply_network(state)
    out("Cmd executed successfully!")
    return 0


def hccn_ping(state, dev, args):
    pairs = kv_args(args, {"address", "pkt"})
    if not pairs or "address" not in pairs or len(args) > 5:
        fail("The total count of input parameters is wrong!", 4)
    target = pairs["address"]
    if not valid_ipv4(target):
        fail("The ip address you configured is invalid!", 6)
    size = int(pairs.get("pkt", 56))
    if not 0 <= size <= 65507:
        fail("The total count of input parameters is wrong!", 4)
    if dev["link"] != "UP":
        fail("Execute failed: Link status is down.", 22)
    start = time.time()
    if dev.get("lab_ip") and in_lab(state, target):
        times = real_ping(dev["lab_ip"], target, 3, size)
    else:
        # Outside the lab's subnets (or no address on the device): nothing is sent, and
        # nothing answers, which is what a real device would see for an unrouted target.
        times = [None, None, None]
    pad = state.get("latency", {}).get("ping_ms", 0) / 1000.0 - (time.time() - start)
    if pad > 0:
        time.sleep(pad)
    text, failed = fmt_ping(dev["phy_id"], target, times)
    out(text)
    if failed:
        fail("Command execute failed!", 1)
    return 0


def hccn_hccs_ping(state, dev, args):
    if state.get("series") != "a3":
        fail("The command is not supported on this product.", 13, stream="out")
    pairs = kv_args(args, {"address", "sdid", "pkt", "cnt", "interval", "timeout"})
    if not pairs or ("address" in pairs) == ("sdid" in pairs):
        fail("The total count of input parameters is wrong!", 4)
    if "sdid" in pairs:
        sdid = int(pairs["sdid"])
        server, die, devid = sdid >> 22, (sdid >> 16) & 0x3, sdid & 0xFFFF
        if (sdid >> 18) & 0xF != devid // 2 or die != devid % 2:
            fail("The ip address you configured is invalid!", 6)
        target = "192.%d.%d.%d" % (server, 2 + die, 199 - devid)
    else:
        target = pairs["address"]
    if not valid_ipv4(target) or not target.startswith("192."):
        fail("The ip address you configured is invalid!", 6)
    lab_target = vnic_lab_ip(state, target)
    if lab_target is None:
        fail("The ip address you configured is invalid!", 6)
    cnt = int(pairs.get("cnt", 3))
    size = int(pairs.get("pkt", 1792))
    if not 1 <= cnt <= 1000 or not 1792 <= size <= 3000:
        fail("The total count of input parameters is wrong!", 4)
    vnic = dev.get("vnic") or {}
    start = time.time()
    send_fail = vnic.get("link") != "UP" or not vnic.get("lab_ip")
    if send_fail:
        times = [None] * cnt
    else:
        # the real default interval is 0 ms; 50 ms keeps a long confirm ping short
        times = real_ping(vnic["lab_ip"], lab_target, cnt, size,
                          interval_s=max(0.05, int(pairs.get("interval", 0)) / 1000.0))
    pad = state.get("latency", {}).get("ping_ms", 0) / 1000.0 - (time.time() - start)
    if pad > 0:
        time.sleep(pad)
    out(fmt_hccs_ping(dev["phy_id"], target, times, send_fail=send_fail))
    return 0


# ---------------------------------------------------------------- npu-smi

SEP_EQ = "+===========================+===============+====================================================+"
SEP_COLS = "+---------------------------+---------------+----------------------------------------------------+"
SEP_FULL = "+" + "-" * 96 + "+"
USAGE = "Usage: npu-smi info <watch|proc|-h|-m|-l|-t type> [Options...]"


def smi_row(c1a, c1b, c2, c3):
    return "| %-6s%-20s| %-14s| %s|" % (c1a, c1b, c2, c3)


def npus(state):
    """NPU id -> list of devices (chips) in chip order."""
    grouped = {}
    for dev in state["devices"]:
        grouped.setdefault(dev["npu_id"], []).append(dev)
    for chips in grouped.values():
        chips.sort(key=lambda d: d["chip_id"])
    return dict(sorted(grouped.items()))


def npu_smi_info_table(state):
    a3 = state["series"] == "a3"
    ver = state.get("versions", {}).get("npu_smi", "24.1.rc3.7")
    lines = [SEP_FULL, "| npu-smi %-24s Version: %-53s|" % (ver, ver), SEP_COLS,
             smi_row("NPU", "Name", "Health", "%-12s%-18s%-21s" % ("Power(W)", "Temp(C)",
                                                                   "Hugepages-Usage(page)")),
             smi_row("Chip", "Phy-ID" if a3 else "", "Bus-Id",
                     "%-12s%-18s%-21s" % ("AICore(%)", "Memory-Usage(MB)", "HBM-Usage(MB)")),
             SEP_EQ]
    for npu_id, chips in npus(state).items():
        for i, dev in enumerate(chips):
            power = "-" if (a3 and dev["chip_id"] == 1) else "%.1f" % dev.get("power_w", 90.0)
            lines.append(smi_row(str(npu_id), dev["name"], dev.get("health", "OK"),
                                 "%-12s%-18s%-5s/ %-14s" % (power, dev.get("temp_c", 40), 0, 0)))
            lines.append(smi_row(str(dev["chip_id"]), str(dev["phy_id"]) if a3 else "",
                                 dev["bus_id"],
                                 "%-12s%-5s/ %-11s%-5s/ %-14s" % (
                                     dev.get("aicore_pct", 0), 0, 0, dev.get("hbm_used_mb", 0),
                                     dev.get("hbm_total_mb", 65536))))
            lines.append(SEP_EQ if i == len(chips) - 1 else SEP_FULL)
    lines.append(SEP_COLS)
    lines.append("| %-8s%-18s| %-14s| %-25s| %-24s|" % ("NPU", "Chip", "Process id",
                                                        "Process name", "Process memory(MB)"))
    lines.append(SEP_EQ)
    procs = state.get("processes", [])
    for npu_id in npus(state):
        mine = [p for p in procs if p["npu_id"] == npu_id]
        if not mine:
            lines.append("| %-95s|" % ("No running processes found in NPU %d" % npu_id))
        for p in mine:
            lines.append("| %-8s%-18s| %-14s| %-25s| %-24s|" % (
                p["npu_id"], p.get("chip_id", 0), p["pid"], p.get("name", ""), p["memory_mb"]))
        lines.append(SEP_EQ)
    return "\n".join(lines)


def npu_smi_list(state):
    lines = ["\t%-30s : %d" % ("Total Count", len(npus(state))), ""]
    for npu_id, chips in npus(state).items():
        lines.append("\t%-30s : %d" % ("NPU ID", npu_id))
        lines.append("\t%-30s : %d" % ("Chip Count", len(chips)))
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def npu_smi_mapping(state):
    a3 = state["series"] == "a3"
    if a3:
        lines = ["\t%-30s %-30s %-30s %-30s %-30s" % ("NPU ID", "Chip ID", "Chip Logic ID",
                                                      "Chip Phy-ID", "Chip Name")]
    else:
        lines = ["\t%-30s %-30s %-30s %-30s" % ("NPU ID", "Chip ID", "Chip Logic ID", "Chip Name")]
    for npu_id, chips in npus(state).items():
        for dev in chips:
            if a3:
                lines.append("\t%-30d %-30d %-30d %-30d %s" % (npu_id, dev["chip_id"],
                                                               dev["logic_id"], dev["phy_id"],
                                                               dev["name"]))
            else:
                lines.append("\t%-30d %-30d %-30d %s %s" % (npu_id, dev["chip_id"],
                                                            dev["logic_id"], "Ascend", dev["name"]))
        mcu_chip = len(chips)
        if a3:
            lines.append("\t%-30d %-30d %-30s %-30s %-30s" % (npu_id, mcu_chip, "-", "-", "Mcu"))
        else:
            lines.append("\t%-30d %-30d %-30s %-30s" % (npu_id, mcu_chip, "-", "Mcu"))
    return "\n".join(lines)


ALARM = {
    "code": "A4025021 8C03A000 8C084E00",
    "info": ["ascend_monitor adda heart beat lost error", "",
             "\t%-30s : node type=process-manager, sensor type=General Software, event "
             "state=The process start failed or exit abnormally" % "",
             "",
             "\t%-30s : node type=adda, sensor type=Heartbeat Sensor, event state=Heartbeat "
             "Lost." % ""],
}


def npu_smi(argv):
    state = load_state()
    if state.get("series") not in ("a2", "a3") or not state.get("driver_loaded", True):
        err("dcmi module initialize failed. ret is -8005")
        return 187
    latency(state, "query")
    if not argv or argv[0] != "info":
        out(USAGE)
        return 215
    args = argv[1:]
    warn = ""
    info = read_kv_file(root_path("/etc/ascend_install.info"))
    if info.get("Driver_Install_Status") != "complete":
        warn = ("[WARNING]The driver package may not be completely installed, which may cause "
                "function abnormal. Please reinstall it.")
    if not args:
        out(npu_smi_info_table(state))
        if warn:
            out(warn)
        return 0
    if args == ["-l"]:
        out(npu_smi_list(state))
        return 0
    if args == ["-m"]:
        out(npu_smi_mapping(state))
        return 0
    opts = kv_args(args, {"-t", "-i", "-c"})
    if not opts or "-t" not in opts or "-i" not in opts:
        out(USAGE)
        return 215
    try:
        npu_id = int(opts["-i"])
        chip_id = int(opts.get("-c", 0))
    except ValueError:
        out("Invalid card id.\nError parameter of -i\n" + USAGE)
        return 215
    chips = npus(state).get(npu_id)
    if chips is None:
        out("Invalid card id.\nError parameter of -i\n" + USAGE)
        return 215
    dev = next((d for d in chips if d["chip_id"] == chip_id), None)
    if dev is None:
        out("Invalid chip id.\nError parameter of -c\n" + USAGE)
        return 215
    kind = opts["-t"]
    if kind == "spod-info":
        if state["series"] != "a3":
            out("This device does not support querying spod-info.")
            return 0
        server = state.get("server_index", 0)
        phy = dev["phy_id"]
        sdid = dev.get("sdid", (server << 22) | ((phy // 2) << 18) | ((phy % 2) << 16) | phy)
        for label, value in (("SDID", sdid), ("Super Pod Size", state.get("super_pod_size", 384)),
                             ("Super Pod ID", state.get("super_pod_id", 0)),
                             ("Server Index", server)):
            out("\t%-30s : %d" % (label, value))
        return 0
    if kind == "health":
        health = dev.get("health", "OK")
        out("\t%-30s : %s" % ("Health Status", health))
        if health == "OK":
            out("\t%-30s : %s" % ("Error Code", "NA"))
            out("\t%-30s : %s" % ("Error Information", "NA"))
        else:
            out("\t%-30s : %s" % ("Error Code", ALARM["code"]))
            out("\t%-30s : %s" % ("Error Information", ALARM["info"][0]))
            for line in ALARM["info"][1:]:
                out(line)
        return 0
    out("This device does not support querying %s." % kind)
    return 0


def read_kv_file(path):
    result = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if "=" in line:
                    key, value = line.rstrip("\n").split("=", 1)
                    result[key.strip()] = value.strip()
    except FileNotFoundError:
        pass
    return result


# ---------------------------------------------------------------- Enflame: efsmi, eccl perf


def efsmi(argv):
    state = load_state()
    if state.get("series") != "gcu" or not state.get("driver_loaded", True):
        err("efsmi: no Enflame device found")
        return 1
    latency(state, "query")
    ver = state.get("versions", {})
    devices = state["devices"]
    if argv[:1] == ["-q"]:
        for dev in devices:
            out("DEV ID %d" % dev["phy_id"])
            out("    Driver Info")
            out("        %-24s: %s" % ("Ver", ver.get("driver", "1.4.4.501")))
            out("    Device Info")
            out("        %-24s: %s" % ("Dev Name", dev["name"].replace("Enflame ", "")))
            out("        %-24s: %s" % ("Dev SN", dev.get("sn", "A0A16505106%02d" % dev["phy_id"])))
            out("        %-24s: %s" % ("Health", "True" if dev.get("health", "OK") == "OK"
                                       else "False"))
            out("    Device Mem Info")
            out("        %-24s: %d MiB" % ("Total Size", dev.get("hbm_total_mb", 49120)))
            out("        %-24s: %d MiB" % ("Used Size", dev.get("hbm_used_mb", 0)))
            out("    Temperature Info")
            out("        %-24s: %d C" % ("GCU Temp", dev.get("temp_c", 35)))
        return 0
    stamp = time.strftime("%Y-%m-%d, %H:%M:%S UTC", time.gmtime())
    lines = ["-" * 78,
             "-------------------- Enflame System Management Interface ---------------------",
             "--------- Enflame Tech, All Rights Reserved. 2024-2025 Copyright (C) ---------",
             "-" * 78, " " * 78,
             "+%s%s+" % (stamp, "-" * (76 - len(stamp))),
             "| %-75s|" % ("EFSMI    %-15s Driver Ver: %s" % (ver.get("efsmi", "1.4.0.505"),
                                                              ver.get("driver", "1.4.4.501"))),
             "|" + "-" * 76 + "|", "|" + "-" * 76 + "|",
             "| DEV    NAME                 | FW VER           | BUS-ID      ECC           |",
             "| TEMP   Dpm   Pwr(Usage/Cap) | Mem     GCU Virt | DUsed       SN            |",
             "|" + "-" * 76 + "|"]
    for i, dev in enumerate(devices):
        if i:
            lines.append("|" + "-" * 76 + "|")
        lines.append("| %-6s %-20s | %-16s | %-11s %-13s |" % (
            dev["phy_id"], dev["name"], ver.get("firmware", "33.6.5"), dev["bus_id"],
            dev.get("ecc", "Enable")))
        lines.append("| %-6s %-8s %-11s | %-16s | %-11s %-13s |" % (
            "-", "Sleep", "-", "%dMiB Disable" % dev.get("hbm_total_mb", 49120),
            "%d%%" % dev.get("aicore_pct", 0), dev.get("sn", "A0A16505106%02d" % dev["phy_id"])))
        lines.append("+" + "-" * 76 + "+")
    out("\n".join(lines))
    return 0


def parse_size(text):
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", text)
    if not m:
        raise ValueError(text)
    mult = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[m.group(2).lower()]
    return int(m.group(1)) * mult


def fmt_time_us(us):
    if us >= 10000:
        return "%7.0f" % us
    if us >= 100:
        return "%7.1f" % us
    return "%7.2f" % us


def eccl_table(hostname, dev_names, nranks, minb, maxb, factor, peak_busbw, wrong=0,
               pid=41234):
    """nccl-tests (pre-2.17 layout) alltoall table for `nranks` ranks."""
    lines = ["# nThread 1 nGpus 1 minBytes %d maxBytes %d step: %d(factor) warmup iters: 5 "
             "iters: 20 agg iters: 1 validation: 1 graph: 0" % (minb, maxb, factor),
             "#", "# Using devices"]
    for rank in range(nranks):
        lines.append("#  Rank %2d Group  0 Pid %6d on %10s device %2d [0x%02x] %s" % (
            rank, pid + rank, hostname, rank, 0x3d + rank, dev_names[rank % len(dev_names)]))
    lines += ["#",
              "#                                                              out-of-place"
              "                       in-place",
              "#       size         count      type   redop    root     time   algbw   busbw "
              "#wrong     time   algbw   busbw #wrong",
              "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)"
              "            (us)  (GB/s)  (GB/s)"]
    size = minb
    busbws = []
    while size <= maxb:
        count = size // (4 * nranks)
        # Bandwidth rises with message size towards the fabric's peak.
        busbw = peak_busbw * size / (size + 256 * 1024)
        algbw = busbw * nranks / (nranks - 1) if nranks > 1 else busbw
        time_us = size / (algbw * 1e9) * 1e6 + 20.0 if algbw > 0 else 0.0
        algbw = size / 1e9 / (time_us / 1e6)
        busbw = algbw * (nranks - 1) / nranks if nranks > 1 else algbw
        row = "%12d  %12d  %8s  %6s  %6s" % (size, count, "float", "none", "-1")
        half = "  %7s  %6.2f  %6.2f" % (fmt_time_us(time_us), algbw, busbw)
        # all-to-all validates the out-of-place result only: in-place #wrong is `N/A`.
        lines.append(row + half + "  %5g" % (wrong if size == maxb else 0) + half + "  %5s" % "N/A")
        busbws += [busbw, busbw]
        if factor <= 1:
            break
        size *= factor
    bad = wrong
    lines.append("# Out of bounds values : %d %s" % (bad, "FAILED" if bad else "OK"))
    avg = sum(busbws) / len(busbws) if busbws else 0.0
    lines.append("# Avg bus bandwidth    : %g " % avg)
    lines.append("#")
    return "\n".join(lines)


def eccl_perf(argv):
    state = load_state()
    if state.get("series") != "gcu":
        err("ECCL error: no GCU device visible")
        return 1
    opts = {"-b": "8", "-e": "128M", "-f": "2", "-g": "1"}
    it = iter(argv)
    for arg in it:
        if arg in ("-b", "-e", "-f", "-g", "-n", "-w", "-c", "-d", "-o"):
            opts[arg] = next(it, "")
        else:
            err("invalid option: %s" % arg)
            return 1
    try:
        minb, maxb, factor = parse_size(opts["-b"]), parse_size(opts["-e"]), int(opts["-f"])
    except ValueError:
        err("invalid size argument")
        return 1
    world = int(getenv("OMPI_COMM_WORLD_SIZE") or getenv("PMI_SIZE") or opts["-g"])
    rank = int(getenv("OMPI_COMM_WORLD_RANK") or getenv("PMI_RANK") or 0)
    healthy = [d for d in state["devices"] if d.get("health", "OK") == "OK"]
    if world > len(state["devices"]):
        err("ECCL error: rank %d requested %d devices, %d present" % (rank, world,
                                                                      len(state["devices"])))
        return 1
    if len(healthy) < world:
        err("ECCL error: device %d unavailable (ecclUnhandledDeviceError)" %
            next(d["phy_id"] for d in state["devices"] if d.get("health", "OK") != "OK"))
        return 1
    latency(state, "query")
    if rank != 0:
        return 0
    eccl = state.get("eccl", {})
    out(eccl_table(state.get("hostname", "node"), [d["name"] for d in state["devices"]], world,
                   minb, maxb, factor, eccl.get("peak_busbw_gbps", 32.0),
                   wrong=eccl.get("wrong", 0)))
    return 0


# ---------------------------------------------------------------- fault injection (in-node)

FAULTS = {
    "link-down": "device link DOWN (net_health Fault; its address leaves the RoCE plane)",
    "net-health": "device net_health set to VALUE (Success, Socket fail, Receive timeout, ...)",
    "no-ip": "device has no IP configured (hccn_tool -ip -g fails)",
    "stale-conf": "/etc/hccn.conf address_N differs from the live device IP",
    "tls": "device TLS switch set to VALUE (0|1) on one device",
    "loss": "VALUE percent packet loss to/from the device address (100 = unreachable)",
    "unreachable": "device address and vNIC drop every packet",
    "vnic-down": "A3 vNIC link DOWN (hccs_ping fails)",
    "lldp-missing": "no LLDP neighbour on the device",
    "lldp-dup": "device reports the same switch port as device VALUE",
    "process": "a leftover process holding NPU memory on device's NPU",
    "no-hccn-tool": "hccn_tool binary missing",
    "alarm": "chip health Alarm (npu-smi health / table)",
    "gcu-unhealthy": "Enflame device health False",
    "eccl-slow": "ECCL peak bus bandwidth VALUE GB/s",
    "eccl-wrong": "ECCL all-to-all returns VALUE wrong values (out of bounds) in its largest size",
    "port-block": "this node's TCP connections to port VALUE are refused (a firewall)",
    "netdetect": "device netdetect address set to VALUE (default outside its subnet; none = unset)",
    "gateway": "device gateway set to VALUE (default outside its subnet; none = unset)",
    "device-missing": "the device disappears (npu-smi no longer lists it)",
    "sdid": "npu-smi spod-info reports SDID VALUE for the device (e.g. another's: a duplicate)",
    "super-pod": "npu-smi spod-info reports super pod id VALUE on this node",
    "version": "installed VALUE=VERSION for driver, firmware or cann (a version skew)",
    "driver-incomplete": "the driver install record lacks Driver_Install_Status=complete",
    "gcu-busy": "a process holds /dev/gcuN (N = the device): `rmmod enflame` says in use",
    "hot-reset-fail": "the driver installer cannot hot-reset the chips: exit 2, reboot needed",
}
# Node-level faults (no device argument).
NODE_FAULTS = ("no-hccn-tool", "eccl-slow", "eccl-wrong", "port-block", "super-pod", "version",
               "driver-incomplete", "hot-reset-fail")
# Files a fault edits in place; `reset` restores them from the copy taken first.
VERSION_FILES = {
    "driver": ("/usr/local/Ascend/driver/version.info", "Version"),
    "firmware": ("/usr/local/Ascend/firmware/version.info", "Version"),
    "cann": ("/usr/local/Ascend/ascend-toolkit/latest/x86_64-linux/ascend_toolkit_install.info",
             "version"),
}
INSTALL_INFO = "/etc/ascend_install.info"
SAVED = ".lab-initial"
# State the simulated installers own (kept by a fault reset).
INSTALL_STATE = ("bare", "driver_loaded", "pending", "modules", "auto_load")


def edit_file(path, func):
    """Rewrite a file through func(text), keeping its first version for `reset`."""
    real = root_path(path)
    with open(real, encoding="utf-8") as fh:
        text = fh.read()
    if not os.path.exists(real + SAVED):
        with open(real + SAVED, "w", encoding="utf-8") as fh:
            fh.write(text)
    with open(real, "w", encoding="utf-8") as fh:
        fh.write(func(text))


def restore_files():
    for path in [v[0] for v in VERSION_FILES.values()] + [INSTALL_INFO]:
        real = root_path(path)
        if os.path.exists(real + SAVED):
            os.replace(real + SAVED, real)


TOOL_PATHS = ["/usr/local/Ascend/driver/tools/hccn_tool"]


def fault(argv):
    """npu-lab-fault <kind> [device] [value] | reset | list"""
    import ipaddress
    import random
    if not argv or argv[0] in ("-h", "--help", "list"):
        for name, text in FAULTS.items():
            out("%-14s %s" % (name, text))
        out("%-14s %s" % ("reset", "restore the healthy initial state"))
        return 0
    kind = argv[0]
    state = load_state()
    if kind == "reset":
        import signal
        for proc in state.get("processes", []):
            if proc.get("holds"):
                try:
                    os.kill(proc["pid"], signal.SIGKILL)
                except OSError:
                    pass
        with open(state_path() + ".initial", encoding="utf-8") as fh:
            fresh = json.load(fh)
        # what the installers did is not a fault: a reset keeps it (the versions a `version`
        # fault changed go back to what they were)
        for key in INSTALL_STATE:
            if key in state:
                fresh[key] = state[key]
        fresh["versions"] = dict(state.get("versions", {}), **state.get("faulted_versions", {}))
        save_state(fresh)
        with open(root_path("/etc/hccn.conf"), "w", encoding="utf-8") as fh:
            fh.write(render_hccn_conf(fresh))
        restore_tools()
        restore_files()
        apply_network(fresh)
        out("reset")
        return 0
    if kind not in FAULTS:
        err("unknown fault %r; known: %s" % (kind, ", ".join(FAULTS)))
        return 2
    dev = None
    value = None
    rest = argv[1:]
    if kind not in NODE_FAULTS:
        if not rest:
            err("fault %s needs a device id" % kind)
            return 2
        dev = device_by_phy(state, int(rest[0]))
        if dev is None:
            err("no device %s on this node" % rest[0])
            return 2
        rest = rest[1:]
    value = rest[0] if rest else None
    if kind == "link-down":
        dev["link"] = "DOWN"
        dev["net_health"] = "Fault"
    elif kind == "net-health":
        dev["net_health"] = value or "Socket fail"
    elif kind == "no-ip":
        dev["ip"] = None
        dev["netmask"] = None
        dev["lab_ip"] = None
    elif kind == "stale-conf":
        conf_path = root_path("/etc/hccn.conf")
        live = ipaddress.ip_address(dev["ip"])
        write_hccn_conf_key(conf_path, "address_%d" % dev["phy_id"], value or str(live + 100))
    elif kind == "tls":
        dev["tls_switch"] = int(value if value is not None else 1 - dev.get("tls_switch", 0))
    elif kind == "loss":
        dev["loss_pct"] = float(value or 34)
    elif kind == "unreachable":
        dev["loss_pct"] = 100
    elif kind == "vnic-down":
        if not dev.get("vnic"):
            err("device %d has no vNIC (not an A3 node)" % dev["phy_id"])
            return 2
        dev["vnic"]["link"] = "DOWN"
    elif kind == "lldp-missing":
        dev["lldp"] = None
    elif kind == "lldp-dup":
        other = device_by_phy(state, int(value or 0))
        dev["lldp"] = dict(other["lldp"])
    elif kind == "process":
        state.setdefault("processes", []).append({
            "npu_id": dev["npu_id"], "chip_id": dev["chip_id"],
            "pid": int(value or random.randint(100000, 999999)),
            "name": "python3", "memory_mb": 3312})
        dev["hbm_used_mb"] = dev.get("hbm_used_mb", 0) + 3312
    elif kind == "no-hccn-tool":
        for path in TOOL_PATHS:
            real = root_path(path)
            if os.path.exists(real):
                os.replace(real, real + ".lab-removed")
    elif kind == "alarm":
        dev["health"] = value or "Alarm"
    elif kind == "gcu-unhealthy":
        dev["health"] = "Alarm"
    elif kind == "eccl-slow":
        state.setdefault("eccl", {})["peak_busbw_gbps"] = float(value or 2.0)
    elif kind == "eccl-wrong":
        state.setdefault("eccl", {})["wrong"] = int(value or 1)
    elif kind == "port-block":
        if not (value or "").isdigit():
            err("fault port-block needs a port number")
            return 2
        state.setdefault("blocked_ports", []).append(int(value))
    elif kind in ("netdetect", "gateway"):
        if value == "none":
            dev[kind] = None
        else:
            # default: the first address of the next /16, outside any device subnet
            net = ipaddress.ip_network("%s/%s" % (dev["ip"], dev["netmask"]), strict=False)
            dev[kind] = value or str(ipaddress.ip_address(int(net.broadcast_address) + 2))
    elif kind == "device-missing":
        state["devices"] = [d for d in state["devices"] if d is not dev]
    elif kind == "sdid":
        if not (value or "").isdigit():
            err("fault sdid needs the SDID to report (a number)")
            return 2
        dev["sdid"] = int(value)
    elif kind == "super-pod":
        if not (value or "").isdigit():
            err("fault super-pod needs a super pod id")
            return 2
        state["super_pod_id"] = int(value)
    elif kind == "version":
        what, _eq, version = (value or "").partition("=")
        if what not in VERSION_FILES or not version:
            err("fault version needs driver=V, firmware=V or cann=V")
            return 2
        path, key = VERSION_FILES[what]
        edit_file(path, lambda text: re.sub(r"(?m)^%s=.*$" % key, "%s=%s" % (key, version), text))
        versions = state.setdefault("versions", {})
        saved = state.setdefault("faulted_versions", {})
        # a node with another driver also runs it (npu-smi reports it)
        for key in (what, "npu_smi") if what == "driver" else (what,):
            saved.setdefault(key, versions.get(key))
            versions[key] = version
    elif kind == "gcu-busy":
        import subprocess
        holder = subprocess.Popen(  # pylint: disable=consider-using-with
            ["/usr/bin/python3", "-c", "import os, sys, time\n"
             "fd = os.open(sys.argv[1], os.O_PATH)\ntime.sleep(1e9)", root_path(
                 "/dev/gcu%d" % dev["phy_id"])],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        state.setdefault("processes", []).append({"pid": holder.pid, "name": "python3",
                                                  "device": dev["phy_id"], "holds": True})
    elif kind == "hot-reset-fail":
        state["hot_reset"] = "fail"
    elif kind == "driver-incomplete":
        edit_file(INSTALL_INFO, lambda text: re.sub(r"(?m)^Driver_Install_Status=.*\n?", "", text))
    save_state(state)
    apply_network(state)
    out("injected %s%s%s" % (kind, "" if dev is None else " on device %d" % dev["phy_id"],
                             "" if value is None else " value %s" % value))
    return 0


def restore_tools():
    for path in TOOL_PATHS:
        real = root_path(path)
        if os.path.exists(real + ".lab-removed"):
            os.replace(real + ".lab-removed", real)


DEVICE_MAJORS = {"davinci": 236, "davinci_manager": 237, "devmm_svm": 238, "hisi_hdc": 239,
                 "gcu": 240}


def make_device_nodes(state):
    """Character devices the real driver creates: /dev/davinciN + the three control nodes
    (Ascend) or /dev/gcuN (Enflame).  Their majors are arbitrary; nothing reads them."""
    import stat
    nodes = []
    if state.get("series") == "gcu":
        nodes = [("gcu%d" % d["phy_id"], "gcu", d["phy_id"]) for d in state["devices"]]
    else:
        nodes = [("davinci%d" % d["phy_id"], "davinci", d["phy_id"]) for d in state["devices"]]
        nodes += [(name, name, 0) for name in ("davinci_manager", "devmm_svm", "hisi_hdc")]
    for name, kind, minor in nodes:
        path = root_path("/dev/" + name)
        if not os.path.exists(path):
            os.mknod(path, 0o660 | stat.S_IFCHR, os.makedev(DEVICE_MAJORS[kind], minor))


def apply(argv):
    """npu-lab-apply [--devices] [--conf]: create device nodes, (re)write hccn.conf from the
    state, and sync the live network with it (run by the node's init)."""
    state = load_state()
    if "--devices" in argv:
        # a bare node (`npu-lab up --bare`) has no driver yet: no device nodes, no vendor tools
        if state.get("driver_loaded", True):
            make_device_nodes(state)
        elif state["series"] == "gcu":
            remove_tools(GCU_TOOLS)
        else:
            remove_tools(ASCEND_TOOLS, ASCEND_TOOL_LINKS)
    if "--conf" in argv:
        with open(root_path("/etc/hccn.conf"), "w", encoding="utf-8") as fh:
            fh.write(render_hccn_conf(state))
    apply_network(state)
    return 0


def dispatch(name, args):
    func = TOOLS.get(name)
    if func is None:
        err("npulab_sim: unknown tool name %r (one of %s)" % (name, ", ".join(TOOLS)))
        return 2
    try:
        return func(args)
    except ToolExit as exc:
        return exc.code


def handle_request(env_line, req_line):
    """One tool call from the client: returns "<rc> <stdout bytes> <stderr bytes>\\n" and the
    bytes, which the client replays on its stdout / stderr before exiting with rc."""
    env = {}
    for item in env_line.split("\x1e"):
        if "=" in item:
            key, value = item.split("=", 1)
            env[key] = value
    parts = req_line.split("\x1f")
    _REQ.out, _REQ.err, _REQ.env = [], [], env
    try:
        rc = dispatch(parts[0], parts[1:])
    except Exception as exc:  # a simulator bug must not kill the daemon
        _REQ.err.append("npu-lab simulator error: %r\n" % (exc,))
        rc = 70
    finally:
        stdout, stderr = "".join(_REQ.out), "".join(_REQ.err)
        _REQ.out = _REQ.err = _REQ.env = None
    out_b, err_b = stdout.encode("utf-8"), stderr.encode("utf-8")
    return b"%d %d %d\n" % (rc or 0, len(out_b), len(err_b)) + out_b + err_b


def serve(argv):
    """npu-lab-simd [port]: the node's simulator daemon on 127.0.0.1 (default 7399).

    Every tool call on a node is a small static client (`lab/sim/npulab-client.c`) that hands
    its argv to this long-lived process, so a call costs well under a millisecond of CPU
    instead of a Python start: on a lab of many simulated nodes per core that is what keeps
    tool latency, not CPU, the cost.
    """
    import socketserver

    port = int(argv[0]) if argv else int(os.environ.get("NPU_LAB_SIM_PORT", "7399"))

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            env_line = self.rfile.readline().decode("utf-8", "replace").rstrip("\n")
            req_line = self.rfile.readline().decode("utf-8", "replace").rstrip("\n")
            self.wfile.write(handle_request(env_line, req_line))

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True
        # Modules call up to `concurrency` tools at once (mpirun starts 8 more): the default
        # backlog of 5 resets connections under that burst.
        request_queue_size = 1024

    with Server(("127.0.0.1", port), Handler) as server:
        server.serve_forever()
    return 0


# ---------------------------------------------------------------- installers (.run packages)
#
# The lab's stand-ins for the vendors' .run packages (written by `npu-lab packages`) are short
# shell scripts that exec this simulator as `npu-lab-install`; a manifest inside the file says
# what the package is, and a makeself-style digest of its payload is checked first.  What the
# simulated installers do follows the real ones (shared reference: tool-output-formats
# §15.3-15.6, serving-topologies-facts §4): their options, the pre-checks with their ERR_NO
# codes, the prompt (and the wait on stdin) without --quiet, the version files and install
# records they write, the log, exit 0 / 1 / 2.  A fresh ("bare") lab node has none of the
# vendor's files, tools or device nodes until its driver package runs.

PAYLOAD_MARK = "__NPU_LAB_PAYLOAD__"
CLIENT = "/usr/local/lib/npu-lab/npulab-client"
INSTALL_LOG = "/var/log/ascend_seclog/ascend_install.log"
OPERATION_LOG = "/var/log/ascend_seclog/operation.log"
ASCEND_TOOLS = ("/usr/local/Ascend/driver/tools/hccn_tool", "/usr/local/bin/npu-smi")
ASCEND_TOOL_LINKS = {"/usr/local/bin/hccn_tool": "/usr/local/Ascend/driver/tools/hccn_tool"}
GCU_TOOLS = ("/usr/local/bin/efsmi", "/usr/local/bin/efsmt", "/usr/local/bin/eccl_alltoall_perf",
             "/usr/local/bin/eccl_all_to_all_perf")
TOPS_VERSION_FILE = "/opt/tops/version.txt"
# What each package is: its log tag, the name makeself prints, its options.
PACKAGES = {
    "driver": {"tag": "Driver", "label": "ASCEND DRIVER RUN PACKAGE", "title": "Driver"},
    "firmware": {"tag": "Firmware", "label": "ASCEND-HDK-910B-NPU FIRMWARE RUN PACKAGE",
                 "title": "Firmware"},
    "toolkit": {"tag": "Toolkit", "label": "ASCEND_CANN_TOOLKIT RUN PACKAGE",
                "title": "Ascend-cann-toolkit"},
    "kernels": {"tag": "Kernels", "label": "ASCEND_CANN_KERNELS RUN PACKAGE",
                "title": "Ascend-cann-kernels"},
    "nnal": {"tag": "NNAL", "label": "ASCEND_CANN_NNAL RUN PACKAGE", "title": "Ascend-cann-nnal"},
    "topsplatform": {"tag": "TopsPlatform", "label": "TopsPlatform", "title": "TopsPlatform"},
}
HDK_OPTIONS = {"--full", "--run", "--debug", "--devel", "--docker", "--upgrade", "--uninstall",
               "--version", "--install-for-all", "--force", "--norebuild", "--quiet", "-q",
               "--check", "--nox11", "--vnpu_guest"}
CANN_OPTIONS = {"--install", "--full", "--upgrade", "--uninstall", "--quiet", "-q", "--check",
                "--version", "--install-for-all", "--nox11", "--force"}
VALUE_OPTIONS = {"--install-path", "--install-username", "--install-usergroup"}
TOPS_OPTIONS = {"-y", "--silence", "--no-auto-load", "--peermem", "--driver", "--uninstall",
                "-l", "--list", "-h", "--help", "--with-dkms", "--virt", "--cn", "-x",
                "--extract-only", "--mdev-host", "--with-vgcu"}


def kv_text(pairs):
    return "".join("%s=%s\n" % kv for kv in pairs)


def installed_files(kind, version, arch="x86_64", root="/usr/local/Ascend", user="HwHiAiUser",
                    group="HwHiAiUser"):
    """{path: text} of the version files and records package `kind` at `version` leaves (the
    real files' keys and order).  The lab's pre-installed nodes get the same files."""
    if kind == "driver":
        return {
            root + "/driver/version.info": kv_text([
                ("Version", version), ("ascendhal_version", "7.35.23"), ("aicpu_version", "1.0"),
                ("tdt_version", "1.0"), ("log_version", "1.0"), ("prof_version", "2.0"),
                ("dvppkernels_version", "1.1"), ("tsfw_version", "1.0"),
                ("Innerversion", "V100R001C23SPC001B235"),
                ("compatible_version", "[V100R001C15],[V100R001C18],[V100R001C19],"
                                       "[V100R001C20],[V100R001C21],[V100R001C23]"),
                ("compatible_version_fw", "[7.0.0,7.7.99]"), ("package_version", version)]),
        }
    if kind == "firmware":
        return {root + "/firmware/version.info": kv_text([
            ("Version", version), ("firmware_version", "1.0"), ("package_version", version),
            ("compatible_version_drv", "[25.3.rc1,25.3.rc1.]")])}
    info = {"toolkit": ("ascend-toolkit", "%s-linux/ascend_toolkit_install.info" % arch,
                        "Ascend-cann-toolkit"),
            "kernels": ("ascend-toolkit", "opp_kernel/version.info", "Ascend-cann-kernels"),
            "nnal": ("nnal/atb", "version.info", "Ascend-cann-nnal")}
    if kind in info:
        base, rel, name = info[kind]
        return {"%s/%s/latest/%s" % (root, base, rel): kv_text([
            ("package_name", name), ("version", version),
            ("innerversion", "V100R001C23SPC001B235"), ("arch", arch), ("os", "linux"),
            ("path", "%s/%s/%s/%s-linux" % (root, base, version, arch))])}
    if kind == "topsplatform":
        return {TOPS_VERSION_FILE: "TopsPlatform %s\n" % version}
    raise ValueError(kind)


def install_info_text(user, group, root, firmware=True, driver=True, complete=True):
    pairs = [("UserName", user), ("UserGroup", group)]
    if firmware:
        pairs += [("Firmware_Install_Type", "full"), ("Firmware_Install_Path_Param", root)]
    if driver:
        pairs += [("Driver_Install_Type", "full"), ("Driver_Install_Path_Param", root),
                  ("Driver_Install_For_All", "no"), ("Driver_Install_Mode", "normal")]
        if complete:
            pairs.append(("Driver_Install_Status", "complete"))
    return kv_text(pairs)


def preinstalled_files(state):
    """Files of a node whose vendor software the lab installed before handing it over."""
    v = state.get("versions", {})
    if state["series"] == "gcu":
        return installed_files("topsplatform", v["driver"])
    files = {}
    for kind, key in (("driver", "driver"), ("firmware", "firmware"), ("toolkit", "cann")):
        files.update(installed_files(kind, v[key]))
    files["/etc/ascend_install.info"] = install_info_text("HwHiAiUser", "HwHiAiUser",
                                                          "/usr/local/Ascend")
    return files


def write_files(files):
    for path, text in files.items():
        real = root_path(path)
        os.makedirs(os.path.dirname(real), exist_ok=True)
        with open(real, "w", encoding="utf-8") as fh:
            fh.write(text)


def place_tools(paths, links=None):
    import shutil
    for path in paths:
        real = root_path(path)
        os.makedirs(os.path.dirname(real), exist_ok=True)
        shutil.copyfile(root_path(CLIENT), real + ".tmp")
        os.chmod(real + ".tmp", 0o755)
        os.replace(real + ".tmp", real)
    for link, target in (links or {}).items():
        if not os.path.lexists(root_path(link)):
            os.symlink(target, root_path(link))


def remove_tools(paths, links=None):
    for path in list(paths) + list(links or {}):
        if os.path.lexists(root_path(path)):
            os.remove(root_path(path))


def remove_device_nodes(state):
    for name in os.listdir(root_path("/dev")):
        if re.fullmatch(r"davinci\d+|davinci_manager|devmm_svm|hisi_hdc|gcu\d+", name):
            os.remove(root_path("/dev/" + name))


def users_and_groups():
    def names(path):
        try:
            with open(root_path(path), encoding="utf-8") as fh:
                return {line.split(":", 1)[0] for line in fh if ":" in line}
        except FileNotFoundError:
            return set()
    return names("/etc/passwd"), names("/etc/group")


class Installer:
    """One run of a stand-in package: prints and logs as the real installer does."""

    def __init__(self, pkg, args):
        self.pkg = pkg
        self.kind = pkg["kind"]
        self.meta = PACKAGES[self.kind]
        self.args = args

    def stamp(self):
        return time.strftime("%Y-%m-%d %H:%M:%S")

    def say(self, level, text):
        logged("[%s] [%s] [%s]%s" % (self.meta["tag"], self.stamp(), level, text))

    def wait_for_answer(self, question):
        """The real installers read the answer from the terminal: with nothing to read they
        wait for ever (a missing --quiet hangs an unattended run)."""
        out(question)
        sys.stdout.flush()
        line = sys.stdin.readline()
        while not line:
            time.sleep(3600)
        if line.strip().lower() != "y":
            out("Stop installation!")
            raise ToolExit(1)

    def fail(self, text, code=1):
        self.say("ERROR", text)
        self.say("INFO", "End time: %s" % self.stamp())
        raise ToolExit(code)


def read_package(path):
    """(manifest, payload ok, digest found, digest wanted) of a stand-in package file."""
    import hashlib
    with open(path, "rb") as fh:
        data = fh.read()
    mark = data.find(b"\n" + PAYLOAD_MARK.encode() + b"\n")
    if mark < 0:
        return None, False, None, None
    payload = data[mark + len(PAYLOAD_MARK) + 2:]
    head, _nl, body = payload.partition(b"\n")
    manifest = json.loads(head.decode("utf-8"))
    found = hashlib.sha256(body).hexdigest()
    return manifest, found == manifest["payload_sha256"], found, manifest["payload_sha256"]


def parse_install_args(args, allowed):
    flags, values, bad = set(), {}, []
    for arg in args:
        key, eq, value = arg.partition("=")
        if eq and key in VALUE_OPTIONS:
            values[key] = value
        elif arg in allowed:
            flags.add("--quiet" if arg == "-q" else arg)
        else:
            bad.append(arg)
    return flags, values, bad


def install(argv):
    """npu-lab-install ARGS: run as a stand-in package (its path in $NPU_LAB_PACKAGE_FILE)."""
    path = getenv("NPU_LAB_PACKAGE_FILE")
    if not path:
        err("npu-lab-install: run a package written by `npu-lab packages` (bash PKG.run ...)")
        return 2
    manifest, ok, found, wanted = read_package(path)
    if manifest is None:
        err("npu-lab-install: %s is not an npu-lab stand-in package" % path)
        return 2
    if manifest["kind"] == "topsplatform":
        return tops_install(manifest, argv)
    if "--help" in argv or "-h" in argv:
        out("Usage: %s [options]" % os.path.basename(path))
        return 0
    err_stream = "Verifying archive integrity...  100%   "
    if not ok:
        err("Verifying archive integrity...")
        err("Error in SHA256 checksums: %s is different from %s" % (found, wanted))
        return 2
    out(err_stream + "SHA256 checksums are OK. All good.")
    if "--check" in argv:
        return 0
    inst = Installer(manifest, argv)
    out("Uncompressing %s  100%%  " % inst.meta["label"])
    allowed = HDK_OPTIONS if inst.kind in ("driver", "firmware") else CANN_OPTIONS
    flags, values, bad = parse_install_args(argv, allowed)
    if bad:
        out("[ERROR]ERR_NO:0x0004;ERR_DES:Unrecognized parameters: %s. Try './%s --help' for "
            "more information." % (bad[0], os.path.basename(path)))
        return 1
    if "--version" in flags:
        out(manifest["version"])
        return 0
    state = load_state(fresh=True)
    inst.say("INFO", "Start time: %s" % inst.stamp())
    inst.say("INFO", "LogFile: %s" % INSTALL_LOG)
    inst.say("INFO", "OperationLogFile: %s" % OPERATION_LOG)
    host_arch = state.get("arch", "x86_64")
    if manifest["arch"] not in (host_arch, "noarch"):
        inst.fail("Arch mismatch, src package is %s, cur os is %s " % (manifest["arch"],
                                                                       host_arch))
    root = values.get("--install-path", "/usr/local/Ascend")
    try:
        if "--uninstall" in flags:
            return remove_package(inst.kind, root)
        if inst.kind in ("driver", "firmware"):
            return install_hdk(inst, state, flags, values, root)
        return install_cann(inst, state, flags, values, root)
    except ToolExit as exc:
        return exc.code


def installed_version(kind, root):
    files = installed_files(kind, "0", root=root)
    path, text = next(iter(files.items()))
    key = text.split("=", 1)[0] if kind in ("driver", "firmware") else "version"
    return read_kv_file(root_path(path)).get(key)


def pause(state, manifest, steps=1):
    seconds = float(state.get("install_seconds", manifest.get("seconds", 1)))
    if seconds:
        time.sleep(seconds / steps)


def install_hdk(inst, state, flags, values, root):
    """Driver or firmware: --full / --run / --upgrade."""
    users, groups = users_and_groups()
    info = read_kv_file(root_path(INSTALL_INFO))
    user = values.get("--install-username", "HwHiAiUser")
    group = values.get("--install-usergroup", "HwHiAiUser")
    if ("--install-username" in values) != ("--install-usergroup" in values):
        inst.fail("ERR_NO:0x0004;ERR_DES:--install-username and --install-usergroup need to be "
                  "used together")
    if "--install-for-all" in flags and not flags & {"--full", "--run", "--debug", "--devel"}:
        inst.fail("ERR_NO:0x0004;ERR_DES:install-for-all param need used with "
                  "full/debug/run/devel")
    if not flags & {"--full", "--run", "--upgrade", "--debug", "--devel", "--docker"}:
        inst.fail("ERR_NO:0x0004;ERR_DES:Please input the right params, such as --full, --run "
                  "or --upgrade")
    if user not in users or group not in groups:
        inst.fail("ERR_NO:0x0091;ERR_DES:%s not exists! Please add %s" % (
            user if user not in users else group, user if user not in users else group))
    if info.get("UserName") and (info.get("UserName"), info.get("UserGroup")) != (user, group):
        inst.fail("ERR_NO:0x0095;ERR_DES:The user and group are not same with last "
                  "installation,do not support overwriting installation")
    kind, version = inst.kind, inst.pkg["version"]
    old = installed_version(kind, root)
    loaded = state.get("driver_loaded", True)
    if kind == "firmware" and not (loaded and installed_version("driver", root)):
        inst.fail("ERR_NO:0x0080;ERR_DES:the driver is not installed or not loaded; install "
                  "the driver package first (first install: driver, then firmware)")
    if old and "--quiet" not in flags:
        inst.wait_for_answer(
            "[%s] [%s] [INFO]%s package has been installed on the path %s, the version is %s, "
            "and the version of this package is %s,do you want to continue?  [y/n] " % (
                inst.meta["tag"], inst.stamp(), inst.meta["title"], root, old, version))
    upgrade = "--upgrade" in flags or bool(old)
    inst.say("WARNING", "Do not power off or restart the system during the installation/upgrade")
    if kind == "driver":
        inst.say("INFO", "set username and usergroup, %s:%s" % (user, group))
        inst.say("INFO", "driver install type: Direct")
        for pct in (10, 30, 40, 90):
            inst.say("INFO", "upgradePercentage:%d%%" % pct)
            pause(state, inst.pkg, 5)
        fw = state.get("versions", {}).get("firmware") or installed_version("firmware", root)
        if fw and not fw.startswith("7."):
            inst.say("WARNING", "driver and firmware version relationship check fail")
    else:
        for _step in range(3):
            inst.say("INFO", "upgradePercentage: 0%")
            pause(state, inst.pkg, 4)
        inst.say("INFO", "upgradePercentage: 100%")
    write_files(installed_files(kind, version, root=root))
    record = read_kv_file(root_path(INSTALL_INFO))
    pairs = [("UserName", user), ("UserGroup", group)]
    if kind == "firmware" or record.get("Firmware_Install_Type"):
        pairs += [("Firmware_Install_Type", "full"), ("Firmware_Install_Path_Param", root)]
    if kind == "driver" or record.get("Driver_Install_Type"):
        pairs += [("Driver_Install_Type", "full"), ("Driver_Install_Path_Param", root),
                  ("Driver_Install_For_All", "yes" if "--install-for-all" in flags else
                   record.get("Driver_Install_For_All", "no")),
                  ("Driver_Install_Mode", "normal")]
        if kind == "firmware" and record.get("Driver_Install_Status"):
            pairs.append(("Driver_Install_Status", record["Driver_Install_Status"]))
    write_files({INSTALL_INFO: kv_text(pairs)})
    state = load_state(fresh=True)
    pending = state.setdefault("pending", {})
    verb = "upgrade" if upgrade else "install"
    uninstall = root_path(root + "/%s/script/uninstall.sh" % kind)
    os.makedirs(os.path.dirname(uninstall), exist_ok=True)
    with open(uninstall, "w", encoding="utf-8") as fh:
        fh.write(uninstall_script(kind, version, root))
    os.chmod(uninstall, 0o755)
    if kind == "firmware":
        pending["firmware"] = version
        save_state(state)
        inst.say("INFO", "The firmware of [%d] chips are successfully upgraded."
                 % len(state["devices"]))
        inst.say("INFO", "Firmware package installed successfully! Reboot now or after driver "
                 "installation for the installation/upgrade to take effect.")
        inst.say("INFO", "End time: %s" % inst.stamp())
        return 0
    busy = loaded and old and (state.get("processes") or state.get("hot_reset") == "fail")
    with open(root_path(INSTALL_INFO), "a", encoding="utf-8") as fh:
        fh.write("Driver_Install_Status=complete\n")
    if busy:
        pending["driver"] = version
        save_state(state)
        inst.say("INFO", "Driver package %s finished!" % verb)
        inst.say("WARNING", "Kernel modules can not be removed, reboot needed for "
                 "installation/upgrade to take effect!")
        inst.say("INFO", "End time: %s" % inst.stamp())
        return 2
    inst.say("INFO", "Waiting for device startup...")
    pause(state, inst.pkg, 5)
    inst.say("INFO", "Device startup success")
    activate_driver(state, version)
    save_state(state)
    inst.say("INFO", "upgradePercentage:100%")
    inst.say("INFO", "Driver package %s successfully! The new version takes effect "
             "immediately. " % ("installed" if verb == "install" else "upgraded"))
    inst.say("INFO", "End time: %s" % inst.stamp())
    return 0


def activate_driver(state, version):
    """The driver runs: its tools answer, its device nodes exist, npu-smi reports it."""
    state["driver_loaded"] = True
    versions = state.setdefault("versions", {})
    versions["driver"] = versions["npu_smi"] = version
    state.get("pending", {}).pop("driver", None)
    place_tools(ASCEND_TOOLS, ASCEND_TOOL_LINKS)
    make_device_nodes(state)


def uninstall_script(kind, version, root):
    return ("#!/bin/sh\n# npu-lab stand-in: %s %s's uninstall script\n"
            "NPU_LAB_TOOL=npu-lab-uninstall exec /usr/bin/python3 -SE "
            "/usr/local/lib/npu-lab/npulab_sim.py %s '%s' \"$@\"\n" % (kind, version, kind, root))


def install_cann(inst, state, flags, values, root):
    kind, version = inst.kind, inst.pkg["version"]
    if not flags & {"--install", "--full", "--upgrade"}:
        inst.fail("ERR_NO:0x0004;ERR_DES:Please input the right params, such as --install, "
                  "--full or --upgrade")
    if kind != "toolkit" and not installed_version("toolkit", root):
        inst.fail("ERR_NO:0x0080;ERR_DES:%s needs Ascend-cann-toolkit, which is not installed "
                  "in %s" % (inst.meta["title"], root))
    old = installed_version(kind, root)
    if old and "--quiet" not in flags:
        inst.wait_for_answer(
            "[%s] [%s] [INFO]%s has been installed in %s, version %s. Do you want to "
            "overwrite it with version %s? [y/n] " % (inst.meta["tag"], inst.stamp(),
                                                      inst.meta["title"], root, old, version))
    pause(state, inst.pkg)
    write_files(installed_files(kind, version, root=root))
    base = {"toolkit": "ascend-toolkit", "kernels": "ascend-toolkit", "nnal": "nnal/atb"}[kind]
    if kind != "kernels":
        write_files({"%s/%s/set_env.sh" % (root, base): (
            "export ASCEND_TOOLKIT_HOME=%s/%s/latest\n" % (root, base))})
    state = load_state(fresh=True)
    state.setdefault("versions", {})["cann" if kind == "toolkit" else kind] = version
    save_state(state)
    inst.say("INFO", " %s %s success" % (inst.meta["title"], "upgrade" if old else "install"))
    return 0


def logged(line):
    """Print an installer line and append it to the install log, as the installers do."""
    out(line)
    try:
        os.makedirs(os.path.dirname(root_path(INSTALL_LOG)), exist_ok=True)
        with open(root_path(INSTALL_LOG), "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    except OSError:
        pass


def remove_package(kind, root):
    """--uninstall or the package's script/uninstall.sh."""
    state = load_state(fresh=True)
    tag = PACKAGES[kind]["tag"]
    if not installed_version(kind, root):
        out("[%s] [%s] [ERROR]ERR_NO:0x0080;ERR_DES:%s is not installed in %s" % (
            tag, time.strftime("%Y-%m-%d %H:%M:%S"), PACKAGES[kind]["title"], root))
        return 1
    for path in installed_files(kind, "0", root=root):
        if os.path.exists(root_path(path)):
            os.remove(root_path(path))
    versions = state.setdefault("versions", {})
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    if kind == "driver":
        import shutil
        shutil.rmtree(root_path(root + "/driver"), ignore_errors=True)
        record = read_kv_file(root_path(INSTALL_INFO))
        keep = [(k, v) for k, v in record.items() if not k.startswith("Driver_")]
        write_files({INSTALL_INFO: kv_text(keep)})
        state["driver_loaded"] = False
        for key in ("driver", "npu_smi"):
            versions.pop(key, None)
        remove_tools(ASCEND_TOOLS, ASCEND_TOOL_LINKS)
        remove_device_nodes(state)
        save_state(state)
        logged("[Driver] [%s] [INFO]Driver package uninstalled successfully! Reboot needed for "
               "uninstallation to take effect!" % stamp)
        return 0
    if kind == "firmware":
        import shutil
        shutil.rmtree(root_path(root + "/firmware"), ignore_errors=True)
        record = read_kv_file(root_path(INSTALL_INFO))
        keep = [(k, v) for k, v in record.items() if not k.startswith("Firmware_")]
        write_files({INSTALL_INFO: kv_text(keep)})
        versions.pop("firmware", None)
        save_state(state)
        logged("[Firmware] [%s] [INFO]Firmware package uninstalled successfully! Uninstallation "
               "takes effect immediately." % stamp)
        return 0
    versions.pop("cann" if kind == "toolkit" else kind, None)
    save_state(state)
    logged("[%s] [%s] [INFO] %s uninstall success" % (tag, stamp, PACKAGES[kind]["title"]))
    return 0


def uninstall_tool(argv):
    """npu-lab-uninstall KIND ROOT: a package's script/uninstall.sh."""
    if len(argv) < 2 or argv[0] not in PACKAGES:
        err("usage: uninstall.sh")
        return 2
    return remove_package(argv[0], argv[1])


def reboot(argv):
    """npu-lab-reboot: what a reboot does to the simulated hardware -- pending driver and
    firmware versions take effect, processes are gone, a new boot id."""
    import uuid
    state = load_state(fresh=True)
    pending = state.pop("pending", {}) or {}
    versions = state.setdefault("versions", {})
    if "firmware" in pending:
        versions["firmware"] = pending["firmware"]
    driver = installed_version("driver", "/usr/local/Ascend")
    if state["series"] != "gcu" and driver:
        activate_driver(state, driver)
    state["processes"] = []
    for dev in state.get("devices", []):
        dev["hbm_used_mb"] = 0 if state["series"] == "gcu" else dev.get("hbm_used_mb", 0)
    save_state(state)
    os.makedirs(root_path("/run/npu-lab"), exist_ok=True)
    with open(root_path("/run/npu-lab/boot_id"), "w", encoding="utf-8") as fh:
        fh.write(str(uuid.uuid4()) + "\n")
    out("npu-lab: simulated reboot done (%s)" % (
        ", ".join("%s %s" % kv for kv in sorted(pending.items())) or "nothing pending"))
    return 0


# ---------------------------------------------------------------- Enflame TopsPlatform, modules

GCU_MODULES = ("enflame_peer_mem", "enflame")


def tops_install(manifest, argv):
    """TopsPlatform_<ver>_deb_amd64.run [-y] [--no-auto-load] [--peermem] [--driver] ..."""
    state = load_state(fresh=True)
    bad = [a for a in argv if a not in TOPS_OPTIONS and not a.startswith("--python=")
           and not a.startswith("--install-dir=")]
    if "-h" in argv or "--help" in argv:
        out("Usage: %s [-y] [--no-auto-load] [--peermem] [--driver] [--uninstall] ..." %
            os.path.basename(getenv("NPU_LAB_PACKAGE_FILE")))
        return 0
    if bad:
        err("Unknown option: %s" % bad[0])
        return 1
    _m, ok, found, wanted = read_package(getenv("NPU_LAB_PACKAGE_FILE"))
    if not ok:
        err("Verifying archive integrity...")
        err("Error in SHA256 checksums: %s is different from %s" % (found, wanted))
        return 2
    out("Verifying archive integrity...  100%   SHA256 checksums are OK. All good.")
    out("Uncompressing TopsPlatform  100%  ")
    if state.get("arch", "x86_64") != "x86_64":
        out("[ERROR] This package is for amd64, the system is %s" % state.get("arch"))
        return 1
    if "--uninstall" in argv:
        if not os.path.exists(root_path(TOPS_VERSION_FILE)):
            out("[ERROR] TopsPlatform is not installed")
            return 1
        os.remove(root_path(TOPS_VERSION_FILE))
        remove_tools(GCU_TOOLS)
        remove_device_nodes(state)
        state["modules"] = []
        state["driver_loaded"] = False
        save_state(state)
        out("[INFO] TopsPlatform uninstalled")
        return 0
    loaded = [m for m in GCU_MODULES if m in state.get("modules", list(GCU_MODULES))]
    if loaded:
        out("[ERROR] kernel module %s is loaded; unload it first (rmmod %s)" % (
            loaded[0], loaded[0].replace("_", "-")))
        return 1
    if "-y" not in argv and "--silence" not in argv:
        Installer(manifest, argv).wait_for_answer(
            "TopsPlatform %s will be installed. Do you want to continue? [y/n] "
            % manifest["version"])
    pause(state, manifest)
    out("[INFO] Installing TopsPlatform %s: driver%s" % (
        manifest["version"], " and peermem" if "--peermem" in argv else ""))
    write_files(installed_files("topsplatform", manifest["version"]))
    place_tools(GCU_TOOLS)
    state["modules"] = ["enflame"] + (["enflame_peer_mem"] if "--peermem" in argv else [])
    state["driver_loaded"] = True
    state.setdefault("versions", {})["driver"] = manifest["version"]
    state["auto_load"] = "--no-auto-load" not in argv
    make_device_nodes(state)
    save_state(state)
    out("[INFO] TopsPlatform %s installed successfully" % manifest["version"])
    return 0


def real_kernel_unless_gcu(name, argv):
    """The node's state if it simulates Enflame GCUs; otherwise the real kmod tool runs."""
    try:
        state = load_state(fresh=True)
    except FileNotFoundError:
        state = {}
    if state.get("series") != "gcu":
        os.execv("/usr/sbin/" + name, [name] + list(argv))
    return state


def rmmod(argv):
    """rmmod NAME...: the simulated kernel's modules (real messages of kmod's rmmod)."""
    state = real_kernel_unless_gcu("rmmod", argv)
    loaded = state.get("modules", list(GCU_MODULES))
    rc = 0
    for arg in [a for a in argv if not a.startswith("-")]:
        name = arg.replace("-", "_")
        if name not in loaded:
            err("rmmod: ERROR: Module %s is not currently loaded" % name)
            rc = 1
        elif name == "enflame" and "enflame_peer_mem" in loaded:
            err("rmmod: ERROR: Module enflame is in use by: enflame_peer_mem")
            rc = 1
        elif name == "enflame" and any(alive(proc) for proc in state.get("processes", [])):
            err("rmmod: ERROR: Module enflame is in use")
            rc = 1
        else:
            loaded = [m for m in loaded if m != name]
    state["modules"] = loaded
    if "enflame" not in loaded:
        state["driver_loaded"] = False
    save_state(state)
    return rc


def efsmt(argv):
    """efsmt: only the PCIe hot reset of runbook 004 (`-d dtu.* -pcie reset hot`); its real
    output is not public, so this says what it did in plain words."""
    state = load_state(fresh=True)
    if state.get("series") != "gcu" or not state.get("driver_loaded", True):
        err("efsmt: no Enflame device found")
        return 1
    if argv[:1] == ["-d"] and argv[2:] == ["-pcie", "reset", "hot"]:
        state.pop("ssm_crashed", None)
        save_state(state)
        for dev in state["devices"]:
            out("%s: PCIe hot reset done" % dev["bus_id"])
        return 0
    err("efsmt: unsupported command in the lab simulator: %s" % " ".join(argv))
    return 2


def alive(proc):
    if not proc.get("holds"):
        return True
    try:
        os.kill(proc["pid"], 0)
        return True
    except OSError:
        return False


def lsmod(argv):
    state = real_kernel_unless_gcu("lsmod", argv)
    out("Module                  Size  Used by")
    loaded = state.get("modules", list(GCU_MODULES))
    sizes = {"enflame": 2342912, "enflame_peer_mem": 16384}
    for name in ("enflame_peer_mem", "enflame"):
        if name in loaded:
            users = "enflame_peer_mem" if name == "enflame" and "enflame_peer_mem" in loaded \
                else ""
            out("%-24s%8d  %d %s" % (name, sizes[name], 1 if users else 0, users))
    return 0


TOOLS = {
    "hccn_tool": hccn_tool,
    "npu-smi": npu_smi,
    "efsmi": efsmi,
    "eccl_alltoall_perf": eccl_perf,
    "eccl_all_to_all_perf": eccl_perf,
    "npu-lab-fault": fault,
    "npu-lab-apply": apply,
    "npu-lab-simd": serve,
    "npu-lab-install": install,
    "npu-lab-uninstall": uninstall_tool,
    "npu-lab-reboot": reboot,
    "rmmod": rmmod,
    "efsmt": efsmt,
    "lsmod": lsmod,
}


def main(argv=None):
    argv = list(sys.argv if argv is None else argv)
    name = os.environ.get("NPU_LAB_TOOL") or os.path.basename(argv[0])
    return dispatch(name, argv[1:])


if __name__ == "__main__":
    sys.exit(main())
