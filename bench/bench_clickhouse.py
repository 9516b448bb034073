"""Benchmark ``tracehound check --clickhouse`` in chDB against one full scan of the table.

    python bench/bench_clickhouse.py                   # 10,000,000 spans
    python bench/bench_clickhouse.py --spans 1000000   # quicker
    python bench/bench_clickhouse.py --pulled          # also with the window pulled into DuckDB
    python bench/bench_clickhouse.py --c003            # also C003 inside vs on pulled rows

Creates the OpenTelemetry Collector ClickHouse exporter's tables (its own DDL,
with the trace-ID lookup table and its materialised view) in a chDB data
directory and fills them inside chDB with generated traffic: traces of ten
spans over four services (HTTP calls, a message, an unseen peer) with faults
in 6 % of them (an orphan, a second root, a zero duration, a reused span ID,
a child ending after its parent, a callee that started a new trace).  Then,
alternating, each in a fresh child process (chDB's start-up excluded): the
baseline, one full scan (``SELECT count(), sum(length(SpanId)) FROM
otel_traces``), and the checks, all inside ClickHouse (``check_clickhouse``:
the window table, C001-C004 C007 L004-L006, the causes, the edges, the
attribute and propagation families on the exporter's attributes where they
are).  ``--pulled`` also times the same with the attribute and propagation
families run on the window pulled into DuckDB (what a table that is not a
MergeTree gets).  Reports wall and CPU time, each as a ratio to the scan's,
and each child's peak RSS.  ``--c003`` also times C003
alone (`match_hops`, after the window and the shared tables) run inside
ClickHouse against the window pulled into DuckDB and C003 run there (the
pull included), with each child's peak RSS.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_GENERATE = """
INSERT INTO otel_traces
SELECT
    fromUnixTimestamp64Nano(toInt64(1767225600000000000 + t * 1000000 + j * 1000000)) AS Timestamp,
    concat(leftPad(lower(hex(cityHash64(t, 1))), 16, '0'),
           leftPad(lower(hex(cityHash64(t, if(t % 100 = 6 AND j IN (5, 6), 7, 2)))), 16, '0'))
        AS TraceId,
    if(t % 100 = 4 AND j = 6, span(5), span(j)) AS SpanId,
    multiIf(t % 100 = 1 AND j = 6, leftPad(lower(hex(cityHash64(t, 99))), 16, '0'),
            t % 100 = 2 AND j = 9, '',
            t % 100 = 6 AND j = 5, '',
            parent[j + 1] < 0, '', span(parent[j + 1])) AS ParentSpanId,
    '' AS TraceState,
    names[j + 1] AS SpanName,
    kinds[j + 1] AS SpanKind,
    services[j + 1] AS ServiceName,
    map('service.name', services[j + 1], 'host.name', concat(services[j + 1], '-', toString(t % 7)))
        AS ResourceAttributes,
    'bench' AS ScopeName, '1.0' AS ScopeVersion,
    if(kinds[j + 1] IN ('Client', 'Producer'),
       map('http.request.method', 'POST', 'server.address', peers[j + 1], 'server.port', '8080',
           'url.full', concat('http://', peers[j + 1], ':8080', names[j + 1])),
       map('http.request.method', 'POST', 'http.route', names[j + 1])) AS SpanAttributes,
    toUInt64(if(t % 100 = 3 AND j = 3, 0,
                (12 - j) * 1000000 + if(t % 100 = 5 AND j = 3, 9000000, 0))) AS Duration,
    'Unset' AS StatusCode, '' AS StatusMessage,
    [] AS `Events.Timestamp`, [] AS `Events.Name`, [] AS `Events.Attributes`,
    [] AS `Links.TraceId`, [] AS `Links.SpanId`, [] AS `Links.TraceState`, [] AS `Links.Attributes`
FROM (SELECT intDiv(number, 10) AS t, toUInt8(number % 10) AS j FROM numbers({spans}))
"""

_FUNCTIONS = """
WITH
    [-1, 0, 1, 2, 2, 4, 5, 2, 7, 0] AS parent,
    ['Server', 'Client', 'Server', 'Internal', 'Client', 'Server', 'Internal', 'Producer',
     'Consumer', 'Client'] AS kinds,
    ['gateway', 'gateway', 'orders', 'orders', 'orders', 'payments', 'payments', 'orders',
     'shipping', 'gateway'] AS services,
    ['', 'orders', '', '', 'payments', '', '', 'shipments', '', 'inventory'] AS peers,
    ['/checkout', '/orders', '/orders', 'validate cart', '/pay', '/pay', 'fraud-check',
     'send shipments', 'process shipments', '/stock'] AS names
"""

_SCAN = """
import resource, sys, time
from chdb import session
s = session.Session(sys.argv[1])
s.query("SELECT 1")
c0, w0 = time.process_time(), time.perf_counter()
s.query("SELECT count(), sum(length(SpanId)) FROM otel_traces", "CSV")
w, c = time.perf_counter() - w0, time.process_time() - c0
s.close()
print(w, c, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

_C003 = """
import resource, sys, time
from chdb import session
session.Session(sys.argv[1]).close()
from tracehound.doctor.checks import _sql
from tracehound.doctor.checks._hops import match_hops
from tracehound.doctor.clickhouse._connect import connect, parse_target
from tracehound.doctor.clickhouse._engine import ClickHouseStore
from tracehound.doctor.clickhouse._load import pull_window
from tracehound.doctor.clickhouse._run import _empty_load_tables
from tracehound.doctor.clickhouse._window import build_window
conn = connect(parse_target("chdb:" + sys.argv[1]))
window = build_window(conn, "otel_traces", None, None)
c0, w0 = time.process_time(), time.perf_counter()
if sys.argv[2] == "inside":
    store = ClickHouseStore(conn)
    _empty_load_tables(conn)
    _sql.install(store)
else:
    store = pull_window(conn, window)
    _sql.install(store)
c1, w1 = time.process_time(), time.perf_counter()
hops = match_hops(store)
w, c = time.perf_counter() - w1, time.process_time() - c1
print(w, c, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, w1 - w0, c1 - c0,
      len(hops.findings))
"""

_CHECKS = """
import resource, sys, time
from chdb import session
session.Session(sys.argv[1]).close()  # chDB's start-up, not the checks'
from tracehound.doctor.clickhouse import check_clickhouse
if sys.argv[2] == "pulled":  # as for a table whose rows cannot be read in place
    from tracehound.doctor.clickhouse._window import Window
    Window.whole_rows = lambda self: None
c0, w0 = time.process_time(), time.perf_counter()
report = check_clickhouse("chdb:" + sys.argv[1])
w, c = time.perf_counter() - w0, time.process_time() - c0
counts = {}
for f in report.findings:
    counts[f.code] = counts.get(f.code, 0) + 1
print(w, c, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, report.spans_analysed,
      __import__("json").dumps(counts))
"""


def _generate(where: Path, spans: int) -> None:
    from chdb import session

    from tracehound.doctor.clickhouse._schema import create_statements

    s = session.Session(str(where))
    try:
        for statement in create_statements("default", "otel_traces"):
            s.query(statement)
        # a UDF keeps the generator readable: a span's ID from its trace and place
        s.query(
            "CREATE FUNCTION IF NOT EXISTS span AS (j) -> "
            "leftPad(lower(hex(cityHash64(t, j, 3))), 16, '0')"
        )
        sql = _GENERATE.format(spans=spans).replace("INSERT INTO otel_traces\n", "")
        s.query(f"INSERT INTO otel_traces {_FUNCTIONS} {sql}")
        s.query("OPTIMIZE TABLE otel_traces FINAL")
    finally:
        s.close()


def _child(code: str, *args: str, split: int | None = 4) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return done.stdout.split(maxsplit=-1 if split is None else split)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="keep the chDB data here (reused if it exists)")
    parser.add_argument("--pulled", action="store_true", help="also with the window pulled")
    parser.add_argument("--c003", action="store_true", help="C003 inside vs on pulled rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ch-") as tmp:
        where = args.dir or Path(tmp) / "chdb"
        if not where.exists():
            import time

            start = time.perf_counter()
            _generate(where, args.spans)
            print(f"generated {args.spans:,} spans in chDB in {time.perf_counter() - start:.1f} s")
        scans, checks, pulled, c003 = [], [], [], {"inside": [], "pulled": []}
        for _ in range(args.runs):
            scans.append(_child(_SCAN, str(where)))
            checks.append(_child(_CHECKS, str(where), "in-clickhouse"))
            if args.pulled:
                pulled.append(_child(_CHECKS, str(where), "pulled"))
            if args.c003:
                for how, runs in c003.items():
                    runs.append(_child(_C003, str(where), how, split=None))
    _report("full scan", scans, None)
    _report("checks inside ClickHouse", checks, scans)
    if pulled:
        _report("the same, attributes and propagation on the pulled window", pulled, scans)
    print("findings:", checks[-1][4].strip(), "spans:", checks[-1][3])
    for how, runs in c003.items():
        if runs:
            setup_wall = statistics.median(float(r[3]) for r in runs)
            setup_cpu = statistics.median(float(r[4]) for r in runs)
            _report(
                f"C003 ({how}; before it, {'install' if how == 'inside' else 'pull + install'}"
                f" {setup_wall:.2f} s wall, {setup_cpu:.2f} s CPU; {runs[-1][5]} findings)",
                runs,
                scans,
            )


def _report(name: str, runs: list[list[str]], baseline: list[list[str]] | None) -> None:
    wall = statistics.median(float(r[0]) for r in runs)
    cpu = statistics.median(float(r[1]) for r in runs)
    rss = max(int(r[2]) for r in runs) / 1024
    line = f"{name}: wall {wall:.2f} s, CPU {cpu:.2f} s, peak RSS {rss:.0f} MB"
    if baseline:
        base_wall = statistics.median(float(r[0]) for r in baseline)
        base_cpu = statistics.median(float(r[1]) for r in baseline)
        line += f" (wall {wall / base_wall:.1f}x, CPU {cpu / base_cpu:.1f}x the scan)"
    print(line)


if __name__ == "__main__":
    main()
