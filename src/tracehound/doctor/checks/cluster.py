"""Cluster configuration (K001-K009): the setting that breaks traces before a request does.

Reads the configuration facts of the manifests given (``k8s_facts``), rebuilds
what runs (`_cluster_model`) and reports, at the file and line of the key:
propagator sets a caller and its callee cannot share (K001; who calls whom
from the spans when given, else from the manifests' Service references),
sampling switched off (K002) or so low that parent-based samplers drop almost
everything (K009), headers removed or not trusted on the way (K003), no
tracing provider in the mesh (K004), Istio's Zipkin provider sending only B3
to W3C-only apps (K005), the Operator's inject annotation where the Operator
does not look (K006), container env overriding the Operator's
``Instrumentation`` (K007), and tracing switched off in the SDK (K008).
Each finding names the workloads affected and carries the fix as YAML.
`cluster_evidence` turns the findings on a broken edge's hop into evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tracehound.doctor._model import Edge, Evidence
from tracehound.doctor.checks import _cluster_mesh
from tracehound.doctor.checks._cluster_fix import container_env_fix, env_fix, finding, mapping_fix
from tracehound.doctor.checks._cluster_model import (
    INJECT,
    Cluster,
    Fact,
    Workload,
    group,
    instrumentation_env,
    load_cluster,
)
from tracehound.doctor.evidence.k8s import TABLE
from tracehound.doctor.store import Store
from tracehound.rules import Finding

__all__ = ["ClusterResults", "check", "cluster_evidence"]

# what each format family an OTEL_PROPAGATORS entry injects, and what it reads
_SENDS = {
    "tracecontext": "W3C",
    "tracehound": "W3C",
    "b3": "B3",
    "b3multi": "B3",
    "jaeger": "Jaeger",
    "xray": "X-Ray",
    "ottrace": "OT",
    "datadog": "Datadog",
}
_READS = {**{k: {v} for k, v in _SENDS.items()}, "tracehound": {"W3C", "B3", "Jaeger"}}
_CAUSE = {
    "K001": "propagator-mismatch",
    "K005": "propagator-mismatch",
    "K003": "header-stripped",
    "K002": "sampled-out",
    "K009": "sampled-out",
}
_SIDECAR_INJECT = "sidecar.opentelemetry.io/inject"
_ENV_NAME = re.compile(r"spec:(?:[A-Za-z]+\.)?env\[\d+\]\.name")


@dataclass
class ClusterResults:
    findings: list[Finding] = field(default_factory=list)
    cluster: Cluster | None = None
    """None: no manifest among the inputs."""


def check(store: Store, span_edges: Iterable[tuple[str, str]] = ()) -> ClusterResults:
    """Every cluster finding; ``span_edges`` are (caller, callee) service names the spans show."""
    if not store.scalar(f"SELECT count(*) FROM {TABLE}"):
        return ClusterResults()
    cluster = load_cluster(store)
    found: list[Finding] = []
    found += _propagators(cluster, span_edges)
    found += _sdk_disabled(cluster)
    found += _sdk_sampling(cluster)
    found += _misplaced_inject(cluster)
    found += _env_overrides(cluster)
    found += _cluster_mesh.check(cluster)
    found.sort(key=lambda f: (-f.severity, f.code, f.location or ""))
    return ClusterResults(found, cluster)


def cluster_evidence(
    results: ClusterResults, edges: Sequence[Edge]
) -> list[tuple[str, str, Evidence]]:
    """``(caller, callee, evidence)`` for each broken edge whose caller or callee a
    finding that can break a hop affects (K001 only for the pairs it names)."""
    cluster = results.cluster
    if cluster is None:
        return []
    found = []
    for edge in edges:
        if not edge.broken:
            continue
        caller, callee = cluster.by_name(edge.caller), cluster.by_name(edge.callee)
        for item in results.findings:
            if item.code not in _CAUSE:  # not a cause of a break on this hop
                continue
            workloads = set(item.details.get("workloads", ()))
            pairs = item.details.get("pairs")
            if pairs is not None:
                hit = any(
                    caller is not None
                    and callee is not None
                    and (caller.obj.name, callee.obj.name) == tuple(p)
                    for p in pairs
                )
            else:
                hit = bool({w.obj.name for w in (caller, callee) if w is not None} & workloads)
            if hit:
                summary = item.message.split(" [", 1)[0]
                found.append(
                    (
                        edge.caller,
                        edge.callee,
                        Evidence("k8s", item.location or "", summary, _CAUSE.get(item.code)),
                    )
                )
    return found


# -- K001 ------------------------------------------------------------------------------
def _formats(value: str) -> list[str]:
    return [
        p.strip().lower() for p in value.split(",") if p.strip() and p.strip().lower() != "none"
    ]


def _spoken(families: Iterable[str]) -> str:
    return " and ".join(sorted(set(families))) or "no format"


def _propagators(cluster: Cluster, span_edges: Iterable[tuple[str, str]]) -> list[Finding]:
    pairs: list[tuple[Workload, Workload]] = [(a, b) for a, b, _ in cluster.calls()]
    for caller_name, callee_name in span_edges:
        caller, callee = cluster.by_name(caller_name), cluster.by_name(callee_name)
        if caller is not None and callee is not None and caller is not callee:
            pairs.append((caller, callee))
    blamed: dict[Fact, list[tuple[Workload, Workload, str]]] = {}
    for caller, callee in dict.fromkeys(pairs):
        sends_value, reads_value = (
            caller.setting("OTEL_PROPAGATORS"),
            callee.setting("OTEL_PROPAGATORS"),
        )
        if sends_value is None or reads_value is None:
            continue  # not configured for OpenTelemetry: nothing known
        sends = {_SENDS[f] for f in _formats(sends_value.value) if f in _SENDS}
        reads = set().union(*(_READS[f] for f in _formats(reads_value.value) if f in _READS))
        if sends & reads or (sends_value.fact is None and reads_value.fact is None):
            continue
        fact = reads_value.fact if reads_value.fact is not None else sends_value.fact
        assert fact is not None
        words = (
            f"{caller.label} sends {_spoken(sends)} ({_origin(sends_value)}); "
            f"{callee.label} reads only {_spoken(reads)} ({_origin(reads_value)})"
        )
        merged = ",".join(dict.fromkeys(_formats(reads_value.value) + _formats(sends_value.value)))
        blamed.setdefault(fact, []).append((caller, callee, words + f"|{merged}"))
    found = []
    for fact, items in blamed.items():
        # one list every pair blamed on this setting can share
        merged = ",".join(
            dict.fromkeys(f for _, _, words in items for f in words.split("|", 1)[1].split(","))
        )
        workloads = list(dict.fromkeys(w for c, e, _ in items for w in (c, e)))
        fix = env_fix(fact, workloads, {"OTEL_PROPAGATORS": merged})
        found.append(
            finding(
                "K001",
                "; ".join(dict.fromkeys(words.split("|", 1)[0] for _, _, words in items)),
                fact,
                workloads,
                fix,
                pairs=[[c.obj.name, e.obj.name] for c, e, _ in items],
            )
        )
    return found


def _origin(value: object) -> str:
    fact = getattr(value, "fact", None)
    if fact is None:
        return "the OpenTelemetry default tracecontext,baggage"
    return f"{getattr(value, 'value', '')} at {fact.where}"


# -- K008, K002 (SDK) -----------------------------------------------------------------------
_DISABLED = {
    "OTEL_SDK_DISABLED": ("true", "false", "the OpenTelemetry SDK is disabled: no span is made"),
    "OTEL_TRACES_EXPORTER": ("none", "otlp", "no span is exported"),
}


def _sdk_disabled(cluster: Cluster) -> list[Finding]:
    hits: list[tuple[Fact | None, Workload]] = []
    names: dict[Fact, str] = {}
    for w in cluster.workloads:
        for name, (bad, _good, _what) in _DISABLED.items():
            value = w.env.get(name)
            if value is not None and value.fact is not None and value.value.strip().lower() == bad:
                hits.append((value.fact, w))
                names[value.fact] = name
    found = []
    for fact, workloads in group(hits).items():
        assert fact is not None
        name = names[fact]
        _bad, good, what = _DISABLED[name]
        fix = env_fix(fact, workloads, {name: good})
        found.append(finding("K008", f"{name}={fact.value}: {what}", fact, workloads, fix))
    return found


def _sdk_sampling(cluster: Cluster) -> list[Finding]:
    hits: list[tuple[Fact | None, Workload]] = []
    for w in cluster.workloads:
        sampler = w.setting("OTEL_TRACES_SAMPLER")
        if sampler is None or sampler.fact is None:
            continue
        kind = sampler.value.strip().lower()
        if kind in ("always_off", "parentbased_always_off"):
            hits.append((sampler.fact, w))
        elif kind in ("traceidratio", "parentbased_traceidratio"):
            arg = w.env.get("OTEL_TRACES_SAMPLER_ARG")
            if arg is not None and arg.fact is not None and _number(arg.value) == 0:
                hits.append((arg.fact, w))
    found = []
    for fact, workloads in group(hits).items():
        assert fact is not None
        fix = env_fix(
            fact,
            workloads,
            {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1"},
        )
        found.append(
            finding("K002", f"the sampler records nothing ({fact.value})", fact, workloads, fix)
        )
    return found


def _number(text: str | None) -> float | None:
    try:
        return float(str(text).strip())
    except ValueError:
        return None


# -- K006, K007 (OpenTelemetry Operator) ---------------------------------------------------
def _misplaced_inject(cluster: Cluster) -> list[Finding]:
    found = []
    for w in cluster.workloads:
        if w.obj.kind == "Pod":
            continue
        for key, fact in w.obj.mapping("annotation:").items():
            if not (key.startswith(INJECT) or key == _SIDECAR_INJECT) or key in w.pod_annotations:
                continue
            path = (
                ["spec", "jobTemplate", "spec", "template", "metadata", "annotations"]
                if w.obj.kind == "CronJob"
                else ["spec", "template", "metadata", "annotations"]
            )
            fix = mapping_fix(
                f"{w.obj.kind} {w.obj.name}: on the pod template, not the {w.obj.kind}'s metadata",
                path,
                {key: fact.value or "true"},
            )
            found.append(
                finding(
                    "K006",
                    f"{key} is on the {w.obj.kind}'s own metadata; the Operator reads pod "
                    f"annotations only, so {w.label} is never instrumented",
                    fact,
                    [w],
                    fix,
                )
            )
    return found


def _env_overrides(cluster: Cluster) -> list[Finding]:
    found = _instrumentation_self_overrides(cluster)
    for w in cluster.workloads:
        if w.instrumentation is None:
            continue
        wanted = instrumentation_env(w.instrumentation, w.language)
        for name, value in wanted.items():
            own = w.container_env.get(name)
            if own is None or (own.value or "") == value.value:
                continue
            fix = container_env_fix(own, w, {name: value.value}) + (
                f"\n# (or delete {name} from the container: the Operator then sets it)"
            )
            found.append(
                finding(
                    "K007",
                    f"{name}={own.value} in the container overrides Instrumentation "
                    f"{w.instrumentation.name}'s {value.value} "
                    f"({value.fact.where if value.fact else ''}): the Operator keeps the "
                    "container's",
                    own,
                    [w],
                    fix,
                )
            )
    return found


def _instrumentation_self_overrides(cluster: Cluster) -> list[Finding]:
    """An Instrumentation whose ``env`` sets the variable its ``propagators`` or ``sampler``
    stand for: the Operator injects ``env`` first, so those fields never apply."""
    found = []
    for obj in cluster.of_kind("Instrumentation"):
        fields = {
            "OTEL_PROPAGATORS": [f for f in obj.facts if f.setting.startswith("spec:propagators[")],
            "OTEL_TRACES_SAMPLER": [f for f in obj.facts if f.setting == "spec:sampler.type"],
        }
        env = {
            f.value: obj.get(f.setting[: -len("name")] + "value")
            for f in obj.facts
            if _ENV_NAME.fullmatch(f.setting)
        }
        for name, facts in fields.items():
            own = env.get(name)
            if not facts or own is None:
                continue
            written = ",".join(f.value or "" for f in facts)
            if (own.value or "") == written:
                continue
            key = facts[0].key_path.split("[")[0]
            wanted: dict[str, object] = (
                {"propagators": written.split(",")}
                if name == "OTEL_PROPAGATORS"
                else {"sampler": {"type": written}}
            )
            fix = mapping_fix(
                f"Instrumentation {obj.name}: delete {name} from "
                f"{own.key_path.rsplit('[', 1)[0]}, so that this applies",
                ["spec"],
                wanted,
            )
            workloads = [w for w in cluster.workloads if w.instrumentation is obj]
            found.append(
                finding(
                    "K007",
                    f"Instrumentation {obj.name} sets {name}={own.value} in its env, which the "
                    f"Operator injects first: its {key} ({written}, {facts[0].where}) never "
                    "applies",
                    own,
                    workloads,
                    fix,
                )
            )
    return found
