"""L008: spans a forked child would lose; real forks in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

_MULTIPROCESSING_CHILD = """
import multiprocessing, sys
import tracehound
from tracehound.runtime.export import OtlpJsonFileExporter

tracehound.configure(service_name="forks", span_exporter=OtlpJsonFileExporter(sys.argv[1]),
                     log_correlation=False)
with tracehound.new_trace("in the parent"):
    pass

def work():
    with tracehound.new_trace("in the child"):
        pass

if __name__ == "__main__":
    child = multiprocessing.get_context(sys.argv[2]).Process(target=work)
    child.start()
    child.join()
    tracehound.shutdown()
    print("exit", child.exitcode)
"""


def _run(program: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "program.py"
    script.write_text(textwrap.dedent(program))
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "OTEL_TRACES_EXPORTER": "none"},
    )


def _exported_names(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                names += [span["name"] for span in scope["spans"]]
    return names


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_multiprocessing_child_spans_are_exported(tmp_path: Path, start_method: str) -> None:
    # The child leaves through os._exit: without the flush tracehound registers,
    # its batched span is never exported (plain OpenTelemetry loses it).
    spans = tmp_path / "spans.jsonl"
    result = _run(_MULTIPROCESSING_CHILD, tmp_path, str(spans), start_method)
    assert result.returncode == 0, result.stderr
    assert "exit 0" in result.stdout
    names = _exported_names(spans)
    assert names.count("in the child") == 1
    assert "in the parent" in names
    assert "L008" not in result.stderr  # the SDK's batch processor restarts its own thread


_FORK_WITH_A_THREADED_PROCESSOR = """
import os, queue, sys, threading
from opentelemetry.sdk.trace import SpanProcessor
import tracehound
from tracehound import findings

class ThreadedProcessor(SpanProcessor):
    '''Exports from a worker thread of its own, with no fork handling.'''
    def __init__(self):
        self.queue = queue.SimpleQueue()
        self.worker = threading.Thread(target=self._run, daemon=True, name="my-exporter")
        self.worker.start()
    def _run(self):
        while True:
            self.queue.get()
    def on_end(self, span):
        self.queue.put(span)

tracehound.configure(service_name="forks", span_exporter=None,
                     span_processors=[ThreadedProcessor()] if sys.argv[1] == "threaded" else [],
                     log_correlation=False)
findings.add_listener(lambda f: print(os.getpid(), f.code, f.message, flush=True))
with tracehound.new_trace("open across the fork"):
    pid = os.fork()
    if pid == 0:
        names = [t.name for t in __import__("threading").enumerate()]
        print("child timer", "tracehound-lifecycle" in names, flush=True)
        tracehound.shutdown()  # spans the parent had open are not the child's: no L001
        os._exit(0)
os.waitpid(pid, 0)
tracehound.shutdown()
print("parent done", flush=True)
"""


def test_a_processor_whose_thread_died_at_fork_is_named(tmp_path: Path) -> None:
    result = _run(_FORK_WITH_A_THREADED_PROCESSOR, tmp_path, "threaded")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    lost = [line for line in lines if " L008 " in line]
    assert len(lost) == 1, result.stdout
    assert "ThreadedProcessor" in lost[0] and "'my-exporter'" in lost[0]
    assert "post_fork" in lost[0]
    assert "child timer True" in lines  # the lifecycle guard's timer runs in the child too
    assert not any(" L001 " in line for line in lines), result.stdout
    assert "parent done" in lines


def test_no_l008_when_every_processor_survives_the_fork(tmp_path: Path) -> None:
    result = _run(_FORK_WITH_A_THREADED_PROCESSOR, tmp_path, "plain")
    assert result.returncode == 0, result.stderr
    assert " L008 " not in result.stdout
    assert "child timer True" in result.stdout.splitlines()
