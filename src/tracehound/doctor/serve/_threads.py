"""CPU time by thread, for ``/api/status`` (where the server's time goes), and the host's
idle CPU, for the report (which runs on what nothing else wants)."""

from __future__ import annotations

import collections
import os
import threading
import time

__all__ = ["HostIdle", "thread_cpu"]


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


class HostIdle:
    """The share of the host's CPU time left idle over the last ``window`` seconds, from
    ``/proc/stat`` (every core, every process: the other tenants of a shared host too);
    ``None`` where there is no ``/proc/stat``, before two readings, or while its counters
    have not moved (they count clock ticks)."""

    def __init__(self, window: float = 3.0) -> None:
        self.window = window
        self._readings: collections.deque[tuple[float, int, int]] = collections.deque()

    def __call__(self) -> float | None:
        try:
            with open("/proc/stat", "rb") as f:
                fields = [int(v) for v in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        if len(fields) < 8:
            return None
        # user nice system idle iowait irq softirq steal: waiting for I/O is idle CPU,
        # time the hypervisor gave another guest (steal) is not
        now, idle, total = time.monotonic(), fields[3] + fields[4], sum(fields)
        readings = self._readings
        readings.append((now, idle, total))
        while len(readings) > 2 and readings[1][0] <= now - self.window:
            readings.popleft()
        _, idle0, total0 = readings[0]
        if total == total0:
            return None
        return (idle - idle0) / (total - total0)
