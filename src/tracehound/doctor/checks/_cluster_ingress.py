"""The cluster checks of ingress controllers: ingress-nginx's ConfigMap and Ingress
annotations (trusting incoming spans, its sampler) and NGINX snippets that tell
``otel_trace_context ignore`` (F5 NGINX Ingress, ingress-nginx)."""

from __future__ import annotations

import re

from tracehound.doctor.checks._cluster_fix import finding, mapping_fix
from tracehound.doctor.checks._cluster_model import Cluster, Obj, Workload
from tracehound.rules import Finding

__all__ = ["check"]

_TRUST = "opentelemetry-trust-incoming-span"
_NGINX_IGNORE = re.compile(r"\botel_trace_context\s+ignore\b")


def _number(text: str | None) -> float | None:
    try:
        return float(str(text).strip())
    except ValueError:
        return None


def check(cluster: Cluster) -> list[Finding]:
    found = []
    for obj in cluster.of_kind("ConfigMap", "Ingress"):
        settings = obj.mapping("data:") if obj.kind == "ConfigMap" else obj.mapping("annotation:")
        for key, fact in settings.items():
            value = (fact.value or "").strip().lower()
            if key.endswith(_TRUST) and value == "false":
                scope = _ingress_backends(cluster, obj)
                path = ["data"] if obj.kind == "ConfigMap" else ["metadata", "annotations"]
                fix = mapping_fix(f"{obj.kind} {obj.name}", path, {key: "true"})
                found.append(
                    finding(
                        "K003",
                        "the ingress does not trust incoming spans: it starts a new trace for "
                        "every request",
                        fact,
                        scope,
                        fix,
                    )
                )
            elif _NGINX_IGNORE.search(fact.value or ""):
                fix = (
                    f"# {obj.kind} {obj.name}, {key}: read the incoming context and send it "
                    "on\notel_trace_context propagate;"
                )
                found.append(
                    finding(
                        "K003",
                        "NGINX is told `otel_trace_context ignore`: incoming trace headers are "
                        "neither read nor sent on",
                        fact,
                        _ingress_backends(cluster, obj),
                        fix,
                    )
                )
        if obj.kind != "ConfigMap":
            continue
        sampler = settings.get("otel-sampler")
        ratio = settings.get("otel-sampler-ratio")
        if sampler is not None and (sampler.value or "").strip() == "AlwaysOff":
            found.append(
                finding(
                    "K002",
                    "the ingress's sampler is AlwaysOff",
                    sampler,
                    [],
                    mapping_fix(f"ConfigMap {obj.name}", ["data"], {"otel-sampler": "AlwaysOn"}),
                )
            )
        elif (
            sampler is not None
            and (sampler.value or "").strip() == "TraceIdRatioBased"
            and ratio is not None
            and _number(ratio.value) == 0
        ):
            found.append(
                finding(
                    "K002",
                    "the ingress samples a ratio of 0",
                    ratio,
                    [],
                    mapping_fix(f"ConfigMap {obj.name}", ["data"], {"otel-sampler-ratio": "1.0"}),
                )
            )
    return found


def _ingress_backends(cluster: Cluster, obj: Obj) -> list[Workload]:
    if obj.kind != "Ingress":
        return []
    names = {
        f.value
        for f in obj.facts
        if f.setting.endswith(("backend.service.name", "backend.serviceName"))
    }
    return [
        w
        for name in names
        for s in [cluster.service_named(name or "", None, obj.namespace)]
        if s
        for w in cluster.selected_by(s)
    ]
