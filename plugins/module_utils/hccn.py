# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Pure parsers for `hccn_tool` output and `/etc/hccn.conf`.

Every parser takes (rc, stdout, stderr) and returns a dict.  A parser never raises on tool
output: unknown or failed output comes back as `error` (plain words, with the raw text), so the
caller reports it as a problem instead of crashing or silently passing.  Accepted variants
follow shared/reference/tool-output-formats.md (older and newer HDK wording, TABs or spaces,
empty stdout with the error on stderr).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.npu.cluster.plugins.module_utils.text import shorten
from ansible_collections.npu.cluster.plugins.module_utils.text import to_text as _text

# Messages the real tool prints (stream varies), with what they mean for an operator.
KNOWN_ERRORS = (
    ("Get invalid device id.", "no such device id"),
    ("Get invalid major cmd.", "hccn_tool does not know this command (old driver?)"),
    ("The total count of input parameters is wrong!", "wrong parameters"),
    ("Get unknown option!", "unknown option"),
    ("The ip address you configured is invalid!", "invalid IP address"),
    ("Command execute failed!", "device query failed"),
    ("Get ipconf failed, because no ip was preset there!", "no IP configured"),
    ("Get gateway failed, because no gateway was preset there!", "no gateway configured"),
    ("Execute failed: Link status is down.", "link is down"),
    ("Control link unreachable.", "control link to the device unreachable"),
    ("Optical module is not present.", "optical module not present"),
    ("hccn_tool is busy, please try again.", "hccn_tool busy"),
    ("permission denied", "not run as root"),
    ("The command is not supported on this product.", "not supported on this product"),
    ("The device is occupied. Please try again later.", "device occupied"),
    ("No certificate found, please set certs firstly!", "no TLS certificate"),
    ("Cmd execute failed!", "command failed"),
)

# Where the Ascend driver installs hccn_tool.
HCCN_TOOL = "/usr/local/Ascend/driver/tools/hccn_tool"


def raw(stdout, stderr):
    """The raw output, shortened, for a problem message."""
    return shorten(stdout, stderr)


def tool_error(rc, stdout, stderr):
    """None when rc == 0; else a plain-words error naming the known meaning and exit code."""
    if rc == 0:
        return None
    text = _text(stderr) + "\n" + _text(stdout)
    for message, meaning in KNOWN_ERRORS:
        if message in text:
            return "%s (exit %d: %s)" % (meaning, rc, message)
    return "failed (exit %d): %s" % (rc, raw(stdout, stderr))


def _unknown(what, stdout, stderr):
    return "unrecognised %s output: %s" % (what, raw(stdout, stderr))


def parse_link(rc, stdout, stderr):
    err = tool_error(rc, stdout, stderr)
    if err:
        return {"link": None, "error": err}
    m = re.search(r"^\s*link status:\s*(UP|DOWN)\s*$", _text(stdout), re.M | re.I)
    if not m:
        return {"link": None, "error": _unknown("-link -g", stdout, stderr)}
    return {"link": m.group(1).upper(), "error": None}


NET_HEALTH_VALUES = ("Success", "Socket fail", "Socket failed", "Receive timeout", "Unreachable",
                     "Time exceeded", "Fault", "Init", "Thread error", "Detect ip set", "Unknown")


def parse_net_health(rc, stdout, stderr):
    err = tool_error(rc, stdout, stderr)
    if err:
        return {"net_health": None, "error": err}
    m = re.search(r"^\s*net health status:\s*(.+?)\s*$", _text(stdout), re.M)
    if not m:
        return {"net_health": None, "error": _unknown("-net_health -g", stdout, stderr)}
    value = m.group(1)
    if value not in NET_HEALTH_VALUES:
        return {"net_health": value, "error": "unknown net health status %r" % value}
    return {"net_health": value, "error": None}


def parse_netdetect(rc, stdout, stderr):
    err = tool_error(rc, stdout, stderr)
    if err:
        return {"netdetect": None, "error": err}
    m = re.search(r"netdetect addr(?:ess)?:\s*(\S+)", _text(stdout))
    if not m:
        return {"netdetect": None, "error": _unknown("-netdetect -g", stdout, stderr)}
    value = m.group(1)
    return {"netdetect": None if value == "0.0.0.0" else value, "error": None}


def parse_gateway(rc, stdout, stderr):
    if rc != 0 and "no gateway was preset" in _text(stderr) + _text(stdout):
        return {"gateway": None, "gateway_iface": None, "error": None}
    err = tool_error(rc, stdout, stderr)
    if err:
        return {"gateway": None, "gateway_iface": None, "error": err}
    m = re.search(r"default gateway:\s*([\d.]+)\s*,\s*Iface:\s*(\S+)", _text(stdout))
    if not m:
        return {"gateway": None, "gateway_iface": None,
                "error": _unknown("-gateway -g", stdout, stderr)}
    return {"gateway": m.group(1), "gateway_iface": m.group(2), "error": None}


def parse_ip(rc, stdout, stderr):
    if rc != 0 and "no ip was preset" in _text(stderr) + _text(stdout):
        return {"ipaddr": None, "netmask": None, "error": None}
    err = tool_error(rc, stdout, stderr)
    if err:
        return {"ipaddr": None, "netmask": None, "error": err}
    text = _text(stdout)
    ip = re.search(r"^\s*ipaddr:\s*([\d.]+)\s*$", text, re.M)
    mask = re.search(r"^\s*netmask:\s*([\d.]+)\s*$", text, re.M)
    if not ip:
        if not text.strip():
            # A real capture: stdout empty, the error went to stderr (exit not recorded).
            return {"ipaddr": None, "netmask": None,
                    "error": "no output from -ip -g: %s" % raw(stdout, stderr)}
        return {"ipaddr": None, "netmask": None, "error": _unknown("-ip -g", stdout, stderr)}
    return {"ipaddr": ip.group(1), "netmask": mask.group(1) if mask else None, "error": None}


def parse_vnic(rc, stdout, stderr):
    err = tool_error(rc, stdout, stderr)
    empty = {"vnic_link": None, "vnic_ipaddr": None, "vnic_netmask": None}
    if err:
        return dict(empty, error=err)
    text = _text(stdout)
    link = re.search(r"vnic link status:\s*(UP|DOWN)", text, re.I)
    ip = re.search(r"vnic ipaddr:\s*([\d.]+)", text)
    mask = re.search(r"vnic netmask:\s*([\d.]+)", text)
    if not link or not ip:
        return dict(empty, error=_unknown("-vnic -g", stdout, stderr))
    return {"vnic_link": link.group(1).upper(), "vnic_ipaddr": ip.group(1),
            "vnic_netmask": mask.group(1) if mask else None, "error": None}


def parse_tls(rc, stdout, stderr):
    err = tool_error(rc, stdout, stderr)
    if err:
        return {"tls_switch": None, "tls_expired": [], "error": err}
    text = _text(stdout)
    m = re.search(r"tls switch\[(\d)\]", text)
    if not m:
        return {"tls_switch": None, "tls_expired": [],
                "error": _unknown("-tls -g", stdout, stderr)}
    expired = []
    kind = None
    for line in text.splitlines():
        km = re.search(r"\[([a-z0-9 ]+(?:cert)?|crl)\] info:", line)
        if km:
            kind = km.group(1)
        em = re.search(r"tls expiration status\[(\d)\]", line)
        if em and em.group(1) == "2":
            expired.append(kind or "cert")
    if "tls expiration status[2]" in _text(stderr):
        expired.append("cert")
    return {"tls_switch": int(m.group(1)), "tls_expired": expired, "error": None}


def parse_lldp(rc, stdout, stderr):
    err = tool_error(rc, stdout, stderr)
    empty = {"lldp_ifname": None, "lldp_system_name": None, "lldp_mgmt_ip": None}
    if err:
        return dict(empty, error=err)
    text = _text(stdout)
    if not text.strip():
        return dict(empty, error=None)
    ifname = re.search(r"Ifname:\s*([\w/:.\-]+)", text, re.I)
    lines = text.splitlines()
    sysname = None
    mgmt = None
    for i, line in enumerate(lines):
        if line.strip() == "System Name TLV" and i + 1 < len(lines):
            sysname = lines[i + 1].strip() or None
        if line.strip() == "Management Address TLV":
            for follow in lines[i + 1:i + 4]:
                mm = re.search(r"IPv4:\s*(\S+)", follow)
                if mm:
                    mgmt = mm.group(1)
                    break
    if not ifname and "TLV" not in text:
        return dict(empty, error=_unknown("-lldp -g", stdout, stderr))
    return {"lldp_ifname": ifname.group(1) if ifname else None, "lldp_system_name": sysname,
            "lldp_mgmt_ip": mgmt, "error": None}


def parse_hccn_conf(text):
    """{device_id: {key: value}} from key_N=value lines; later lines win; '#' ignored."""
    result = {}
    for line in _text(text).splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        m = re.match(r"^(.+)_(\d+)$", key.strip())
        if not m:
            continue
        result.setdefault(int(m.group(2)), {})[m.group(1)] = value.strip()
    return result


def _ping_stats(text):
    """(sent, received, loss %) from '-ping' ("packet loss") or '-hccs_ping' ("packets loss")."""
    m = re.search(r"(\d+) packets transmitted, (\d+) received, ([\d.]+)% packets? loss", text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), float(m.group(3))


def _ping_result(rc, stdout, stderr, what, times_re, time_scale, success_text=None):
    """Shared shape of both ping parsers: the statistics line decides; without one the run
    failed (error text named)."""
    text = _text(stdout)
    stats = _ping_stats(text)
    if stats is None:
        err = tool_error(rc, stdout, stderr) or _unknown(what, stdout, stderr)
        return {"transmitted": 0, "received": 0, "loss_pct": 100.0, "ok": False, "error": err}
    sent, recv, loss = stats
    times = [float(t) * time_scale for t in re.findall(times_re, text)]
    ok = sent > 0 and recv == sent and (success_text is None or success_text in text)
    return {"transmitted": sent, "received": recv, "loss_pct": loss, "ok": ok,
            "max_ms": max(times) if times else None, "error": None}


def parse_ping(rc, stdout, stderr):
    """RoCE `-ping -g address X`; any lost packet makes the real tool exit 1 (still a result)."""
    return _ping_result(rc, stdout, stderr, "-ping -g",
                        r"recv seq=\s*\d+,\s*time=([\d.]+)ms", 1.0)


def parse_hccs_ping(rc, stdout, stderr):
    """A3 `-hccs_ping`: exit 0 even with loss; ok only when every packet came back."""
    return _ping_result(rc, stdout, stderr, "-hccs_ping -g",
                        r"recv seq \d+, time = ([\d.]+)us", 0.001, "This pkt ping success!")
