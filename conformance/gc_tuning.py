"""Garbage collection tuned for a conformance run: what is alive at its start lives to its end.

A run keeps every case's evidence to the end (the reports are drawn from it), so the heap only
grows, and CPython's default thresholds (700, 10, 10) make the collector walk that heap again
and again: ~1 s of a full reference run (about a tenth) went to collections that freed little.
At the start of the first run of a process, :func:`tune_for_a_run` moves what is alive then
(modules, the reference servers, the harness's material) out of the collector's sight
(:func:`gc.freeze`) and makes young collections ten times rarer, and with them the full ones.
Reference cycles are still collected; they are only looked for less often.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["tune_for_a_run"]

YOUNGEST_THRESHOLD = 7000
"""Allocations between two young collections (CPython's default is 700)."""

_lock = threading.Lock()
_tuned = False


def tune_for_a_run() -> None:
    """Freeze the start-up heap and raise the young-generation threshold; once per process,
    so a process that runs many runs never freezes an earlier run's garbage."""
    global _tuned
    with _lock:
        if _tuned:
            return
        _tuned = True
    gc.freeze()
    youngest, older, oldest = gc.get_threshold()
    gc.set_threshold(max(YOUNGEST_THRESHOLD, youngest), older, oldest)
