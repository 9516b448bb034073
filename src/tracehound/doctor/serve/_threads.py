"""CPU time by thread, for ``/api/status`` (where the server's time goes)."""

from __future__ import annotations

import os
import threading

__all__ = ["thread_cpu"]


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each of this process's live Python threads, by name, and of the other
    threads (DuckDB's, uvloop's) together as ``"other"``; empty where ``/proc`` is not.
    A thread that has ended is in none of them."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    found: dict[str, float] = {}
    try:
        tick = os.sysconf("SC_CLK_TCK")
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            name = names.get(int(task), "other")
            found[name] = found.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    except (OSError, ValueError, IndexError):
        return {}
    return {name: round(cpu, 2) for name, cpu in sorted(found.items())}
