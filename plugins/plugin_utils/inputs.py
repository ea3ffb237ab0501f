# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Inventory values as the planner needs them (controller only).

Values from `-e` arrive as strings: "false" must be false and "2" must be 2.  These helpers
convert with Ansible's own parsers and return (value, problem) -- a problem names the host,
the variable and the rule; never a traceback."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import BOOLEANS, boolean

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# a Linux interface name: at most 15 characters, no blanks or slashes
IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,14}$")


def to_bool(host, var, value):
    if isinstance(value, bool):
        return value, None
    if value is None:
        return False, None
    if isinstance(value, (str, int)) and value in BOOLEANS:
        return boolean(value, strict=True), None
    if isinstance(value, str) and value.strip().lower() in BOOLEANS:
        return boolean(value.strip().lower(), strict=True), None
    return None, "%s: %s=%r is not a boolean (true or false, yes or no, 1 or 0)" % (host, var,
                                                                                    value)


def to_int(host, var, value, minimum=None, maximum=None):
    if isinstance(value, bool):
        return None, "%s: %s=%r is not a whole number" % (host, var, value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.match(r"^\s*[+]?[0-9]+\s*$", value):
        number = int(value)
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        return None, "%s: %s=%r is not a whole number" % (host, var, value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        rule = ("between %d and %d" % (minimum, maximum) if maximum is not None
                else "at least %d" % minimum)
        return None, "%s: %s=%d must be %s" % (host, var, number, rule)
    return number, None


def to_port(host, var, value):
    return to_int(host, var, value, 1, 65535)


def env_name_problem(where, name):
    if isinstance(name, str) and ENV_NAME.match(name):
        return None
    return ("%s: environment variable name %r is not a valid name (letters, digits and _, not "
            "starting with a digit)" % (where, to_text(name)))


def address_problem(host, var, value):
    """None for an IPv4 address other nodes can reach; otherwise why not."""
    try:
        addr = ipaddress.ip_address(to_text(value).strip())
    except ValueError:
        return "%s: %s=%r is not an IP address" % (host, var, value)
    if addr.version == 6:
        return ("%s: %s=%s is an IPv6 address; serving binds HCCL_IF_IP and "
                "--data-parallel-address and builds its endpoint URLs on IPv4 only: use the "
                "node's IPv4 address on the serving network" % (host, var, value))
    for kind, flag in (("loopback", addr.is_loopback), ("unspecified", addr.is_unspecified),
                       ("link-local", addr.is_link_local), ("multicast", addr.is_multicast)):
        if flag:
            return ("%s: %s=%s is a %s address; it must be the address other nodes reach this "
                    "one on" % (host, var, value, kind))
    return None
