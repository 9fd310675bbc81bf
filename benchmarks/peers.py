"""The optional peers (PyTorch, micrograd): imported when installed, otherwise named with the reason they are missing.

Nothing here installs anything: micrograd comes with graphgrad's ``bench`` extra, PyTorch only if the user
has it. A peer that cannot be imported is reported as "not installed" in every row that would use it.
"""

from __future__ import annotations

import importlib

__all__ = ["Peer", "load", "PEERS"]

PEERS = {"torch": "PyTorch", "micrograd": "micrograd"}
"""Module name -> the name the result table uses."""


class Peer:
    """An optional peer: its module (None when missing), its display name, version and why it is missing.

    >>> peer = load("no_such_peer_module")
    >>> peer.available, peer.reason
    (False, "ModuleNotFoundError: No module named 'no_such_peer_module'")
    """

    __slots__ = ("module", "name", "version", "reason")

    def __init__(self, module, name: str, version: str | None, reason: str):
        self.module, self.name, self.version, self.reason = module, name, version, reason

    @property
    def available(self) -> bool:
        return self.module is not None


_cache: dict[str, Peer] = {}


def load(module_name: str) -> Peer:
    """Import a peer once; a failed import (missing, or broken) gives a Peer whose ``reason`` says why."""
    if module_name in _cache:
        return _cache[module_name]
    name = PEERS.get(module_name, module_name)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any failure to import means the peer cannot be measured; say which
        peer = Peer(None, name, None, f"{type(exc).__name__}: {exc}")
    else:
        version = getattr(module, "__version__", None)
        if version is None:
            try:
                from importlib.metadata import version as dist_version
                version = dist_version(module_name)
            except Exception:  # metadata is optional: the version is only reported
                version = "unknown"
        peer = Peer(module, name, str(version), "")
    _cache[module_name] = peer
    return peer
