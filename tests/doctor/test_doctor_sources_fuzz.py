"""Property: whatever an input holds, loading it never raises and every span is counted.

Real inputs of every format and every way in (one document, JSON lines through
DuckDB, concatenated objects, protobuf single and framed, gzip), mutated at
the byte level (flips, cuts, insertions, repeats) and at the JSON level (any
value replaced by any other, huge numbers, deep nesting).
"""

from __future__ import annotations

import gzip
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from doctor_data import CORPORA, DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracehound.doctor import load
from tracehound.doctor._synthetic_writers import to_otlp_json_lines, to_otlp_proto
from tracehound.doctor.synthetic import generate

REAL = Path(__file__).resolve().parent / "real"


def _seeds() -> dict[str, bytes]:
    files = [
        REAL / "jaeger" / "api_v3_FindTraces_2024.json",
        REAL / "opentelemetry-python" / "console-exporter.out",
        REAL / "opentelemetry-go" / "stdouttrace-expected.out",
        # a console exporter's spans among the program's own lines (a real stdout)
        DATA / "realworld" / "req-jaeger-to-tracecontext-console" / "console" / "checkout.txt",
        # Node.js's console exporter: JavaScript object literals, not JSON
        DATA / "realworld" / "node-tracecontext-to-b3-console" / "console" / "gateway.txt",
        REAL / "zipkin" / "yelp.json",
        DATA / "collector.otlp.jsonl",
        DATA / "checkout-broken.jaeger.json",
        *(CORPORA / name for name in ("opentelemetry-proto/trace.json", "zipkin/skew.json")),
        *(CORPORA / name for name in ("jaeger/trace_success.json", "jaeger/otel_traces_01.json")),
    ]
    seeds = {path.name: path.read_bytes() for path in files if path.exists()}
    spans = generate(3, seed=4).spans
    seeds["lines.jsonl"] = b"".join(to_otlp_json_lines(spans, per_line=8))
    message = to_otlp_proto(spans[:10])
    seeds["single.pb"] = message
    seeds["framed.pb"] = b"".join(len(m).to_bytes(4, "big") + m for m in (message, message))
    seeds["findings.jsonl"] = _findings_file()
    return seeds


def _findings_file() -> bytes:
    """A runtime findings file as the runtime writes it (header, findings, counts)."""
    import tempfile

    from tracehound.rules import Finding, get_rule
    from tracehound.runtime._findings_file import FindingsFile

    with tempfile.TemporaryDirectory() as folder:
        writer = FindingsFile(os.path.join(folder, "f.jsonl"), "orders")
        leak = Finding(get_rule("L001"), "span 'x' never ended", "ab" * 16, "cd" * 8,
                       location="app.py:3", details={"span": "x"})
        writer.record(leak, True)
        writer.record(leak, False)
        writer.record(Finding(get_rule("C005"), "lost", location="app.py:9"), True)
        writer.close()
        return Path(writer.path).read_bytes()


SEEDS = _seeds()

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _nodes(value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key) of a parsed JSON value."""
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        out.append((value, key))
        _nodes(child, out)
    return out


def _mutate_json(text: bytes, rnd: random.Random, replacement: Any, depth: int) -> bytes | None:
    try:
        docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        try:
            docs = [json.loads(text)]
        except ValueError:
            return None
    doc = rnd.choice(docs)
    nodes = _nodes(doc, [])
    if not nodes:
        return None
    container, key = rnd.choice(nodes)
    for _ in range(depth):
        replacement = [replacement]
    container[key] = replacement
    return b"\n".join(json.dumps(d).encode() for d in docs) + b"\n"


def _mutate_bytes(data: bytes, rnd: random.Random, count: int) -> bytes:
    out = bytearray(data)
    for _ in range(count):
        at = rnd.randrange(len(out) + 1)
        choice = rnd.randrange(5)
        if choice == 0 and out:  # flip a byte
            out[min(at, len(out) - 1)] = rnd.randrange(256)
        elif choice == 1:  # cut
            del out[at:]
        elif choice == 2:  # insert a few bytes
            out[at:at] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 5)))
        elif choice == 3:  # repeat a slice
            end = min(len(out), at + rnd.randrange(1, 64))
            out[at:at] = out[at:end]
        else:  # drop a slice
            del out[at : at + rnd.randrange(1, 16)]
    return bytes(out)


@settings(
    max_examples=int(os.environ.get("TRACEHOUND_FUZZ_EXAMPLES", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.sampled_from(sorted(SEEDS)),
    rnd=st.randoms(use_true_random=False),
    structural=st.booleans(),
    replacement=json_values,
    depth=st.sampled_from([0, 0, 0, 300]),
    flips=st.integers(min_value=0, max_value=4),
    gzipped=st.booleans(),
    second=st.sampled_from([None, *sorted(SEEDS)]),
)
def test_loading_a_mutated_real_input_never_raises_and_counts_every_span(
    tmp_path_factory: pytest.TempPathFactory,
    seed: str,
    rnd: random.Random,
    structural: bool,
    replacement: Any,
    depth: int,
    flips: int,
    gzipped: bool,
    second: str | None,
) -> None:
    data = SEEDS[seed]
    if structural and not seed.endswith(".pb"):
        data = _mutate_json(data, rnd, replacement, depth) or data
    data = _mutate_bytes(data, rnd, flips)
    if gzipped:
        data = gzip.compress(data)
    folder = tmp_path_factory.mktemp("fuzz")
    paths = [folder / seed]
    paths[0].write_bytes(data)
    if second is not None:  # a second input, overlapping the first or not
        paths.append(folder / f"2-{second}")
        paths[1].write_bytes(_mutate_bytes(SEEDS[second], rnd, flips))
    store, report = load([str(p) for p in paths])
    try:
        analysed = store.scalar("SELECT count(*) FROM otel_traces")
        rejected = store.scalar("SELECT count(*) FROM rejected")
        runtime_findings = store.scalar("SELECT count(*) FROM runtime_findings")
    finally:
        store.close()
    assert report.spans_read == report.spans_analysed + report.spans_merged + report.spans_rejected
    assert (analysed, rejected) == (report.spans_analysed, report.spans_rejected)
    assert runtime_findings == sum(i.findings for i in report.inputs)
    # what the readers saw is what the table holds
    assert sum(i.spans for i in report.inputs) == report.spans_read or report.errors
