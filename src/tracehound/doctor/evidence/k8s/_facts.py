"""Kubernetes objects as configuration facts: (line, namespace, kind, name, container,
setting, value, key path).

The setting is a normalised name the cluster checks read (``env:OTEL_PROPAGATORS``,
``pod-annotation:instrumentation.opentelemetry.io/inject-python``,
``mesh:defaultConfig.tracing.sampling``, ``spec:tracing[0].randomSamplingPercentage``);
the key path is where it is written in the document.  Only what tracing depends
on is kept: workloads' containers, environment and annotations, Services,
ConfigMaps, Namespaces, and the mesh, operator and ingress resources around them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tracehound.doctor.evidence.k8s._yaml import YList, YMap, parse_embedded

__all__ = ["ANALYSED_KINDS", "Fact", "UnknownKind", "facts_of"]

Fact = tuple[int, str | None, str, str, str | None, str, str | None, str]
"""(line, namespace, kind, name, container, setting, value, key path)"""

MAX_LEAVES = 20_000
"""Settings kept from one object's spec (an EnvoyFilter can be long; none is this long)."""
MAX_VALUE = 64 << 10
"""Characters of one value kept (a ConfigMap may hold a whole dashboard)."""

WORKLOAD_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "Rollout"}
)
_SPEC_KINDS = frozenset(
    {
        "Telemetry",  # Istio
        "VirtualService",
        "EnvoyFilter",
        "Instrumentation",  # OpenTelemetry Operator
        "MeshTrace",  # Kuma / Kong Mesh
        "EnvoyProxy",  # Envoy Gateway
    }
)
ANALYSED_KINDS = (
    WORKLOAD_KINDS
    | _SPEC_KINDS
    | {"Service", "ConfigMap", "Namespace", "Ingress", "IstioOperator", "List"}
)
_IGNORED_KINDS = frozenset(
    """
    ServiceAccount Secret Role ClusterRole RoleBinding ClusterRoleBinding PersistentVolume
    PersistentVolumeClaim StorageClass PodDisruptionBudget HorizontalPodAutoscaler
    VerticalPodAutoscaler NetworkPolicy LimitRange ResourceQuota PriorityClass Endpoints
    EndpointSlice CustomResourceDefinition MutatingWebhookConfiguration
    ValidatingWebhookConfiguration APIService IngressClass Lease Event Node CSIDriver
    PodSecurityPolicy RuntimeClass ControllerRevision CertificateSigningRequest
    Gateway GatewayClass HTTPRoute GRPCRoute TCPRoute TLSRoute UDPRoute ReferenceGrant
    DestinationRule ServiceEntry Sidecar PeerAuthentication AuthorizationPolicy
    RequestAuthentication WorkloadEntry WorkloadGroup ProxyConfig WasmPlugin
    OpenTelemetryCollector OpAMPBridge TargetAllocator Certificate Issuer ClusterIssuer
    ServiceMonitor PodMonitor PrometheusRule Prometheus Alertmanager
    Mesh MeshTrafficPermission MeshTimeout MeshRetry MeshMetric MeshAccessLog
    BackendTrafficPolicy ClientTrafficPolicy SecurityPolicy EnvoyPatchPolicy
    VirtualServer VirtualServerRoute TransportServer Policy GlobalConfiguration
    Server ServerAuthorization AuthorizationPolicy HTTPLocalRateLimitPolicy
    """.split()
)
"""Kinds read and known to hold nothing tracing depends on (counted, not analysed)."""

_TEMPLATE = {
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Pod": (),
}
_ISTIO_MESH_CONFIGMAP = ("istio",)  # `istio`, `istio-<revision>`


class UnknownKind(Exception):
    """A document that is no Kubernetes object tracehound knows."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def facts_of(doc: Any, line: int) -> Iterator[Fact]:
    """The facts of one document (a `List`'s items each in turn); `UnknownKind` for a
    document that is not an object tracehound knows, `YamlProblem` for bad YAML in a
    string it reads as YAML."""
    if not isinstance(doc, YMap):
        raise UnknownKind(
            f"a {type(doc).__name__} where a Kubernetes object (a mapping) was expected", line
        )
    kind, api = doc.get("kind"), doc.get("apiVersion")
    if kind is None and api is None:
        if "meshConfig" in doc or isinstance(doc.get("pilot"), dict):
            yield from _helm_values(doc)
            return
        raise UnknownKind("not a Kubernetes object: no apiVersion and kind", doc.line)
    if not isinstance(kind, str) or not kind:
        raise UnknownKind(f"kind {kind!r} is not a name", doc.line_of("kind"))
    if kind.endswith("List") and isinstance(doc.get("items"), list):
        items = doc["items"]
        for at, item in zip(items.lines, items, strict=False):
            yield from facts_of(item, at)
        return
    if kind in _IGNORED_KINDS:
        return
    reader = _READERS.get(kind)
    if reader is None:
        raise UnknownKind(
            f"unknown kind {kind!r} (apiVersion {api!r}): not analysed", doc.line_of("kind")
        )
    yield from reader(_Object(doc, kind))


class _Object:
    """One object: where its facts go, under its kind, namespace and name."""

    def __init__(self, doc: YMap, kind: str) -> None:
        self.doc = doc
        self.kind = kind
        meta = doc.get("metadata")
        self.meta = meta if isinstance(meta, YMap) else YMap(doc.line)
        name, ns = self.meta.get("name"), self.meta.get("namespace")
        self.name = str(name if name is not None else self.meta.get("generateName") or "")
        self.namespace = str(ns) if ns is not None else None

    def fact(
        self, line: int, setting: str, value: Any, path: str, container: str | None = None
    ) -> Fact:
        text = None if value is None else _text(value)
        return (line, self.namespace, self.kind, self.name, container, setting, text, path)

    def head(self) -> Fact:
        return self.fact(self.doc.line_of("kind"), "object", self.doc.get("apiVersion"), "kind")

    def mapping(self, node: Any, setting: str, path: str) -> Iterator[Fact]:
        if isinstance(node, YMap):
            for key, value in node.items():
                if not isinstance(value, (dict, list)):
                    yield self.fact(node.line_of(key), f"{setting}:{key}", value, f"{path}.{key}")


def _text(value: Any) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return text[:MAX_VALUE]


def leaves(node: Any, path: str, line: int, budget: list[int]) -> Iterator[tuple[str, Any, int]]:
    """``(path, value, line)`` of every scalar under ``node`` (``a.b[0].c``)."""
    if isinstance(node, YMap):
        for key, value in node.items():
            yield from leaves(
                value, f"{path}.{key}" if path else str(key), node.line_of(key), budget
            )
    elif isinstance(node, YList):
        for index, (at, value) in enumerate(zip(node.lines, node, strict=False)):
            yield from leaves(value, f"{path}[{index}]", at, budget)
    else:
        budget[0] -= 1
        if budget[0] >= 0:
            yield path, node, line


def _spec_facts(obj: _Object, node: Any, setting: str, path: str) -> Iterator[Fact]:
    budget = [MAX_LEAVES]
    base = node.line if isinstance(node, (YMap, YList)) else obj.doc.line
    for sub, value, at in leaves(node, "", base, budget):
        yield obj.fact(at, f"{setting}:{sub}", value, f"{path}.{sub}" if sub else path)


def _workload(obj: _Object) -> Iterator[Fact]:
    yield obj.head()
    yield from obj.mapping(obj.meta.get("annotations"), "annotation", "metadata.annotations")
    owners = obj.meta.get("ownerReferences")
    if isinstance(owners, YList):  # `kubectl get all`: a Pod of a ReplicaSet of a Deployment
        for index, (at, owner) in enumerate(zip(owners.lines, owners, strict=False)):
            if isinstance(owner, YMap) and owner.get("kind") and owner.get("name"):
                value = f"{owner['kind']}/{owner['name']}"
                yield obj.fact(at, "owner", value, f"metadata.ownerReferences[{index}]")
    path: tuple[str, ...] = _TEMPLATE.get(obj.kind, ("spec", "template"))
    template: Any = obj.doc
    for key in path:
        template = template.get(key) if isinstance(template, YMap) else None
    if not isinstance(template, YMap):
        return
    where = ".".join(path)
    prefix = f"{where}." if where else ""
    pod_meta = template.get("metadata")
    if isinstance(pod_meta, YMap):
        yield from obj.mapping(pod_meta.get("labels"), "label", f"{prefix}metadata.labels")
        annotations = pod_meta.get("annotations")
        yield from obj.mapping(annotations, "pod-annotation", f"{prefix}metadata.annotations")
        if isinstance(annotations, YMap):
            yield from _proxy_config(obj, annotations, f"{prefix}metadata.annotations")
    spec = template.get("spec")
    if isinstance(spec, YMap):
        containers = spec.get("containers")
        if isinstance(containers, YList):
            for index, container in enumerate(containers):
                if isinstance(container, YMap):
                    yield from _container(obj, container, f"{prefix}spec.containers[{index}]")


def _proxy_config(obj: _Object, annotations: YMap, path: str) -> Iterator[Fact]:
    key = "proxy.istio.io/config"
    text = annotations.get(key)
    if not isinstance(text, str):
        return
    at, style = annotations.scalars.get(key, (annotations.line_of(key), None))
    config = parse_embedded(text, at, style)
    if isinstance(config, YMap):
        yield from _spec_facts(obj, config, "proxy-config", f"{path}[{key}]")


def _container(obj: _Object, container: YMap, path: str) -> Iterator[Fact]:
    name = str(container.get("name") or "")
    yield obj.fact(container.line_of("name"), "container", container.get("image"), path, name)
    env = container.get("env")
    if isinstance(env, YList):
        for index, (at, item) in enumerate(zip(env.lines, env, strict=False)):
            if not isinstance(item, YMap) or not isinstance(item.get("name"), str):
                continue
            var = item["name"]
            where = f"{path}.env[{index}]"
            if "value" in item:
                yield obj.fact(
                    item.line_of("value"), f"env:{var}", item["value"], f"{where}.value", name
                )
            elif isinstance(item.get("valueFrom"), YMap):
                ref = _value_from(item["valueFrom"])
                yield obj.fact(
                    item.line_of("valueFrom"), f"env-ref:{var}", ref, f"{where}.valueFrom", name
                )
            else:
                yield obj.fact(at, f"env:{var}", "", f"{where}.name", name)
    env_from = container.get("envFrom")
    if isinstance(env_from, YList):
        for index, (at, item) in enumerate(zip(env_from.lines, env_from, strict=False)):
            if not isinstance(item, YMap):
                continue
            for source in ("configMapRef", "secretRef"):
                ref = item.get(source)
                if isinstance(ref, YMap) and ref.get("name"):
                    value = f"{source}:{ref['name']}:{item.get('prefix') or ''}"
                    yield obj.fact(at, "env-from", value, f"{path}.envFrom[{index}]", name)


def _value_from(node: YMap) -> str:
    field = node.get("fieldRef")
    if isinstance(field, YMap):
        return f"fieldRef:{field.get('fieldPath')}"
    for source in ("configMapKeyRef", "secretKeyRef"):
        ref = node.get(source)
        if isinstance(ref, YMap):
            return f"{source}:{ref.get('name')}/{ref.get('key')}"
    return "other"


def _service(obj: _Object) -> Iterator[Fact]:
    yield obj.head()
    spec = obj.doc.get("spec")
    if isinstance(spec, YMap):
        yield from obj.mapping(spec.get("selector"), "selector", "spec.selector")


def _configmap(obj: _Object) -> Iterator[Fact]:
    yield obj.head()
    data = obj.doc.get("data")
    if not isinstance(data, YMap):
        return
    yield from obj.mapping(data, "data", "data")
    mesh = data.get("mesh")
    if isinstance(mesh, str) and obj.name.startswith(_ISTIO_MESH_CONFIGMAP):
        at, style = data.scalars.get("mesh", (data.line_of("mesh"), None))
        config = parse_embedded(mesh, at, style)
        yield obj.fact(data.line_of("mesh"), "mesh-config", "configmap", "data.mesh")
        if isinstance(config, YMap):
            yield from _spec_facts(obj, config, "mesh", "data.mesh")


def _namespace(obj: _Object) -> Iterator[Fact]:
    yield obj.head()
    yield from obj.mapping(obj.meta.get("labels"), "label", "metadata.labels")
    yield from obj.mapping(obj.meta.get("annotations"), "annotation", "metadata.annotations")


def _with_spec(obj: _Object) -> Iterator[Fact]:
    yield obj.head()
    yield from obj.mapping(obj.meta.get("annotations"), "annotation", "metadata.annotations")
    spec = obj.doc.get("spec")
    if spec is not None:
        yield from _spec_facts(obj, spec, "spec", "spec")


def _istio_operator(obj: _Object) -> Iterator[Fact]:
    yield obj.head()
    spec = obj.doc.get("spec")
    if not isinstance(spec, YMap):
        return
    if isinstance(spec.get("meshConfig"), YMap):
        yield obj.fact(
            spec.line_of("meshConfig"), "mesh-config", "IstioOperator", "spec.meshConfig"
        )
        yield from _spec_facts(obj, spec["meshConfig"], "mesh", "spec.meshConfig")
    if isinstance(spec.get("values"), YMap):
        yield from _spec_facts(obj, spec["values"], "values", "spec.values")


def _helm_values(doc: YMap) -> Iterator[Fact]:
    """Istio's Helm values (``helm install -f``): ``meshConfig`` and the charts' values."""
    obj = _Object(doc, "IstioHelmValues")
    yield obj.fact(doc.line, "object", None, "")
    for key, value in doc.items():
        if key == "meshConfig" and isinstance(value, YMap):
            yield obj.fact(doc.line_of(key), "mesh-config", "helm-values", "meshConfig")
            yield from _spec_facts(obj, value, "mesh", "meshConfig")
        elif key in ("pilot", "global") and isinstance(value, YMap):
            for sub, leaf, at in leaves(value, key, doc.line_of(key), [MAX_LEAVES]):
                yield obj.fact(at, f"values:{sub}", leaf, sub)


_READERS: dict[str, Callable[[_Object], Iterator[Fact]]] = {
    **dict.fromkeys(WORKLOAD_KINDS, _workload),
    **dict.fromkeys(_SPEC_KINDS, _with_spec),
    "Ingress": _with_spec,
    "Service": _service,
    "ConfigMap": _configmap,
    "Namespace": _namespace,
    "IstioOperator": _istio_operator,
}
