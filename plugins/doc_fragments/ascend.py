# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Options of the Ascend fact modules, documented once (their argument specs are
module_utils/ascend_facts.NPU_SMI_ARGS and HCCN_ARGS)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    NPU_SMI = r"""
options:
  npu_smi:
    description: Path of npu-smi.
    type: path
    default: /usr/local/bin/npu-smi
  ascend_root:
    description: Ascend install root (driver/, firmware/, ascend-toolkit/).
    type: path
    default: /usr/local/Ascend
  install_info:
    description: Driver install record.
    type: path
    default: /etc/ascend_install.info
  expected_devices:
    description: Logical device count the inventory expects (0 = do not check).
    type: int
    default: 0
  allow_processes:
    description: Do not report processes holding NPU memory.
    type: bool
    default: false
"""

    HCCN = r"""
options:
  hccn_tool:
    description: Path of hccn_tool.
    type: path
    default: /usr/local/Ascend/driver/tools/hccn_tool
  hccn_conf:
    description: Path of the NPU network configuration file.
    type: path
    default: /etc/hccn.conf
"""
