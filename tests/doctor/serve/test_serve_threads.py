"""Where the server's CPU goes, by thread, and how much the host leaves idle (``/proc``)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tracehound.doctor.serve import _threads
from tracehound.doctor.serve._threads import HostIdle, thread_cpu

needs_proc = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="no /proc here")


@needs_proc
def test_a_busy_thread_shows_under_its_name() -> None:
    done = threading.Event()

    def spin() -> None:
        deadline = time.thread_time() + 0.2
        while time.thread_time() < deadline:
            pass
        done.wait(10)

    worker = threading.Thread(target=spin, name="spinner")
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while thread_cpu().get("spinner", 0.0) < 0.1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        done.set()
        worker.join()


@needs_proc
def test_the_host_idle_share_is_a_share_once_there_are_two_readings() -> None:
    idle = HostIdle(window=1.0)
    assert idle() is None  # one reading: nothing to compare
    deadline = time.monotonic() + 10
    while (share := idle()) is None:  # the counters move every clock tick
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert 0.0 <= share <= 1.0


def test_the_idle_share_counts_waiting_for_io_as_idle_and_stolen_time_as_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stat = tmp_path / "stat"
    real_open = open

    def fake_open(path: str, *args: object, **kwargs: object) -> object:
        return real_open(stat if path == "/proc/stat" else path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(_threads, "open", fake_open, raising=False)
    idle = HostIdle()
    #                  user nice system idle iowait irq softirq steal
    stat.write_text("cpu  100 0 100 100 0 0 0 0 0 0\n")
    assert idle() is None
    stat.write_text("cpu  120 0 120 140 20 0 0 100 0 0\n")  # +200 ticks: 60 idle or I/O
    assert idle() == pytest.approx(60 / 200)


def test_without_proc_stat_the_idle_share_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_file(path: str, *args: object, **kwargs: object) -> object:
        raise FileNotFoundError(path)

    monkeypatch.setattr(_threads, "open", no_file, raising=False)
    assert HostIdle()() is None
