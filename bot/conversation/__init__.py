"""Conversation flows coordinators own: YAML flows, typed answers, sessions, timers.

The router calls `respond` for every community message; everything else here
(loader, checks, parsers, the pure engine, sessions, timers, the Babel
extractor) serves it or the coordinators' tools.
"""

from __future__ import annotations

from ..actions import ActionCall
from .check import check_paths
from .runner import begin, queue_load, respond
from .sessions import Receipt

__all__ = ["ActionCall", "Receipt", "begin", "check_paths", "queue_load", "respond"]
