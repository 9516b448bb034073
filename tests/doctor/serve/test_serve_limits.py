"""The receiver's limits and guards: body size, gzip bombs, overload, tokens, Host, bad bodies."""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from _bodies import body, sdk_spans

from tracehound.doctor.serve import is_loopback
from tracehound.doctor.serve._app import build_app
from tracehound.doctor.serve._body import TooLarge, decompress
from tracehound.doctor.serve._engine import Engine, Settings
from tracehound.doctor.serve._journal import Journal, Scan
from tracehound.doctor.serve._receiver import Receiver

PROTO = {"content-type": "application/x-protobuf"}
LIMIT = 64 << 10


@contextlib.contextmanager
def make_client(
    tmp_path: Path, *, token: str | None = None, loopback: bool = True, start: bool = True,
    backlog: int = 64 << 20,
) -> Iterator[tuple[httpx.Client, Receiver]]:  # fmt: skip
    """The app on a real uvicorn server (127.0.0.1, a free port) in a thread, and a client."""
    engine = Engine("test", Settings(idle=0.0, check_every=0.05, max_backlog=backlog))
    receiver = Receiver(Journal(tmp_path / "j"), engine, None)
    list(receiver.journal.open())
    if start:
        engine.start()
    app = build_app(receiver, max_body=LIMIT, token=token, loopback=loopback)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    port = sock.getsockname()[1]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client, receiver
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        receiver.journal.close()
        engine.stop()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[httpx.Client, Receiver]]:
    with make_client(tmp_path) as served:
        yield served


def one_request() -> bytes:
    return body(sdk_spans("svc", 1, 3)[0])


def journaled(receiver: Receiver) -> int:
    return len(list(Scan(receiver.journal.path)))


def test_a_body_over_the_limit_is_413_declared_or_streamed(
    served: tuple[httpx.Client, Receiver],
) -> None:
    client, receiver = served
    big = b"\x0a" + b"\x00" * LIMIT
    answer = client.post("/v1/traces", content=big, headers=PROTO)
    assert answer.status_code == 413
    # no Content-Length (chunked): cut off while read
    chunks = iter([big[:40000], big[40000:]])
    answer = client.post("/v1/traces", content=chunks, headers=PROTO)
    assert answer.status_code == 413
    assert journaled(receiver) == 0


def test_a_gzip_bomb_is_cut_off_by_its_inflated_size(served: tuple[httpx.Client, Receiver]) -> None:
    client, receiver = served
    bomb = gzip.compress(bytes(16 << 20), compresslevel=9)  # 16 MiB in 16 KiB
    assert len(bomb) < LIMIT
    answer = client.post("/v1/traces", content=bomb, headers={**PROTO, "content-encoding": "gzip"})
    assert answer.status_code == 413
    assert "inflates to over" in answer.content.decode("latin-1")
    assert journaled(receiver) == 0
    # and the inflating stops there: memory stays near the limit, not the bomb's size
    tracemalloc.start()
    with pytest.raises(TooLarge):
        decompress(bomb, "gzip", LIMIT)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 16 * LIMIT  # the bomb inflates to 256 times the limit


def test_gzip_and_plain_requests_are_taken(served: tuple[httpx.Client, Receiver]) -> None:
    client, receiver = served
    data = one_request()
    assert client.post("/v1/traces", content=data, headers=PROTO).status_code == 200
    zipped = gzip.compress(data)
    answer = client.post(
        "/v1/traces", content=zipped, headers={**PROTO, "content-encoding": "gzip"}
    )
    assert answer.status_code == 200
    assert [b for _, b in Scan(receiver.journal.path)] == [data, data]


def test_bad_bodies_are_refused_and_never_stored(served: tuple[httpx.Client, Receiver]) -> None:
    client, receiver = served
    answer = client.post("/v1/traces", content=b"\xff\xff\xff", headers=PROTO)
    assert answer.status_code == 400
    assert b"not an OTLP protobuf ExportTraceServiceRequest" in answer.content
    answer = client.post("/v1/traces", content=b"{", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("invalid JSON")
    answer = client.post(
        "/v1/traces", content=b'{"a": 1}', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert (
        client.post("/v1/traces", content=b"x", headers={"content-type": "text/plain"}).status_code
        == 415
    )
    answer = client.post(
        "/v1/traces", content=b"not gzip", headers={**PROTO, "content-encoding": "gzip"}
    )
    assert answer.status_code == 400
    answer = client.post("/v1/traces", content=b"x", headers={**PROTO, "content-encoding": "br"})
    assert answer.status_code == 415
    # an export with no span: acknowledged, nothing to keep
    assert client.post("/v1/traces", content=b"", headers=PROTO).status_code == 200
    assert journaled(receiver) == 0


def test_overload_is_503_with_retry_after(tmp_path: Path) -> None:
    # the engine is not started: nothing drains the backlog, as when it falls behind
    with make_client(tmp_path, start=False, backlog=1) as (client, receiver):
        data = one_request()
        assert client.post("/v1/traces", content=data, headers=PROTO).status_code == 200
        answer = client.post("/v1/traces", content=data, headers=PROTO)
        assert answer.status_code == 503
        assert answer.headers["retry-after"].isdigit()
        assert receiver.engine.refused == 1
    assert len(list(Scan(tmp_path / "j"))) == 1  # the refused request was not stored


def test_a_token_is_required_when_configured(tmp_path: Path) -> None:
    with make_client(tmp_path, token="s3cret", loopback=False) as (client, _):
        data = one_request()
        assert client.post("/v1/traces", content=data, headers=PROTO).status_code == 401
        assert client.get("/api/report").status_code == 401
        assert client.get("/").status_code == 401
        wrong = {"authorization": "Bearer nope"}
        assert client.get("/api/report", headers=wrong).status_code == 401
        good = {**PROTO, "authorization": "Bearer s3cret"}
        assert client.post("/v1/traces", content=data, headers=good).status_code == 200
        # the browser: /?token= sets a cookie and leaves the token out of the address
        answer = client.get("/?token=s3cret", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"
        assert "httponly" in answer.headers["set-cookie"].lower()
        assert client.get("/api/status").status_code == 200  # with the cookie now
        assert client.get("/?token=wrong", follow_redirects=False).status_code == 200  # the cookie


def test_on_loopback_other_host_names_are_refused(served: tuple[httpx.Client, Receiver]) -> None:
    """A page on another site cannot reach the local server through DNS rebinding."""
    client, _ = served
    assert client.get("/api/status", headers={"host": "evil.example:4318"}).status_code == 403
    for host in ("localhost:4318", "127.0.0.1:4318", "[::1]:4318"):
        assert client.get("/api/status", headers={"host": host}).status_code == 200


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("::")


def test_answers_carry_a_content_security_policy(served: tuple[httpx.Client, Receiver]) -> None:
    client, _ = served
    answer = client.get("/")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
