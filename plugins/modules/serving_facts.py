#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: serving_facts
short_description: What the serving plan needs from a node, in one read-only call
version_added: 0.1.0
description:
  - Reads the node's IPv4 interfaces and their kinds (C(ip -j -d -4 addr show)), its default
    route (C(ip -j -4 route show default)), its listening TCP ports with the owning process
    (C(/proc/net/tcp), C(/proc/net/tcp6), C(/proc/PID/fd)) and the serving container
    (C(docker inspect --type container NAME)), and returns them as C(ansible_facts['serving'])
    with C(healthy) and plain-words C(problems).
  - One module call instead of C(setup) (network) + C(listen_ports_facts) +
    C(docker_container_info), so the planning play reads every node in one round trip.
  - Read-only; runs fully in check mode.
options:
  container:
    description: Name of the serving container to look for.
    type: str
    default: vllm
  owner:
    description: Value of the C(org.npu-cluster.owner) label that marks containers this
      collection owns.
    type: str
    default: npu.cluster
  ip:
    description: Path of the iproute2 C(ip) command (default found on the PATH).
    type: path
  docker:
    description: Path of the docker CLI (default found on the PATH). When it is missing the
      container is reported as absent with a problem.
    type: path
  proc:
    description: Root of the proc filesystem.
    type: path
    default: /proc
extends_documentation_fragment:
  - npu.cluster.common
  - npu.cluster.common.facts
author:
  - npu-cluster developers (@npu-cluster)
"""

EXAMPLES = r"""
- name: Read the node's addresses, listening ports and serving container
  npu.cluster.serving_facts:
    container: vllm-ascend

- name: Show the default-route address
  ansible.builtin.debug:
    msg: "{{ ansible_facts['serving'].default_ipv4.address }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts under C(serving).
  returned: always
  type: dict
  contains:
    serving:
      description: >-
        C(interfaces) ({name: {ipv4 [addresses], kind (bridge, veth, bond... or null),
        link_type, up}}), C(default_ipv4) ({address, interface, gateway}), C(tcp_listen)
        ([{address, port, pid, name}]), C(container) ({name, exists, running, owned, status,
        image, id, started_at, labels}), C(healthy), C(problems).
      type: dict
      returned: always
"""

import os
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.npu.cluster.plugins.module_utils import node_state
from ansible_collections.npu.cluster.plugins.module_utils.text import read_file

LC = {"LC_ALL": "C", "LANGUAGE": "C"}


def socket_owners(proc, inodes):
    """{inode: (pid, comm)} for the given socket inodes, from /proc/PID/fd (best effort:
    processes that exit meanwhile or that we may not inspect are skipped)."""
    wanted = dict(("socket:[%d]" % i, i) for i in inodes)
    found = {}
    try:
        pids = sorted((int(d) for d in os.listdir(proc) if d.isdigit()), reverse=True)
    except OSError:
        return found
    for pid in pids:
        if len(found) == len(wanted):
            break
        fd_dir = os.path.join(proc, str(pid), "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            inode = wanted.get(target)
            if inode is not None and inode not in found:
                comm = (read_file(os.path.join(proc, str(pid), "comm")) or "").strip() or None
                found[inode] = (pid, comm)
    return found


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container=dict(type="str", default="vllm"),
            owner=dict(type="str", default="npu.cluster"),
            ip=dict(type="path"),
            docker=dict(type="path"),
            proc=dict(type="path", default="/proc"),
            host_label=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host = p["host_label"] or socket.gethostname()
    ip = p["ip"] or module.get_bin_path("ip", opt_dirs=["/usr/sbin", "/sbin"])
    if ip:
        addr = node_state.parse_ip_addr(*module.run_command([ip, "-j", "-d", "-4", "addr",
                                                             "show"], environ_update=LC))
        route = node_state.parse_default_route(*module.run_command(
            [ip, "-j", "-4", "route", "show", "default"], environ_update=LC))
    else:
        missing = "the ip command (iproute2) was not found; install iproute2 or set ip="
        addr = {"interfaces": {}, "error": missing}
        route = {"interface": None, "gateway": None, "source": None, "error": None}
    tcp4 = node_state.parse_proc_net_tcp(read_file(os.path.join(p["proc"], "net", "tcp")), 4)
    tcp6_text = read_file(os.path.join(p["proc"], "net", "tcp6"))
    # a kernel without IPv6 has no tcp6 file: nothing listens there
    tcp6 = (node_state.parse_proc_net_tcp(tcp6_text, 6) if tcp6_text is not None
            else {"listening": [], "error": None})
    inodes = set(x["inode"] for x in tcp4["listening"] + tcp6["listening"] if x["inode"])
    owners = socket_owners(p["proc"], inodes)
    docker = p["docker"] or module.get_bin_path("docker")
    if docker:
        container = node_state.parse_container_inspect(
            *module.run_command([docker, "inspect", "--type", "container", p["container"]],
                                environ_update=LC),
            name=p["container"], owner=p["owner"])
    else:
        container = node_state.parse_container_inspect(
            127, "", "the docker CLI was not found; install docker or set docker=",
            name=p["container"], owner=p["owner"])
    facts = node_state.assemble(host, addr, route, tcp4, tcp6, container, owners)
    module.exit_json(changed=False, ansible_facts={"serving": facts})


if __name__ == "__main__":
    main()
