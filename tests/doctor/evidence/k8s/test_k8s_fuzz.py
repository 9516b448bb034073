"""Whatever a manifest holds, reading it and checking it never raises: every document is
read or named in an error with its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracehound.doctor.checks import cluster
from tracehound.doctor.evidence.k8s import SCHEMA, TABLE, read_manifest

MANIFESTS = Path(__file__).parent / "manifests"
KINDS = [
    "Deployment",
    "Pod",
    "CronJob",
    "Service",
    "ConfigMap",
    "Namespace",
    "Telemetry",
    "VirtualService",
    "EnvoyFilter",
    "Instrumentation",
    "IstioOperator",
    "Ingress",
    "List",
    "EnvoyProxy",
    "MeshTrace",
    "Gizmo",
]
KEYS = [
    "metadata",
    "spec",
    "template",
    "containers",
    "env",
    "name",
    "value",
    "valueFrom",
    "envFrom",
    "annotations",
    "labels",
    "selector",
    "data",
    "mesh",
    "tracing",
    "items",
    "randomSamplingPercentage",
    "propagators",
    "sampler",
    "meshConfig",
    "values",
    "OTEL_PROPAGATORS",
    "proxy.istio.io/config",
    "http",
    "headers",
    "remove",
    "instrumentation.opentelemetry.io/inject-python",
    "configMapRef",
    "jobTemplate",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**20),
    st.floats(allow_nan=True),
    st.sampled_from(["b3", "true", "0", "always_off", "tracecontext", "a: [b", "x: 1\ny: 2"]),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)
    ),
    max_leaves=30,
)
documents = st.fixed_dictionaries(
    {"apiVersion": st.sampled_from(["v1", "apps/v1"]), "kind": st.sampled_from(KINDS)},
    optional=dict.fromkeys(("metadata", "spec", "data", "items", "meshConfig"), values),
)


class _Facts:
    """The facts table alone, in DuckDB (a whole `Store` per example costs 0.2 s)."""

    con = duckdb.connect()
    con.execute(SCHEMA)

    def __init__(self) -> None:
        self.con.execute(f"DELETE FROM {TABLE}")
        self.rows: list[tuple[Any, ...]] = []

    def add_evidence(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows.append(("fuzz.yaml", *row))

    def finish(self) -> None:
        if self.rows:
            types = ["VARCHAR", "BIGINT", *["VARCHAR"] * 7]
            columns = ", ".join(f"unnest(?::{t}[])" for t in types)
            cells = [list(c) for c in zip(*self.rows, strict=True)]
            self.con.execute(f"INSERT INTO {TABLE} SELECT {columns}", cells)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()

    def scalar(self, sql: str) -> Any:
        return self.con.execute(sql).fetchone()[0]  # type: ignore[index]


def _check(data: bytes) -> None:
    facts = _Facts()
    read = read_manifest(data, facts)
    facts.finish()
    cluster.check(facts)  # type: ignore[arg-type]
    for position, message in read.errors:
        assert message and (position is None or position.split(":")[0].isdigit())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(documents, min_size=1, max_size=4))
def test_any_objects_are_read_or_named(docs: list[dict[str, Any]]) -> None:
    _check(yaml.safe_dump_all(docs, allow_unicode=True).encode())


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_edit_of_a_real_manifest_is_read_or_named(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(p.name for p in MANIFESTS.glob("*.yaml"))))
    text = (MANIFESTS / name).read_bytes()
    at = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 40))
    insert = data.draw(st.binary(max_size=12) | st.sampled_from([b"\n- ", b": ", b"&a ", b"*a"]))
    _check(text[:at] + insert + text[at + cut :])
