# -*- coding: utf-8 -*-
# Copyright: (c) 2026, npu-cluster developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Text helpers shared by the parsers: tool output as text, and raw output shortened for a
problem message."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


def to_text(value):
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def shorten(*parts):
    """The raw output on one line, at most 300 characters, for a problem message."""
    text = " ".join(" ".join(to_text(p).split()) for p in parts if to_text(p).strip())
    return (text[:300] + "...") if len(text) > 300 else (text or "(no output)")


def read_file(path, binary=False):
    """A file's content (text decoded as UTF-8, undecodable bytes replaced; bytes with
    binary=True), or None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError):
        return None
    return data if binary else data.decode("utf-8", "replace")


def sha256_file(path, chunk=1 << 20):
    """The sha256 hex digest of a file, read in chunks (packages can be gigabytes)."""
    import hashlib
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
