"""The ``clickhouse://`` path (clickhouse-connect over HTTP) runs the same SQL as
``chdb:``: loaded and checked through a ClickHouse HTTP interface on loopback, the
spans give the file run's structural findings and edges.

The server: a ClickHouse HTTP interface on loopback answered by chDB (the ClickHouse
engine in process), so what clickhouse-connect sends runs on the real engine."""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tracehound.doctor import check_paths
from tracehound.doctor.clickhouse import check_clickhouse, load_clickhouse

_NOT_SETTINGS = {"query", "query_id", "session_id", "database", "default_format"}
_FORMAT = re.compile(r"\s+FORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_INSERT_HEAD = re.compile(rb"^(\s*INSERT\s+INTO\s.*?\sFORMAT\s+\w+)[ \t]*\n?", re.I | re.S)
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(.+?)\s*(\(.*\))?\s+FORMAT\s+(\w+)\s*$", re.I | re.S)


class _ChdbHttp(BaseHTTPRequestHandler):
    session: object
    lock = threading.Lock()  # one chDB session: one query at a time

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if not size:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self) -> None:
        params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        body = self._body()
        if self.headers.get("Content-Encoding", "identity") != "identity":
            self._answer(400, b"Code: 1. DB::Exception: compressed bodies are not served here")
            return
        query = params.get("query")
        if query is None:  # the query in the body, an INSERT's data after its FORMAT
            head = _INSERT_HEAD.match(body)
            if head:
                query, body = head.group(1).decode(), body[head.end() :]
            else:
                query, body = body.decode(), b""
        try:
            with self.lock:
                for name, value in params.items():
                    if name not in _NOT_SETTINGS:
                        self._set(name, value)
                if params.get("database"):
                    self.session.query(f"USE {params['database']}")
                data = self._run(query, body)
        except Exception as exc:  # the engine's error, as a server reports it
            self._answer(500, str(exc).encode())
            return
        self._answer(200, data)

    def _set(self, name: str, value: str) -> None:
        try:
            self.session.query(f"SET {name} = '{value}'")
        except Exception as exc:
            # the HTTP interface's own parameters (wait_end_of_query, …) are no settings
            if "UNKNOWN_SETTING" not in str(exc):
                raise

    def _run(self, query: str, body: bytes) -> bytes:
        insert = _INSERT.match(query)
        if insert and body:
            table, columns, fmt = insert.groups()
            with tempfile.NamedTemporaryFile(suffix=f".{fmt}") as data:
                data.write(body)
                data.flush()
                self.session.query(
                    f"INSERT INTO {table} {columns or ''} SELECT * FROM file('{data.name}', {fmt})"
                )
            return b""
        found = _FORMAT.search(query)
        fmt = found.group(1) if found else "TabSeparated"
        if found:
            query = query[: found.start()]
        return bytes(self.session.query(query, fmt).bytes())

    def _answer(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-ClickHouse-Timezone", "UTC")
        self.send_header("X-ClickHouse-Summary", '{"read_rows":"0","written_rows":"0"}')
        if status != 200:
            self.send_header("X-ClickHouse-Exception-Code", "1")
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def chdb_http(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``(clickhouse://127.0.0.1:PORT/default, the chDB directory behind it)``."""
    from chdb import session

    where = tmp_path / "chdb-behind-http"
    handler = type("Handler", (_ChdbHttp,), {"session": session.Session(str(where))})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"clickhouse://default@127.0.0.1:{server.server_address[1]}/default", where
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        handler.session.close()  # type: ignore[attr-defined]


DATA = Path(__file__).resolve().parents[1] / "data"


def test_load_and_check_over_http(chdb_http: tuple[str, Path]) -> None:
    url, _ = chdb_http
    paths = [str(DATA / "checkout-broken.jaeger.json"), str(DATA / "collector.otlp.jsonl")]
    loaded = load_clickhouse(paths, url)
    assert loaded.spans_analysed == 8
    found = check_clickhouse(url)
    from_files = check_paths(paths)
    assert found.spans_analysed == from_files.spans_analysed
    assert found.inputs[0].source.startswith("clickhouse http://127.0.0.1:")

    def key(report):
        return sorted((f.code, f.trace_id, f.span_id) for f in report.findings if f.code[0] in "CL")

    assert key(found) == key(from_files)
    assert key(found)
    assert [e.to_dict() for e in found.edges] == [e.to_dict() for e in from_files.edges]
