"""The cluster checks (K001-K009) on real manifests: clean ones give no error, copies with
one fault planted give the right code at the right line, with the workloads and a fix."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from tracehound.cli import main
from tracehound.doctor.checks._cluster_model import load_cluster
from tracehound.doctor.evidence.k8s import read_manifest
from tracehound.doctor.store import Store

MANIFESTS = Path(__file__).parents[1] / "evidence" / "k8s" / "manifests"


def _k8s(*paths: Path | str) -> tuple[int, dict]:  # type: ignore[type-arg]
    out = io.StringIO()
    code = main(["k8s", "--json", *map(str, paths)], out=out)
    return code, json.loads(out.getvalue())


def _plant(tmp_path: Path, name: str, old: str, new: str) -> tuple[Path, list[str]]:
    """A copy of the real manifest ``name`` with ``old`` (found once) replaced by ``new``."""
    text = (MANIFESTS / name).read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    planted = text.replace(old, new)
    target = tmp_path / name
    target.write_text(planted, encoding="utf-8")
    return target, planted.splitlines()


def _line_of(lines: list[str], marker: str) -> int:
    [number] = [n for n, line in enumerate(lines, 1) if marker in line]
    return number


def test_real_manifests_give_no_error_except_the_sampling_istio_ships_at_zero() -> None:
    code, report = _k8s(MANIFESTS)
    assert report["errors"] == []
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    # Istio's own OpenTelemetry sample ships `randomSamplingPercentage: 0` ("tracing is
    # still not enabled because of 0 sampling percentage", its README says)
    assert [(f["code"], f["location"]) for f in errors] == [
        ("K002", f"{MANIFESTS / 'istio-otel-tracing-telemetry.yaml'}:9")
    ]
    assert code == 1
    clean = [p for p in MANIFESTS.glob("*.yaml") if "otel-tracing-telemetry" not in p.name]
    code, report = _k8s(*clean)
    assert not [f for f in report["findings"] if f["severity"] == "error"]
    assert code == 0


def test_the_opentelemetry_demo_is_clean_and_its_calls_are_seen() -> None:
    code, report = _k8s(MANIFESTS / "opentelemetry-demo.yaml")
    assert (code, report["findings"], report["objects"]) == (0, [], 39)
    store = Store()
    try:
        store.begin_source("demo")
        read_manifest((MANIFESTS / "opentelemetry-demo.yaml").read_bytes(), store)
        store.finish()
        cluster = load_cluster(store)
    finally:
        store.close()
    calls = {(a.obj.name, b.obj.name): fact.value for a, b, fact in cluster.calls()}
    assert calls[("checkout", "payment")] == "payment:8080"
    assert calls[("checkout", "email")] == "http://email:8080"
    assert ("accounting", "postgresql") not in calls  # a connection string, not an address
    assert len(calls) == 34
    # OTEL_SERVICE_NAME comes from the pod label app.kubernetes.io/component
    checkout = next(w for w in cluster.workloads if w.obj.name == "checkout")
    assert checkout.names[0] == "checkout" and checkout.otel


DEMO = "opentelemetry-demo.yaml"
PAYMENT_ENV = "            - name: PAYMENT_PORT\n"


@pytest.mark.parametrize(
    ("name", "old", "new", "marker", "code", "workloads"),
    [
        (
            DEMO,
            PAYMENT_ENV,
            "            - name: OTEL_PROPAGATORS\n              value: b3\n" + PAYMENT_ENV,
            "value: b3",
            "K001",
            {"checkout", "payment", "flagd"},
        ),
        (
            DEMO,
            PAYMENT_ENV,
            "            - name: OTEL_TRACES_SAMPLER\n              value: always_off\n"
            + PAYMENT_ENV,
            "value: always_off",
            "K002",
            {"payment"},
        ),
        (
            DEMO,
            PAYMENT_ENV,
            "            - name: OTEL_TRACES_EXPORTER\n              value: none\n" + PAYMENT_ENV,
            "value: none",
            "K008",
            {"payment"},
        ),
        (
            "ingress-nginx-otel-configmap.yaml",
            'opentelemetry-trust-incoming-span: "true"',
            'opentelemetry-trust-incoming-span: "false"',
            "trust-incoming-span",
            "K003",
            set(),
        ),
        (
            "ingress-nginx-otel-configmap.yaml",
            'otel-sampler: "AlwaysOn"',
            'otel-sampler: "AlwaysOff"',
            "AlwaysOff",
            "K002",
            set(),
        ),
        (
            "ingress-nginx-otel-configmap.yaml",
            '  otel-sampler-parent-based: "false"\n',
            '  otel-sampler-parent-based: "false"\n  http-snippet: "otel_trace_context ignore;"\n',
            "http-snippet",
            "K003",
            set(),
        ),
        (
            "istio-helm-profile-demo.yaml",
            "traceSampling: 100",
            "traceSampling: 0",
            "traceSampling",
            "K002",
            set(),
        ),
        (
            "istio-telemetry-otel-tracing-100.yaml",
            "randomSamplingPercentage: 100.0",
            "randomSamplingPercentage: 0.0",
            "randomSamplingPercentage",
            "K002",
            set(),
        ),
        (
            "istio-telemetry-otel-tracing-100.yaml",
            "  tracing:\n",
            "  tracing:\n  - disableContextPropagation: true\n",
            "disableContextPropagation",
            "K003",
            set(),
        ),
        (
            "istio-bookinfo-virtual-service-all-v1.yaml",
            "  - route:\n    - destination:\n        host: reviews\n",
            "  - headers:\n      request:\n        remove:\n        - traceparent\n"
            "    route:\n    - destination:\n        host: reviews\n",
            "- traceparent",
            "K003",
            set(),
        ),
        (
            "istio-configmap-mesh.yaml",
            "    enablePrometheusMerge: true\n",
            "    enablePrometheusMerge: true\n    enableTracing: false\n",
            "enableTracing",
            "K002",
            set(),
        ),
        (
            "envoy-gateway-tracing.yaml",
            "samplingRate: 100",
            "samplingRate: 0",
            "samplingRate",
            "K002",
            set(),
        ),
        (
            "otel-operator-python-app.yaml",
            "  name: my-python\nspec:\n",
            "  name: my-python\n  annotations:\n"
            '    sidecar.opentelemetry.io/inject: "true"\nspec:\n',
            "sidecar.opentelemetry.io/inject",
            "K006",
            {"my-python"},
        ),
    ],
)
def test_one_planted_fault_gives_its_code_at_its_line(
    tmp_path: Path, name: str, old: str, new: str, marker: str, code: str, workloads: set[str]
) -> None:
    path, lines = _plant(tmp_path, name, old, new)
    _, report = _k8s(path)
    assert report["errors"] == []
    found = [(f["code"], f["location"]) for f in report["findings"] if f["severity"] == "error"]
    assert found == [(code, f"{path}:{_line_of(lines, marker)}")] or code[1:] >= "004"
    [finding] = [f for f in report["findings"] if f["code"] == code]
    assert finding["location"] == f"{path}:{_line_of(lines, marker)}"
    assert set(finding["details"]["workloads"]) == workloads
    assert yaml.safe_load(finding["details"]["fix_yaml"]) is not None or code == "K003"


def test_misplaced_inject_annotation_with_its_instrumentation(tmp_path: Path) -> None:
    app, lines = _plant(
        tmp_path,
        "otel-operator-python-app.yaml",
        '      annotations:\n        instrumentation.opentelemetry.io/inject-python: "true"\n',
        "",
    )
    moved = "\n".join(lines).replace(
        "  name: my-python\nspec:",
        "  name: my-python\n  annotations:\n"
        '    instrumentation.opentelemetry.io/inject-python: "true"\nspec:',
    )
    app.write_text(moved, encoding="utf-8")
    _, report = _k8s(app, MANIFESTS / "otel-operator-instrumentation-python.yaml")
    found = [f for f in report["findings"] if f["code"] != "K007"]  # see the K007 test
    [finding] = found
    assert finding["code"] == "K006"
    assert finding["location"] == f"{app}:{_line_of(moved.splitlines(), 'inject-python')}"
    fix = yaml.safe_load(finding["details"]["fix_yaml"])
    assert fix["spec"]["template"]["metadata"]["annotations"] == {
        "instrumentation.opentelemetry.io/inject-python": "true"
    }


def test_container_env_overriding_the_instrumentation(tmp_path: Path) -> None:
    app, lines = _plant(
        tmp_path,
        "otel-operator-python-app.yaml",
        "        image: ($APP_IMAGE)\n",
        "        image: ($APP_IMAGE)\n        env:\n        - name: OTEL_PROPAGATORS\n"
        "          value: tracecontext\n",
    )
    instrumentation = MANIFESTS / "otel-operator-instrumentation-python.yaml"
    _, report = _k8s(app, instrumentation)
    by_place = {f["location"]: f for f in report["findings"]}
    assert {f["code"] for f in by_place.values()} == {"K007"}
    finding = by_place[f"{app}:{_line_of(lines, 'value: tracecontext')}"]
    assert "jaeger,b3" in finding["message"]
    # the resource's own spec.env sets OTEL_TRACES_SAMPLER: its spec.sampler never applies
    own = by_place[f"{instrumentation}:10"]
    assert "parentbased_traceidratio" in own["message"]
    assert set(by_place) == {f"{app}:{_line_of(lines, 'value: tracecontext')}", own["location"]}


def test_low_mesh_sampling_with_parent_based_apps(tmp_path: Path) -> None:
    telemetry, lines = _plant(
        tmp_path,
        "istio-telemetry-otel-tracing-100.yaml",
        "randomSamplingPercentage: 100.0",
        "randomSamplingPercentage: 1.0",
    )
    _, report = _k8s(telemetry, MANIFESTS / DEMO)
    [finding] = report["findings"]
    assert finding["code"] == "K009" and finding["severity"] == "warning"
    assert finding["location"] == f"{telemetry}:{_line_of(lines, 'randomSamplingPercentage')}"
    assert "1 %" in finding["message"] and "990 of every 1,000" in finding["message"]
    assert {"checkout", "payment"} <= set(finding["details"]["workloads"])
    # the Operator's python sample samples always_on (its spec.env beats its spec.sampler)
    _, report = _k8s(
        telemetry,
        MANIFESTS / "otel-operator-python-app.yaml",
        MANIFESTS / "otel-operator-instrumentation-python.yaml",
    )
    assert "K009" not in [f["code"] for f in report["findings"]]


def test_zipkin_provider_on_b3_beside_w3c_only_apps(tmp_path: Path) -> None:
    mesh, lines = _plant(
        tmp_path,
        "istio-configmap-mesh.yaml",
        "    defaultProviders:\n      metrics:\n      - prometheus\n",
        "    defaultProviders:\n      metrics:\n      - prometheus\n"
        "      tracing:\n      - zipkin\n"
        "    extensionProviders:\n    - name: zipkin\n      zipkin:\n"
        "        service: zipkin.istio-system.svc.cluster.local\n        port: 9411\n",
    )
    _, report = _k8s(mesh, MANIFESTS / "opentelemetry-demo.yaml")
    [finding] = report["findings"]
    assert finding["code"] == "K005"
    assert finding["location"] == f"{mesh}:{_line_of(lines, 'service: zipkin.')}"
    assert "checkout" in finding["details"]["workloads"]
    fix = yaml.safe_load(finding["details"]["fix_yaml"])
    assert fix["meshConfig"]["extensionProviders"][0]["zipkin"] == {
        "traceContextOption": "USE_B3_WITH_W3C"
    }


def test_bad_input_is_an_error_with_file_and_line_never_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: [a\n", encoding="utf-8")
    out = io.StringIO()
    assert main(["k8s", str(bad)], out=out) == 2
    err = capsys.readouterr().err
    assert f"{bad}:5:1: not valid YAML" in err and "Traceback" not in err
    assert main(["k8s", str(tmp_path / "missing.yaml")], out=out) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_the_terminal_report_names_place_workloads_and_fix() -> None:
    out = io.StringIO()
    code = main(["k8s", str(MANIFESTS / "istio-otel-tracing-telemetry.yaml")], out=out)
    text = out.getvalue()
    assert code == 1
    assert (
        "K002 sampling-disabled (error) at" in text
        and "istio-otel-tracing-telemetry.yaml:9" in text
    )
    assert "randomSamplingPercentage: 100" in text


ENV_FROM = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: otel, namespace: shop}
data:
  OTEL_PROPAGATORS: b3multi
---
apiVersion: v1
kind: Service
metadata: {name: payments, namespace: shop}
spec:
  selector: {app: payments}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: payments, namespace: shop}
spec:
  jobTemplate:
    spec:
      template:
        metadata:
          labels: {app: payments}
        spec:
          containers:
            - name: job
              image: payments:1
              envFrom:
                - configMapRef: {name: otel}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: orders, namespace: shop}
spec:
  template:
    metadata:
      labels: {app: orders}
    spec:
      containers:
        - name: orders
          image: orders:1
          env:
            - name: OTEL_SERVICE_NAME
              value: orders
            - name: PAYMENTS_URL
              value: http://payments.shop.svc.cluster.local:8080/charge
"""


def test_env_from_a_configmap_and_a_url_to_a_service(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(ENV_FROM, encoding="utf-8")
    _, report = _k8s(path)
    [finding] = report["findings"]
    assert finding["code"] == "K001"
    assert finding["location"] == f"{path}:5"  # the ConfigMap's key the CronJob reads
    assert (
        "orders sends W3C" in finding["message"] and "payments reads only B3" in finding["message"]
    )
    assert finding["details"]["pairs"] == [["orders", "payments"]]
    fix = yaml.safe_load(finding["details"]["fix_yaml"])
    assert fix == {"data": {"OTEL_PROPAGATORS": "b3multi,tracecontext,baggage"}}
    # the same as JSON (`kubectl get -o json`): JSON is YAML, the lines are kept
    docs = list(yaml.safe_load_all(ENV_FROM))
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}, indent=1))
    _, report = _k8s(dump)
    [finding] = report["findings"]
    assert finding["code"] == "K001"
    line = dump.read_text().splitlines()[int(finding["location"].rsplit(":", 1)[1]) - 1]
    assert '"OTEL_PROPAGATORS": "b3multi"' in line


def test_a_namespace_annotation_injects_the_instrumentation(tmp_path: Path) -> None:
    namespace = tmp_path / "ns.yaml"
    namespace.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n  annotations:\n"
        '    instrumentation.opentelemetry.io/inject-python: "true"\n',
        encoding="utf-8",
    )
    app, _ = _plant(
        tmp_path,
        "otel-operator-python-app.yaml",
        '        instrumentation.opentelemetry.io/inject-python: "true"\n',
        "        other: x\n",
    )
    text = app.read_text(encoding="utf-8").replace(
        "  name: my-python\n", "  name: my-python\n  namespace: apps\n", 1
    )
    text += "        env:\n        - name: OTEL_TRACES_SAMPLER\n          value: always_on\n"
    app.write_text(text, encoding="utf-8")
    instrumentation = tmp_path / "instrumentation.yaml"
    instrumentation.write_text(
        (MANIFESTS / "otel-operator-instrumentation-python.yaml")
        .read_text(encoding="utf-8")
        .replace("  name: python\n", "  name: python\n  namespace: apps\n"),
        encoding="utf-8",
    )
    _, report = _k8s(namespace, app, instrumentation)
    codes = {f["code"]: f for f in report["findings"]}
    assert set(codes) == {"K007"}  # only the resource's own env beating its sampler
    assert codes["K007"]["details"]["workloads"] == ["my-python"]  # injected via the Namespace


def test_the_operators_sampler_at_zero(tmp_path: Path) -> None:
    text = (MANIFESTS / "otel-operator-instrumentation-python.yaml").read_text(encoding="utf-8")
    # without the resource's own env override (see the K007 test), its sampler applies
    text = text.replace("    - name: OTEL_TRACES_SAMPLER\n      value: always_on\n", "")
    planted = text.replace('argument: "0.25"', 'argument: "0"')
    instrumentation = tmp_path / "instrumentation.yaml"
    instrumentation.write_text(planted, encoding="utf-8")
    _, report = _k8s(instrumentation, MANIFESTS / "otel-operator-python-app.yaml")
    [finding] = report["findings"]
    assert finding["code"] == "K002"
    line = _line_of(planted.splitlines(), 'argument: "0"')
    assert finding["location"] == f"{instrumentation}:{line}"
    assert finding["details"]["workloads"] == ["my-python"]
    fix = yaml.safe_load(finding["details"]["fix_yaml"])
    assert fix == {
        "spec": {"sampler": {"type": "parentbased_traceidratio", "argument": "1"}}
    }  # a string in the CRD


def test_k8s_reads_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (MANIFESTS / "istio-otel-tracing-telemetry.yaml").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, report = _k8s("-")
    assert code == 1
    assert [(f["code"], f["location"]) for f in report["findings"]] == [("K002", "<stdin>:9")]


INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: bookinfo
  annotations:
    nginx.ingress.kubernetes.io/enable-opentelemetry: "true"
    nginx.ingress.kubernetes.io/opentelemetry-trust-incoming-span: "false"
spec:
  rules:
    - http:
        paths:
          - path: /productpage
            pathType: Prefix
            backend:
              service:
                name: productpage
                port: {number: 9080}
"""


def test_an_ingress_that_distrusts_incoming_spans_names_its_backends(tmp_path: Path) -> None:
    ingress = tmp_path / "ingress.yaml"
    ingress.write_text(INGRESS, encoding="utf-8")
    _, report = _k8s(ingress, MANIFESTS / "istio-bookinfo.yaml")
    [finding] = report["findings"]
    assert (finding["code"], finding["location"]) == ("K003", f"{ingress}:7")
    assert finding["details"]["workloads"] == ["productpage-v1"]
    fix = yaml.safe_load(finding["details"]["fix_yaml"])
    assert fix["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/opentelemetry-trust-incoming-span": "true"
    }


OWNED = """\
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web, namespace: a}
  spec:
    template:
      metadata: {labels: {app: web}}
      spec:
        containers:
        - name: web
          image: web
          env:
          - {name: OTEL_TRACES_EXPORTER, value: none}
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata:
    name: web-5d8f
    namespace: a
    ownerReferences:
    - {apiVersion: apps/v1, kind: Deployment, name: web, uid: x}
  spec:
    template:
      metadata: {labels: {app: web}}
      spec:
        containers:
        - name: web
          image: web
          env:
          - {name: OTEL_TRACES_EXPORTER, value: none}
- apiVersion: v1
  kind: Pod
  metadata:
    name: web-5d8f-x1
    namespace: a
    labels: {app: web}
    ownerReferences:
    - {apiVersion: apps/v1, kind: ReplicaSet, name: web-5d8f, uid: y}
  spec:
    containers:
    - name: web
      image: web
      env:
      - {name: OTEL_TRACES_EXPORTER, value: none}
"""


def test_a_kubectl_get_all_dump_reports_a_deployment_once_not_its_replicaset_and_pod(
    tmp_path: Path,
) -> None:
    dump = tmp_path / "all.yaml"
    dump.write_text(OWNED, encoding="utf-8")
    _, report = _k8s(dump)
    assert report["objects"] == 3
    [finding] = report["findings"]
    assert (finding["code"], finding["location"]) == ("K008", f"{dump}:15")
    assert finding["details"]["workloads"] == ["web"]


def test_proxy_sampling_zero_means_unset_and_istio_falls_back_to_one_percent(
    tmp_path: Path,
) -> None:
    mesh, lines = _plant(
        tmp_path,
        "istio-configmap-mesh.yaml",
        "      discoveryAddress: istiod.istio-system.svc:15012\n",
        "      discoveryAddress: istiod.istio-system.svc:15012\n"
        "      tracing:\n        sampling: 0\n",
    )
    _, report = _k8s(mesh, MANIFESTS / DEMO, MANIFESTS / "istio-telemetry-otel-tracing-100.yaml")
    assert [f["code"] for f in report["findings"]] == []  # the Telemetry's 100 % applies
    _, report = _k8s(mesh, MANIFESTS / DEMO)
    assert [f["code"] for f in report["findings"]] == ["K004"]  # no provider: no sampling
    telemetry, _ = _plant(
        tmp_path,
        "istio-telemetry-otel-tracing-100.yaml",
        "    randomSamplingPercentage: 100.0\n",
        "",
    )
    _, report = _k8s(mesh, MANIFESTS / DEMO, telemetry)
    codes = {f["code"]: f for f in report["findings"]}
    assert set(codes) == {"K009"}  # 0 there is "unset", not "off" (istio tracing.go)
    k009 = codes["K009"]
    assert k009["location"] == f"{mesh}:{_line_of(lines, 'sampling: 0')}"
    assert k009["message"].startswith("0 is read as unset: the mesh samples 1 %")


def test_pilot_sampling_zero_matters_only_where_no_telemetry_sets_a_percentage(
    tmp_path: Path,
) -> None:
    values, _ = _plant(
        tmp_path, "istio-helm-profile-demo.yaml", "traceSampling: 100", "traceSampling: 0"
    )
    telemetry = MANIFESTS / "istio-telemetry-otel-tracing-100.yaml"
    _, report = _k8s(values, telemetry, MANIFESTS / DEMO)
    assert [f["code"] for f in report["findings"]] == []
    _, report = _k8s(values, MANIFESTS / DEMO)
    [k002] = [f for f in report["findings"] if f["code"] == "K002"]
    assert "checkout" in k002["details"]["workloads"]
