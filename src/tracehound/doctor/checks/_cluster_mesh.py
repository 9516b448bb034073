"""The cluster checks of the mesh between the workloads: Istio (mesh config, Telemetry,
VirtualService, EnvoyFilter, ``proxy.istio.io/config``), Envoy Gateway's ``EnvoyProxy``
and Kuma's ``MeshTrace`` (the ingress controllers: `_cluster_ingress`)."""

from __future__ import annotations

import re

from tracehound.doctor.checks import _cluster_ingress
from tracehound.doctor.checks._cluster_fix import finding, mapping_fix
from tracehound.doctor.checks._cluster_model import Cluster, Fact, Obj, Workload
from tracehound.rules import Finding

__all__ = ["check"]

TRACE_HEADERS = frozenset(
    {
        "traceparent",
        "tracestate",
        "b3",
        "uber-trace-id",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-parentspanid",
        "x-b3-sampled",
        "x-b3-flags",
        "x-cloud-trace-context",
        "x-amzn-trace-id",
        "x-datadog-trace-id",
        "x-datadog-parent-id",
        "x-ot-span-context",
    }
)
LOW_SAMPLING = 10.0
"""Mesh sampling percentages below this are warned about (K009) when apps follow it."""
ISTIO_DEFAULT_SAMPLING = 1.0
"""Istio's default ``pilot.traceSampling`` / ``defaultConfig.tracing.sampling``: 1 %."""
_LEGACY_TRACERS = ("zipkin", "lightstep", "datadog", "stackdriver", "openCensusAgent")


def check(cluster: Cluster) -> list[Finding]:
    found: list[Finding] = []
    meshes = [
        o
        for o in cluster.objects
        if o.get("mesh-config") is not None or o.kind in ("IstioOperator", "IstioHelmValues")
    ]
    telemetries = cluster.of_kind("Telemetry")
    root = _root_namespace(meshes)
    found += _mesh_sampling(cluster, meshes, telemetries, root)
    found += _headers(cluster, telemetries, root)
    found += _cluster_ingress.check(cluster)
    found += _providers(cluster, meshes, telemetries)
    return found


def _number(text: str | None) -> float | None:
    try:
        return float(str(text).strip())
    except ValueError:
        return None


def _root_namespace(meshes: list[Obj]) -> str:
    for mesh in meshes:
        fact = mesh.get("mesh:rootNamespace")
        if fact is not None and fact.value:
            return fact.value
    return "istio-system"


def _telemetry_scope(cluster: Cluster, obj: Obj, root: str) -> list[Workload]:
    if obj.namespace == root:
        return cluster.in_scope(None)
    selector = {
        k.split(".", 2)[-1]: f.value or ""
        for k, f in obj.mapping("spec:selector.matchLabels.").items()
    }
    return cluster.in_scope(obj.namespace, selector)


def _mesh_sampling(
    cluster: Cluster, meshes: list[Obj], telemetries: list[Obj], root: str
) -> list[Finding]:
    found: list[Finding] = []
    low: list[_Low] = []
    everyone = cluster.in_scope(None)
    # Istio's order: a Telemetry's randomSamplingPercentage, else the proxy config's
    # tracing.sampling (0 or over 100 count as unset), else PILOT_TRACE_SAMPLING
    # (`pilot.traceSampling`, 1 % by default) -- pilot/pkg/networking/core/tracing.go
    covered = {
        id(w)
        for t in telemetries
        if any(_PERCENT.fullmatch(f.setting) for f in t.facts)
        for w in _telemetry_scope(cluster, t, root)
    }
    mesh_scope = [w for w in everyone if id(w) not in covered]
    proxy_set = [
        f for m in meshes for f in m.facts if f.setting == "mesh:defaultConfig.tracing.sampling"
    ]
    proxy_effective = [f for f in proxy_set if 0 < (_number(f.value) or 0) <= 100]
    for mesh in meshes:
        for fact in mesh.facts:
            if fact.setting == "mesh:enableTracing" and (fact.value or "").lower() == "false":
                fix = mapping_fix("mesh config", ["meshConfig"], {"enableTracing": True})
                found.append(
                    finding(
                        "K002", "tracing is switched off for the whole mesh", fact, everyone, fix
                    )
                )
            elif everyone and not mesh_scope:
                continue  # every workload's sampling is a Telemetry's
            elif fact.setting == "values:pilot.traceSampling" and not proxy_effective:
                low += _percent(fact, mesh_scope, found, _mesh_fix(fact))
            elif fact.setting == "mesh:defaultConfig.tracing.sampling":
                low += _proxy_percent(fact, mesh_scope, found, _mesh_fix(fact), meshes)
    for obj in telemetries:
        scope = _telemetry_scope(cluster, obj, root)
        for fact in obj.facts:
            if _PERCENT.fullmatch(fact.setting):
                fix = _telemetry_fix(obj, fact, {"randomSamplingPercentage": 100})
                low += _percent(fact, scope, found, fix)
            elif (
                fact.setting.endswith(".disableSpanReporting")
                and (fact.value or "").lower() == "true"
            ):
                fix = _telemetry_fix(obj, fact, {"disableSpanReporting": False})
                found.append(finding("K002", "span reporting is disabled", fact, scope, fix))
    for w in cluster.workloads:
        fact = w.obj.get("proxy-config:tracing.sampling")
        if fact is not None and id(w) not in covered:
            fix = mapping_fix(
                f"{w.obj.kind} {w.obj.name}: pod annotation",
                ["proxy.istio.io/config: |", "tracing"],
                {"sampling": 100},
            )
            low += _proxy_percent(fact, [w], found, fix, meshes)
    for obj in cluster.of_kind("EnvoyProxy", "MeshTrace"):
        for fact in obj.facts:
            if (
                fact.setting
                in ("spec:telemetry.tracing.samplingRate", "spec:default.sampling.overall")
                and _number(fact.value) == 0
            ):
                leaf = fact.setting.split(".")[-1]
                path = fact.key_path.split(".")[:-1]
                found.append(
                    finding(
                        "K002",
                        f"{leaf} is 0: nothing is traced",
                        fact,
                        [],
                        mapping_fix(f"{obj.kind} {obj.name}", path, {leaf: 100}),
                    )
                )
    # without a tracing provider the proxies make no sampling decision (that is K004)
    if not meshes or _used_providers(meshes, telemetries) or _legacy_tracer(meshes):
        found += _low_sampling(low)
    return found


def _mesh_fix(fact: Fact) -> str:
    if fact.setting.startswith("values:"):
        return mapping_fix("Istio values", ["values", "pilot"], {"traceSampling": 100.0})
    return mapping_fix(
        "mesh config", ["meshConfig", "defaultConfig", "tracing"], {"sampling": 100.0}
    )


_Low = tuple[Fact, float, list[Workload], str, str]
"""A sampling percentage above 0 but low: where, how much, the workloads behind it, the fix,
and what to say first (when the value written is not the one used)."""
_PERCENT = re.compile(r"spec:tracing\[\d+\]\.randomSamplingPercentage")


def _telemetry_fix(obj: Obj, fact: Fact, leaf: dict[str, object]) -> str:
    """``leaf`` in the ``spec.tracing`` entry of ``fact``, its providers written out."""
    entry = fact.setting.split(".", 1)[0]  # spec:tracing[i]
    names = [
        f.value
        for f in obj.facts
        if f.setting.startswith(f"{entry}.providers[") and f.setting.endswith("].name")
    ]
    item = f"- providers: [{', '.join(f'{{name: {n}}}' for n in names)}]" if names else "- "
    return mapping_fix(f"Telemetry {obj.name}", ["spec", "tracing", item], leaf)


def _proxy_percent(
    fact: Fact, scope: list[Workload], found: list[Finding], fix: str, meshes: list[Obj]
) -> list[_Low]:
    """A proxy config's ``tracing.sampling``: 0 and values over 100 mean "unset", and the
    proxies fall back to ``pilot.traceSampling`` (1 % unless set)."""
    value = _number(fact.value)
    if value is None:
        return []
    if 0 < value <= 100:
        return _percent(fact, scope, found, fix)
    pilot = next(
        (f for m in meshes for f in m.facts if f.setting == "values:pilot.traceSampling"), None
    )
    fallback = _number(pilot.value) if pilot is not None else None
    if fallback is None or not 0 <= fallback <= 100:
        fallback = ISTIO_DEFAULT_SAMPLING
    if fallback >= LOW_SAMPLING or fallback == 0:
        return []  # 0: reported at pilot.traceSampling itself
    return [(fact, fallback, scope, fix, f"{fact.value} is read as unset: ")]


def _percent(fact: Fact, scope: list[Workload], found: list[Finding], fix: str) -> list[_Low]:
    value = _number(fact.value)
    if value is None:
        return []
    if value == 0:
        found.append(
            finding("K002", "random sampling is 0 %: the proxies start no trace", fact, scope, fix)
        )
        return []
    if value < LOW_SAMPLING:
        return [(fact, value, scope, fix, "")]
    return []


def _low_sampling(low: list[_Low]) -> list[Finding]:
    found = []
    for fact, percent, scope, fix, preface in low:
        following = []
        for w in scope:
            sampler = w.setting("OTEL_TRACES_SAMPLER")
            if sampler is not None and sampler.value.strip().lower().startswith("parentbased"):
                following.append((w, sampler.value))
        if not following:
            continue
        kept = percent / 100
        samplers = ", ".join(sorted({s for _, s in following}))
        message = (
            f"{preface}the mesh samples {percent:g} % of the requests it traces; {len(following)} "
            f"workload(s) use {samplers}, which follows that decision: about "
            f"{round((1 - kept) * 1000):,} of every 1,000 traces they start from the mesh "
            "are dropped"
        )
        found.append(finding("K009", message, fact, [w for w, _ in following], fix))
    return found


def _headers(cluster: Cluster, telemetries: list[Obj], root: str) -> list[Finding]:
    found = []
    for obj in cluster.of_kind("VirtualService"):
        for fact in obj.facts:
            if (
                re.fullmatch(r"spec:http\[\d+\]\.headers\.request\.remove\[\d+\]", fact.setting)
                and (fact.value or "").lower() in TRACE_HEADERS
            ):
                route = fact.setting.split(".", 1)[0][len("spec:") :]
                hosts = [
                    f.value or ""
                    for f in obj.facts
                    if f.setting.startswith(f"spec:{route}.route[")
                    and f.setting.endswith(".destination.host")
                ]
                scope = [
                    w
                    for h in hosts
                    for s in [cluster.service_named(h.split(".")[0], None, obj.namespace)]
                    if s
                    for w in cluster.selected_by(s)
                ]
                listed = fact.key_path.rsplit("[", 1)[0]
                fix = f"# VirtualService {obj.name}: delete from {listed}\n#   - {fact.value}"
                found.append(
                    finding(
                        "K003", f"the route removes the trace header {fact.value}", fact, scope, fix
                    )
                )
    for obj in cluster.of_kind("EnvoyFilter"):
        selector = {
            k.split(".", 2)[-1]: f.value or ""
            for k, f in obj.mapping("spec:workloadSelector.labels.").items()
        }
        for fact in obj.facts:
            if (
                "request_headers_to_remove" in fact.key_path
                and (fact.value or "").lower() in TRACE_HEADERS
            ):
                scope = cluster.in_scope(obj.namespace if obj.namespace != root else None, selector)
                fix = (
                    f"# EnvoyFilter {obj.name}: delete from request_headers_to_remove\n"
                    f"#   - {fact.value}"
                )
                found.append(
                    finding(
                        "K003",
                        f"the Envoy patch removes the trace header {fact.value}",
                        fact,
                        scope,
                        fix,
                    )
                )
    for obj in telemetries:
        for fact in obj.facts:
            if (
                fact.setting.endswith(".disableContextPropagation")
                and (fact.value or "").lower() == "true"
            ):
                fix = _telemetry_fix(obj, fact, {"disableContextPropagation": False})
                found.append(
                    finding(
                        "K003",
                        "the proxies do not propagate the trace context",
                        fact,
                        _telemetry_scope(cluster, obj, root),
                        fix,
                    )
                )
    return found


def _used_providers(meshes: list[Obj], telemetries: list[Obj]) -> set[str | None]:
    """The tracing providers the mesh config or a Telemetry enables."""
    used = {f.value for m in meshes for f in m.with_prefix("mesh:defaultProviders.tracing")}
    used |= {
        f.value
        for t in telemetries
        for f in t.facts
        if re.fullmatch(r"spec:tracing\[\d+\]\.providers\[\d+\]\.name", f.setting)
    }
    return used


def _legacy_tracer(meshes: list[Obj]) -> bool:
    """Whether the proxy config names a tracer of its own (before the Telemetry API)."""
    return any(
        f.setting.startswith(tuple(f"mesh:defaultConfig.tracing.{t}" for t in _LEGACY_TRACERS))
        for m in meshes
        for f in m.facts
    )


def _providers(cluster: Cluster, meshes: list[Obj], telemetries: list[Obj]) -> list[Finding]:
    if not meshes:
        return []
    used = _used_providers(meshes, telemetries)
    legacy = _legacy_tracer(meshes)
    found = []
    for mesh in meshes:
        tracer = mesh.get("values:global.proxy.tracer")
        if tracer is not None and (tracer.value or "").lower() == "none":
            fix = mapping_fix(
                "IstioOperator: remove global.proxy.tracer, then enable a provider",
                ["meshConfig", "defaultProviders"],
                {"tracing": ["otel-tracing"]},
            )
            found.append(
                finding(
                    "K004",
                    "the proxies' tracer is `none`: the mesh creates no spans",
                    tracer,
                    cluster.in_scope(None),
                    fix,
                )
            )
    if not used and not legacy and not found:
        mesh = meshes[0]
        declared = [
            f.value
            for m in meshes
            for f in m.facts
            if re.fullmatch(r"mesh:extensionProviders\[\d+\]\.name", f.setting)
        ]
        name = declared[0] if declared else "otel-tracing"
        fix = mapping_fix("mesh config", ["meshConfig", "defaultProviders"], {"tracing": [name]})
        hint = (
            f" (declared, never enabled: {', '.join(str(d) for d in declared)})" if declared else ""
        )
        found.append(
            finding(
                "K004",
                f"no tracing provider is enabled: the proxies create no spans{hint}",
                mesh.get("mesh-config") or mesh.head,
                cluster.in_scope(None),
                fix,
            )
        )
    for mesh in meshes:
        found += _zipkin_b3(cluster, mesh, used)
    return found


def _zipkin_b3(cluster: Cluster, mesh: Obj, used: set[str | None]) -> list[Finding]:
    found = []
    for fact in mesh.facts:
        match = re.fullmatch(r"mesh:extensionProviders\[(\d+)\]\.zipkin\.service", fact.setting)
        if match is None:
            continue
        base = f"mesh:extensionProviders[{match[1]}]"
        name_fact = mesh.get(f"{base}.name")
        name = name_fact.value if name_fact else None
        option = mesh.get(f"{base}.zipkin.traceContextOption")
        if name not in used or (option is not None and (option.value or "") == "USE_B3_WITH_W3C"):
            continue
        w3c_only = []
        for w in cluster.workloads:
            reads = w.setting("OTEL_PROPAGATORS")
            if reads is not None and not (
                {"b3", "b3multi", "tracehound"}
                & {p.strip().lower() for p in reads.value.split(",")}
            ):
                w3c_only.append(w)
        if cluster.workloads and not w3c_only:
            continue
        path = ["meshConfig", "extensionProviders", f"- name: {name}", "zipkin"]
        fix = mapping_fix("mesh config", path, {"traceContextOption": "USE_B3_WITH_W3C"})
        found.append(
            finding(
                "K005",
                f"the Zipkin provider {name} sends only B3 headers (traceContextOption "
                f"{option.value if option else 'unset: USE_B3'}); apps that read only W3C get "
                "no traceparent from the proxy",
                option or fact,
                w3c_only,
                fix,
            )
        )
    return found
