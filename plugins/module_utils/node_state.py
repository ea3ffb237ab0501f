# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Pure parsers for what the serving plan needs to know about a node, read in one module call
(npu.cluster.serving_facts): its IPv4 interfaces (`ip -j -d -4 addr show`), its default route
(`ip -j -4 route show default`), its listening TCP ports (/proc/net/tcp, /proc/net/tcp6) and
the serving container (`docker inspect --type container NAME`).

Every parser takes what the tool printed (rc, stdout, stderr) and returns a dict with an
`error` that is None or a sentence quoting what was seen; none raises on odd output.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import struct

from ansible_collections.npu.cluster.plugins.module_utils.text import shorten as clip

TCP_LISTEN = "0A"


def _json(rc, out, err, what):
    if rc != 0:
        return None, "%s failed (rc %s): %s" % (what, rc, clip(err or out))
    try:
        return json.loads(out or "null"), None
    except ValueError:
        return None, "%s printed something that is not JSON: %s" % (what, clip(out))


def parse_ip_addr(rc, out, err):
    """`ip -j -d -4 addr show` -> {"interfaces": {name: {"ipv4": [..], "kind", "link_type",
    "up"}}, "error"}.  kind is the link's driver kind from -d (bridge, veth, bond, vlan...) or
    None for a plain device."""
    data, error = _json(rc, out, err, "ip -j -d -4 addr show")
    result = {"interfaces": {}, "error": error}
    if error:
        return result
    if not isinstance(data, list):
        result["error"] = "ip -j -d -4 addr show printed %s, not a list of links: %s" % (
            type(data).__name__, clip(out))
        return result
    for link in data:
        if not isinstance(link, dict) or not link.get("ifname"):
            continue
        addrs = [a.get("local") for a in link.get("addr_info") or []
                 if isinstance(a, dict) and a.get("family") == "inet" and a.get("local")]
        info = link.get("linkinfo") or {}
        result["interfaces"][link["ifname"]] = {
            "ipv4": addrs,
            "kind": info.get("info_kind") if isinstance(info, dict) else None,
            "link_type": link.get("link_type"),
            "up": "UP" in (link.get("flags") or []),
        }
    return result


def parse_default_route(rc, out, err):
    """`ip -j -4 route show default` -> {"interface", "gateway", "source", "error"}; all None
    (and no error) when the node has no IPv4 default route.  With several default routes the
    one with the lowest metric wins, as the kernel picks it."""
    data, error = _json(rc, out, err, "ip -j -4 route show default")
    result = {"interface": None, "gateway": None, "source": None, "error": error}
    if error:
        return result
    routes = [r for r in data or [] if isinstance(r, dict) and r.get("dev")]
    if not routes:
        return result
    best = sorted(routes, key=lambda r: int(r.get("metric") or 0))[0]
    result.update(interface=best["dev"], gateway=best.get("gateway"), source=best.get("prefsrc"))
    return result


def default_ipv4(route, interfaces):
    """The default-route address: the route's preferred source, else the first IPv4 address
    of its interface (what `ip route get` would choose for an outside destination)."""
    if route.get("source"):
        return route["source"]
    addrs = (interfaces.get(route.get("interface") or "") or {}).get("ipv4") or []
    return addrs[0] if addrs else None


def _hex_addr(text, family):
    raw = bytes.fromhex(text)
    if family == 4:
        return socket.inet_ntop(socket.AF_INET, struct.pack("<I", struct.unpack(">I", raw)[0]))
    # tcp6: four 32-bit words, each in host (little-endian) order
    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
    return socket.inet_ntop(socket.AF_INET6, b"".join(words))


def parse_proc_net_tcp(text, family=4):
    """/proc/net/tcp (family 4) or /proc/net/tcp6 (6) -> {"listening": [{"address", "port",
    "inode"}], "error"}: the sockets in state LISTEN (0A)."""
    result = {"listening": [], "error": None}
    lines = (text or "").splitlines()
    if not lines or "local_address" not in lines[0]:
        result["error"] = "/proc/net/tcp%s does not start with its header line: %s" % (
            "6" if family == 6 else "", clip(text))
        return result
    for line in lines[1:]:
        cols = line.split()
        if len(cols) < 10:
            continue
        if cols[3].upper() != TCP_LISTEN:
            continue
        try:
            host, port = cols[1].split(":")
            result["listening"].append({"address": _hex_addr(host, family),
                                        "port": int(port, 16), "inode": int(cols[9])})
        except (ValueError, OSError):
            result["error"] = "unreadable line in /proc/net/tcp%s: %s" % (
                "6" if family == 6 else "", clip(line.strip()))
    return result


def parse_container_inspect(rc, out, err, name, owner):
    """`docker inspect --type container NAME` -> {"name", "exists", "running", "owned",
    "status", "image", "id", "started_at", "labels", "error"}.  A missing container is not an
    error; a daemon that cannot be reached is."""
    result = {"name": name, "exists": False, "running": False, "owned": False, "status": None,
              "image": None, "id": None, "started_at": None, "labels": {}, "error": None}
    text = (err or "") + (out or "")
    if rc != 0:
        if "No such container" in text or "No such object" in text:
            return result
        result["error"] = "docker inspect %s failed (rc %s): %s" % (
            name, rc, clip(text))
        return result
    data, error = _json(rc, out, err, "docker inspect %s" % name)
    if error or not isinstance(data, list):
        result["error"] = error or "docker inspect %s printed no list: %s" % (name, clip(out))
        return result
    if not data:
        return result
    c = data[0] if isinstance(data[0], dict) else {}
    state = c.get("State") or {}
    config = c.get("Config") or {}
    labels = config.get("Labels") or {}
    result.update(exists=True, running=bool(state.get("Running")), status=state.get("Status"),
                  image=config.get("Image"), id=c.get("Id"), started_at=state.get("StartedAt"),
                  labels=labels, owned=labels.get("org.npu-cluster.owner") == owner)
    return result


def assemble(host, addr, route, tcp4, tcp6, container, owners=None):
    """The `ansible_facts['serving']` dict from the parsed parts, with `healthy` and
    `problems` (each naming the host, what was read and what it saw)."""
    owners = owners or {}
    listening = []
    seen = set()
    for item in (tcp4.get("listening") or []) + (tcp6.get("listening") or []):
        key = (item["address"], item["port"])
        if key in seen:
            continue
        seen.add(key)
        pid, name = owners.get(item["inode"], (None, None))
        listening.append({"address": item["address"], "port": item["port"], "pid": pid,
                          "name": name})
    listening.sort(key=lambda x: (x["port"], x["address"]))
    problems = []
    for what, part in (("interfaces", addr), ("default route", route),
                       ("listening ports", tcp4), ("listening ports", tcp6),
                       ("serving container", container)):
        if part.get("error"):
            problems.append("%s: cannot read the %s: %s" % (host, what, part["error"]))
    interfaces = addr.get("interfaces") or {}
    return {
        "interfaces": interfaces,
        "default_ipv4": {"address": default_ipv4(route, interfaces),
                         "interface": route.get("interface"), "gateway": route.get("gateway")},
        "tcp_listen": listening,
        "container": dict((k, v) for k, v in container.items() if k != "error"),
        "healthy": not problems,
        "problems": problems,
    }
