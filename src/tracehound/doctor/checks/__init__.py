"""The doctor's checks, one module per rule family, each a query over the tables."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from tracehound.doctor._model import Edge, SkippedCheck
from tracehound.doctor.checks import (
    _sql,
    attributes,
    causes,
    context,
    lifecycle,
    propagation,
    runtime,
    timestamps,
)
from tracehound.doctor.checks.propagation import HeaderEvidence
from tracehound.doctor.edges import build_edges
from tracehound.doctor.evidence import attach_evidence
from tracehound.doctor.evidence.http import TABLE as EXCHANGES
from tracehound.doctor.evidence.k8s import TABLE as MANIFESTS
from tracehound.doctor.store import Store
from tracehound.rules import Finding

__all__ = ["CheckResults", "run_checks"]


@dataclass
class CheckResults:
    """Every finding, the per-edge view, and the families that did not run."""

    findings: list[Finding] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    skipped: list[SkippedCheck] = field(default_factory=list)
    remote_entries: int = 0
    """Entry spans whose parent is in another service's (absent) data: normal, not reported."""


def run_checks(
    store: Store, formats: Mapping[str, str | None] | None = None, *, log_key: str | None = None
) -> CheckResults:
    """Run every family over a loaded store; ``formats`` maps each input (the Source
    column) to the export format it was read as; ``log_key`` is the log field that
    names one request across services (see `checks.logs`)."""
    with _no_automatic_checkpoints(store):
        return _run(store, formats, log_key)


def _run(
    store: Store, formats: Mapping[str, str | None] | None, log_key: str | None
) -> CheckResults:
    _sql.install(store)
    # The attribute and propagation families and C004 read only the span table: they run
    # beside the others, on a connection of their own, filling what the others' queries
    # (and Python) leave of the CPUs.
    # (The executor is left first: the connection must not close under a running query.)
    stop = threading.Event()
    # While both connections run queries, each calling thread works on its own query as
    # well as DuckDB's workers: one worker fewer keeps the threads at the number of
    # cores, where one more only splits work that nothing else would wait for (1M spans,
    # 2 cores: 0.05-0.08 CPU-s less).  The side gives the worker back when it is done.
    threads = int(store.scalar("SELECT current_setting('threads')"))
    if threads > 1:
        store.con.execute(f"SET threads = {threads - 1}")
    try:
        with store.on_own_connection() as own, ThreadPoolExecutor(1) as side:
            beside = side.submit(_beside, own, stop, formats, threads)
            try:
                ctx = context.check(store, suspicious=False)  # C004: beside
                found = list(ctx.findings)
                found.extend(lifecycle.check(store, formats))
                found.extend(timestamps.check(store))
                found.extend(runtime.check(store))
            except BaseException:
                stop.set()  # no need to wait for the other families
                own.con.interrupt()
                raise
            attribute_findings, skipped, header_findings, evidence, roots = beside.result()
    finally:
        store.con.execute(f"SET threads = {threads}")
    found.extend(roots)
    found.extend(header_findings)
    found.extend(attribute_findings)
    edges = build_edges(store, ctx.hops, evidence)
    skipped = list(skipped)
    # The families of the other evidence kinds are imported only when their tables have
    # rows: a check of spans alone never runs them (their modules cost ~30 ms to import).
    if _has_rows(store, EXCHANGES):
        from tracehound.doctor.checks import wire

        # HTTP exchanges: captures, HAR, curl, access logs
        on_the_wire = wire.check(store, edges)
        found.extend(on_the_wire.findings)
        edges = attach_evidence(edges, on_the_wire.evidence)
    if _has_rows(store, MANIFESTS):
        from tracehound.doctor.checks import cluster

        # manifests among the inputs: their findings, and the ones on a broken edge's hop
        # as that edge's evidence
        configured = cluster.check(store, [(e.caller, e.callee) for e in edges])
        found.extend(configured.findings)
        edges = attach_evidence(edges, cluster.cluster_evidence(configured, edges))
    if _has_rows(store, "otel_logs"):
        from tracehound.doctor.checks import logs

        # service logs: the hops where a request's trace ID changed, cited on the edges
        in_logs = logs.check(store, log_key, logs.callers_of(edges))
        found.extend(in_logs.findings)
        edges = attach_evidence(edges, in_logs.evidence)
        skipped.extend(in_logs.skipped)
    found = causes.name_causes(store, found)
    found.sort(key=lambda f: (-f.severity, f.code, f.location or "", f.span_id or ""))
    return CheckResults(found, edges, skipped, ctx.remote_entries)


@contextlib.contextmanager
def _no_automatic_checkpoints(store: Store) -> Iterator[None]:
    """The checks' tables live for one run: a checkpoint DuckDB starts by itself once they
    pass its threshold (16 MB of changes) only compresses and vacuums what is dropped
    soon after (1M spans: about 0.2 CPU-s of the checks' 2.7).  The default is reset; a
    value the caller set is put back within the tenth of its unit DuckDB shows."""
    threshold = store.scalar("SELECT current_setting('checkpoint_threshold')")
    store.con.execute("RESET checkpoint_threshold")
    changed = threshold != store.scalar("SELECT current_setting('checkpoint_threshold')")
    store.con.execute("SET checkpoint_threshold = '1TB'")
    try:
        yield
    finally:
        if changed:
            store.con.execute(f"SET checkpoint_threshold = '{_unrounded(threshold)}'")
        else:
            store.con.execute("RESET checkpoint_threshold")


def _unrounded(shown: str) -> str:
    """A size as DuckDB shows it (``15.2 MiB``, cut to a tenth) as the middle of what it
    stands for: set again, it shows the same (the shown value itself would show less)."""
    number, _, unit = shown.partition(" ")
    try:
        return f"{float(number) + 0.05:.2f} {unit}"
    except ValueError:
        return shown


def _has_rows(store: Store, table: str) -> bool:
    return bool(store.scalar(f"SELECT count(*) > 0 FROM {table}"))


def _beside(
    store: Store, stop: threading.Event, formats: Mapping[str, str | None] | None, threads: int
) -> tuple[
    list[Finding], list[SkippedCheck], list[Finding], dict[int, HeaderEvidence], list[Finding]
]:
    """The families that read only the span table: attributes, propagation and C004."""
    try:
        attribute_findings, skipped = attributes.check(store, formats)
        if stop.is_set():
            return [], [], [], {}, []
        header_findings, evidence = propagation.check(store)
        if stop.is_set():
            return [], [], [], {}, []
        roots = context.suspicious_roots(store)
    finally:
        if not stop.is_set():  # the checks beside may use every core now
            store.con.execute(f"SET threads = {threads}")
    return attribute_findings, skipped, header_findings, evidence, roots
