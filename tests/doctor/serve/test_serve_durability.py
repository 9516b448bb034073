"""A 2xx means the spans are on disk: ``kill -9`` and a restart with the same journal keep them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
from _bodies import body, sdk_spans, trace_id
from _servers import children, gone, serving, start_serve

SPANS_PER_TRACE = 6
SENDERS = 4
PER_SENDER = 60


def test_kill_9_keeps_every_acknowledged_span(tmp_path: Path) -> None:
    db = tmp_path / "spans.journal"
    batches = [
        [
            (trace_id(spans), body(spans))
            for spans in sdk_spans(f"svc{n}", PER_SENDER, SPANS_PER_TRACE)
        ]
        for n in range(SENDERS)
    ]
    acknowledged: list[str] = []
    lock = threading.Lock()
    server = start_serve(db)
    try:
        enough = threading.Event()

        def send(requests: list[tuple[str, bytes]]) -> None:
            headers = {"content-type": "application/x-protobuf"}
            with httpx.Client(timeout=5) as client:
                for trace, data in requests:
                    try:
                        answer = client.post(server.traces_url, content=data, headers=headers)
                    except httpx.HTTPError:
                        return  # the server is gone: this request was never acknowledged
                    if answer.status_code == 200:
                        with lock:
                            acknowledged.append(trace)
                            if len(acknowledged) >= SENDERS * PER_SENDER // 3:
                                enough.set()

        threads = [threading.Thread(target=send, args=(b,)) for b in batches]
        for thread in threads:
            thread.start()
        assert enough.wait(30), server.output()
        helpers = children(server.proc.pid)  # the parsing process
        server.stop(kill=True)  # SIGKILL while the senders are still sending
        for thread in threads:
            thread.join(30)
    finally:
        server.stop(kill=True)
    with lock:
        acked = set(acknowledged)
    assert len(acked) < SENDERS * PER_SENDER  # killed part-way, not after the end
    assert helpers  # and none of them outlives the server
    deadline = time.monotonic() + 10
    while not all(gone(pid) for pid in helpers):
        assert time.monotonic() < deadline, f"left behind: {helpers}"
        time.sleep(0.1)

    with serving(db) as again:
        status = again.wait_for(
            lambda: (
                (s := again.get("/api/status"))["spans_checked"] >= len(acked) * SPANS_PER_TRACE
                and s["spans_pending"] == 0
                and s
            ),
            message="the acknowledged spans read back",
        )
        listed = {t["trace_id"] for t in again.get("/api/traces", limit=500)["traces"]}
        report = again.get("/api/report")
    assert acked <= listed
    assert "requests read back" in again.lines[0]
    # the journal may hold requests answered too late to be acknowledged: never fewer
    assert status["journal"]["records"] >= len(acked)
    assert report["spans"]["read"] == status["journal"]["records"] * SPANS_PER_TRACE
    assert report["spans"]["rejected"] == 0
