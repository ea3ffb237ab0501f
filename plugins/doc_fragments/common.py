# -*- coding: utf-8 -*-
# Copyright: npu-cluster developers
# Apache License 2.0
"""Options and attributes shared by the npu.cluster fact / check modules."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  host_label:
    description: Name used for this host in problem messages (default the node's hostname).
    type: str
"""

    CHECKS = r"""
options:
  skip_checks:
    description: Names of checks not to report (the README's "Fabric checks" table).
    type: list
    elements: str
    default: []
"""

    FACTS = r"""
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
"""

    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""
