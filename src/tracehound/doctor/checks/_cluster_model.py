"""What runs in the cluster, rebuilt from the configuration facts of the manifests.

Workloads with their containers' effective tracing environment (the container's
``env``, then ``envFrom`` ConfigMaps in the input, then the OpenTelemetry
Operator's ``Instrumentation`` it is injected with: the Operator never
overrides a variable the container sets), their OTel service names, the
Services that select them and the calls the manifests name (``*_ADDR`` and URL
values that point at a Service).  Every value keeps the fact it came from, so a
finding can name the file and line.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from dataclasses import dataclass, field

from tracehound.doctor.evidence.k8s import TABLE
from tracehound.doctor.store import Store

__all__ = [
    "OTEL_DEFAULTS",
    "Cluster",
    "Fact",
    "Obj",
    "Value",
    "Workload",
    "group",
    "instrumentation_env",
    "load_cluster",
]

OTEL_DEFAULTS = {
    "OTEL_PROPAGATORS": "tracecontext,baggage",
    "OTEL_TRACES_SAMPLER": "parentbased_always_on",
}
"""What an OpenTelemetry SDK uses when the variable is not set (the specification's defaults)."""

INJECT = "instrumentation.opentelemetry.io/inject-"
_LANG_ENV = {"apache-httpd": "apacheHttpd", "nodejs": "nodejs", "dotnet": "dotnet"}
_FIELD_LABEL = re.compile(r"""fieldRef:metadata\.labels\[['"]([^'"]+)['"]\]""")
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
_HOST = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/\s]*@)?([a-z0-9]([a-z0-9-]*[a-z0-9])?)"
    r"(?:\.([a-z0-9-]+))?(?:\.svc(?:\.[a-z0-9.-]+)?)?(?::\d+)?(?:[/?#].*)?$"
)


@dataclass(frozen=True)
class Fact:
    """One row of the facts table."""

    source: str
    line: int
    namespace: str | None
    kind: str
    name: str
    container: str | None
    setting: str
    value: str | None
    key_path: str

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass(eq=False)
class Obj:
    """One object of the input and its facts."""

    kind: str
    namespace: str | None
    name: str
    facts: list[Fact] = field(default_factory=list)

    @property
    def head(self) -> Fact:
        return self.facts[0]

    @property
    def label(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name}" if self.name else self.kind

    def get(self, setting: str) -> Fact | None:
        return next((f for f in self.facts if f.setting == setting), None)

    def with_prefix(self, prefix: str) -> list[Fact]:
        return [f for f in self.facts if f.setting.startswith(prefix)]

    def mapping(self, prefix: str) -> dict[str, Fact]:
        return {f.setting[len(prefix) :]: f for f in self.facts if f.setting.startswith(prefix)}


@dataclass(frozen=True)
class Value:
    """An effective setting: its value, the fact that set it (None: the SDK's default),
    and where it came from in words."""

    value: str
    fact: Fact | None
    origin: str


@dataclass(eq=False)
class Workload:
    obj: Obj
    labels: dict[str, str]
    pod_annotations: dict[str, Fact]
    env: dict[str, Value]
    """The first container's environment as the Operator leaves it."""
    container_env: dict[str, Fact]
    """What the container itself sets (``env`` and ``envFrom``)."""
    instrumentation: Obj | None = None
    language: str | None = None
    """The language of the Operator's inject annotation (``python``, ``java``, ...)."""
    names: tuple[str, ...] = ()
    """OTel service name first, then the other names spans may use for it."""

    @property
    def label(self) -> str:
        return self.names[0] if self.names else self.obj.name

    @property
    def otel(self) -> bool:
        """Whether the workload is configured for OpenTelemetry at all."""
        return self.instrumentation is not None or any(
            k.startswith("OTEL_") for k in self.container_env
        )

    def setting(self, name: str) -> Value | None:
        found = self.env.get(name)
        if found is not None:
            return found
        if name in OTEL_DEFAULTS and self.otel:
            return Value(OTEL_DEFAULTS[name], None, "the OpenTelemetry SDK's default")
        return None


@dataclass(eq=False)
class Cluster:
    objects: list[Obj]
    workloads: list[Workload]
    _kinds: dict[str, list[Obj]] = field(default_factory=dict, repr=False)
    _labelled: dict[tuple[str, str], list[Workload]] = field(default_factory=dict, repr=False)
    _selected: dict[int, list[Workload]] = field(default_factory=dict, repr=False)
    _services: dict[str, list[Obj]] = field(default_factory=dict, repr=False)

    def of_kind(self, *kinds: str) -> list[Obj]:
        if not self._kinds and self.objects:
            for obj in self.objects:
                self._kinds.setdefault(obj.kind, []).append(obj)
        return [o for kind in kinds for o in self._kinds.get(kind, ())]

    def in_scope(
        self, namespace: str | None, selector: dict[str, str] | None = None
    ) -> list[Workload]:
        """Workloads in ``namespace`` (None: all) whose pod labels match ``selector``."""
        candidates = self.workloads
        if selector:
            if not self._labelled:  # an index: a cluster has thousands of workloads
                for w in self.workloads:
                    for item in w.labels.items():
                        self._labelled.setdefault(item, []).append(w)
            candidates = self._labelled.get(next(iter(selector.items())), [])
        return [
            w
            for w in candidates
            if _same_namespace(namespace, w.obj.namespace)
            and all(w.labels.get(k) == v for k, v in (selector or {}).items())
        ]

    def selected_by(self, service: Obj) -> list[Workload]:
        found = self._selected.get(id(service))
        if found is None:
            selector = {k: f.value or "" for k, f in service.mapping("selector:").items()}
            found = self.in_scope(service.namespace, selector) if selector else []
            self._selected[id(service)] = found
        return found

    def service_named(self, host: str, namespace: str | None, near: str | None) -> Obj | None:
        found = [
            s
            for s in self.services(host)
            if namespace is None or _same_namespace(namespace, s.namespace)
        ]
        return next((s for s in found if s.namespace == near), found[0] if found else None)

    def services(self, name: str) -> list[Obj]:
        """The Services of that name (in any namespace)."""
        if not self._services:
            for service in self.of_kind("Service"):
                self._services.setdefault(service.name, []).append(service)
        return self._services.get(name, [])

    def calls(self) -> list[tuple[Workload, Workload, Fact]]:
        """(caller, callee, the env fact naming the callee's Service) the manifests show."""
        found = []
        seen: set[tuple[int, int]] = set()
        for caller in self.workloads:
            for name, fact in caller.container_env.items():
                if name.startswith("OTEL_") or not fact.value:
                    continue
                match = _HOST.match(_expand(fact.value.strip(), caller.container_env).lower())
                if match is None:
                    continue
                service = self.service_named(match[1], match[3], caller.obj.namespace)
                if service is None:
                    continue
                for callee in self.selected_by(service):
                    key = (id(caller), id(callee))
                    if callee is not caller and key not in seen:
                        seen.add(key)
                        found.append((caller, callee, fact))
        return found

    def by_name(self, service: str) -> Workload | None:
        """The workload a span's service name stands for."""
        for position in (0, None):
            for w in self.workloads:
                if (w.names[:1] if position == 0 else w.names).count(service):
                    return w
        return None


def _same_namespace(a: str | None, b: str | None) -> bool:
    """Namespaces match; one not written in the manifest (applied with ``-n``) matches any."""
    return a is None or b is None or a == b


def _expand(text: str, env: dict[str, Fact]) -> str:
    """``$(VAR)`` replaced by the container's variable, as the kubelet does."""
    return _VAR.sub(lambda m: (env[m[1]].value or "") if m[1] in env else m[0], text)


def load_cluster(store: Store) -> Cluster:
    """The cluster the facts table describes (empty when no manifest was read)."""
    current: dict[tuple[str, str, str | None, str], Obj] = {}
    all_objects: list[Obj] = []
    for row in store.query(
        f"""SELECT Source, Line, Namespace, Kind, Name, Container, Setting, Value, KeyPath
            FROM {TABLE} ORDER BY rowid"""
    ):
        fact = Fact(*row)
        key = (fact.source, fact.kind, fact.namespace, fact.name)
        obj = current.get(key)
        if obj is None or fact.setting == "object":  # every object's facts start so
            obj = current[key] = Obj(fact.kind, fact.namespace, fact.name)
            all_objects.append(obj)
        obj.facts.append(fact)
    cluster = Cluster(all_objects, [])
    configmaps = {(o.namespace, o.name): o for o in cluster.of_kind("ConfigMap")}
    present = {(o.kind, o.namespace, o.name) for o in all_objects}
    for obj in all_objects:
        owners = [f.value or "" for f in obj.facts if f.setting == "owner"]
        if obj.kind in _WORKLOAD_KINDS and not any(
            (*o.split("/", 1)[:1], obj.namespace, o.split("/", 1)[-1]) in present for o in owners
        ):  # a Pod or ReplicaSet whose owner is in the input is that owner's
            cluster.workloads.append(_workload(obj, configmaps, cluster))
    return cluster


_WORKLOAD_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "Rollout"}
)


def _workload(
    obj: Obj, configmaps: dict[tuple[str | None, str], Obj], cluster: Cluster
) -> Workload:
    labels = {k: f.value or "" for k, f in obj.mapping("label:").items()}
    first = next((f.container for f in obj.facts if f.setting == "container"), None)
    env: dict[str, Fact] = {}
    for fact in obj.facts:
        if fact.container != first:
            continue
        if fact.setting == "env-from" and fact.value and fact.value.startswith("configMapRef:"):
            _, name, prefix = fact.value.split(":", 2)
            cm = configmaps.get((obj.namespace, name)) or next(
                (c for (ns, n), c in configmaps.items() if n == name), None
            )
            for key, data in (cm.mapping("data:") if cm else {}).items():
                env.setdefault(prefix + key, data)  # `env` entries below win
        elif fact.setting.startswith(("env:", "env-ref:")):
            name = fact.setting.split(":", 1)[1]
            env[name] = _resolved(fact, labels)
    workload = Workload(obj, labels, obj.mapping("pod-annotation:"), {}, env)
    workload.env = {
        k: Value(_expand(f.value or "", env), f, "the container's env") for k, f in env.items()
    }
    workload.instrumentation, lang = _injected(workload, cluster)
    workload.language = lang
    if workload.instrumentation is not None:
        for name, value in instrumentation_env(workload.instrumentation, lang).items():
            workload.env.setdefault(name, value)
    workload.names = _names(workload)
    return workload


def _resolved(fact: Fact, labels: dict[str, str]) -> Fact:
    """A ``valueFrom`` reference to a pod label, as the value it gives."""
    if fact.setting.startswith("env-ref:"):
        match = _FIELD_LABEL.fullmatch(fact.value or "")
        value = labels.get(match[1]) if match else None
        return dataclasses.replace(fact, setting="env:" + fact.setting[8:], value=value)
    return fact


def _injected(workload: Workload, cluster: Cluster) -> tuple[Obj | None, str | None]:
    """The Instrumentation the Operator injects into the workload's pods, and the language."""
    annotations = {k: f.value for k, f in workload.pod_annotations.items()}
    if not any(k.startswith(INJECT) for k in annotations):
        for ns in cluster.of_kind("Namespace"):
            if ns.name == workload.obj.namespace:
                annotations = {k: f.value for k, f in ns.mapping("annotation:").items()}
    for key, value in annotations.items():
        if not key.startswith(INJECT) or (value or "").lower() == "false":
            continue
        lang = key[len(INJECT) :]
        found = _instrumentation(cluster, workload.obj.namespace, value or "")
        if found is not None:
            return found, lang
    return None, None


def _instrumentation(cluster: Cluster, namespace: str | None, value: str) -> Obj | None:
    candidates = cluster.of_kind("Instrumentation")
    if value.lower() != "true":
        ns, _, name = value.rpartition("/")
        candidates = [c for c in candidates if c.name == name and (not ns or ns == c.namespace)]
    here = [c for c in candidates if _same_namespace(namespace, c.namespace)]
    return here[0] if len(here) >= 1 else None


def instrumentation_env(obj: Obj, lang: str | None) -> dict[str, Value]:
    """What an Instrumentation sets: the language's ``env``, then ``env``, then its
    propagators and sampler (the Operator adds each only where none is set yet)."""
    found: dict[str, Value] = {}
    origin = f"Instrumentation {obj.name}"
    prefixes = [f"spec:{_LANG_ENV.get(lang or '', lang)}.env[", "spec:env["]
    for prefix in prefixes:
        names = {
            f.setting[len(prefix) :].split("]", 1)[0]: f.value
            for f in obj.facts
            if f.setting.startswith(prefix) and f.setting.endswith("].name")
        }
        for index, name in names.items():
            fact = obj.get(f"{prefix}{index}].value")
            if name and fact is not None:
                found.setdefault(name, Value(fact.value or "", fact, origin))
    propagators = [f for f in obj.facts if f.setting.startswith("spec:propagators[")]
    if propagators:
        value = ",".join(f.value or "" for f in propagators)
        found.setdefault("OTEL_PROPAGATORS", Value(value, propagators[0], origin))
    for setting, name in _SPEC_ENV:
        fact = obj.get(setting)
        if fact is not None:
            found.setdefault(name, Value(fact.value or "", fact, origin))
    return found


_SPEC_ENV = (
    ("spec:sampler.type", "OTEL_TRACES_SAMPLER"),
    ("spec:sampler.argument", "OTEL_TRACES_SAMPLER_ARG"),
    ("spec:exporter.endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT"),
)


def _names(workload: Workload) -> tuple[str, ...]:
    names: list[str] = []
    service = workload.env.get("OTEL_SERVICE_NAME")
    if service is not None and service.value and "$(" not in service.value:
        names.append(service.value)
    attributes = workload.env.get("OTEL_RESOURCE_ATTRIBUTES")
    for item in (attributes.value if attributes else "").split(","):
        key, _, value = item.partition("=")
        if key.strip() == "service.name" and value.strip() and "$(" not in value:
            names.append(value.strip())
    for key in ("app.kubernetes.io/name", "app"):
        if workload.labels.get(key):
            names.append(workload.labels[key])
    names.append(workload.obj.name)
    return tuple(dict.fromkeys(names))


def group(items: list[tuple[Fact | None, Workload]]) -> dict[Fact | None, list[Workload]]:
    """Workloads by the fact that affects them (one finding per place in a file)."""
    found: dict[Fact | None, list[Workload]] = defaultdict(list)
    for fact, workload in items:
        if workload not in found[fact]:
            found[fact].append(workload)
    return found
