"""Protobuf requests parsed in the worker process give the report parsing them here gives."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import orjson
import pytest
from _bodies import body, sdk_spans
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tracehound.doctor._synthetic_writers import to_otlp_proto
from tracehound.doctor.report.json import to_dict
from tracehound.doctor.serve._engine import Engine, Settings
from tracehound.doctor.serve._journal import JSON, PROTOBUF
from tracehound.doctor.serve._parsing import WORKER_SCOPES
from tracehound.doctor.synthetic import Faults, iter_requests


def requests() -> Iterator[tuple[bytes, bytes]]:
    """The doctor's synthetic traffic, every fault in it, as OTLP/HTTP protobuf requests
    (several services: several resources and scopes), one request cut off part-way
    (salvaged: spans rejected and an error), one that is not protobuf at all, and a JSON
    request between them."""
    pending: list = []
    faults = Faults(orphan=0.2, extra_root=0.2, duplicate_id=0.1, bad_attributes=0.2)
    for batch in iter_requests(40, seed=7, faults=faults):
        pending.extend(batch)
        while len(pending) >= 60:
            yield PROTOBUF, to_otlp_proto(pending[:60])
            pending = pending[60:]
    cut = to_otlp_proto(pending)
    yield PROTOBUF, cut[: len(cut) * 2 // 3]
    yield PROTOBUF, b"\x0a\x05not a message"
    spans = sdk_spans("json-svc", 1, 3)[0]
    yield JSON, orjson.dumps(MessageToDict(encode_spans(spans)))
    yield PROTOBUF, body(sdk_spans("after-json", 2, 3)[1])


def checked(engine: Engine, fed: list[tuple[bytes, bytes]]) -> dict:
    for number, (kind, data) in enumerate(fed):
        assert engine.reserve(len(data))
        engine.submit(number, kind, data)
    deadline = time.monotonic() + 60
    while not (
        engine.requests == len(fed)
        and engine.status()["report_covers_live"]
        and not engine.pending_spans
    ):
        assert time.monotonic() < deadline, engine.status()
        time.sleep(0.05)
    return to_dict(engine.snapshot.report)


@pytest.fixture
def fed() -> list[tuple[bytes, bytes]]:
    return list(requests())


def test_the_worker_gives_the_report_the_engine_thread_gives(
    fed: list[tuple[bytes, bytes]],
) -> None:
    reports = []
    for apart in (True, False):
        engine = Engine("test.journal", Settings(idle=0.0, check_every=0.05, parse_worker=apart))
        engine.start()
        try:
            reports.append(checked(engine, fed))
            with engine.live.on_own_connection() as live:
                refs = {r for (r,) in live.query("SELECT ScopeRef FROM th_scopes")}
            # the worker's scope IDs, or the store's own
            assert bool(apart) == any(r >= WORKER_SCOPES for r in refs)
        finally:
            engine.stop()
    apart, here = reports
    assert apart["spans"]["read"] > 600 and apart["spans"]["rejected"] > 0
    assert len(apart["errors"]) == 2  # the cut-off request, and the one that is no message
    assert {f["code"] for f in apart["findings"]} >= {"C001", "C002", "C003", "A007", "L006"}
    assert apart == here


def test_requests_are_still_parsed_when_the_worker_dies(
    fed: list[tuple[bytes, bytes]],
) -> None:
    engine = Engine("test.journal", Settings(idle=0.0, check_every=0.05))
    engine.start()
    try:
        assert engine._parser is not None
        pid = engine._parser.pid
        assert pid is not None and pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
        report = checked(engine, fed)
    finally:
        engine.stop()
    offline = Engine("test.journal", Settings(idle=0.0, check_every=0.05, parse_worker=False))
    offline.start()
    try:
        assert checked(offline, fed) == report
    finally:
        offline.stop()
