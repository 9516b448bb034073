"""Kubernetes manifests as configuration facts: real files from other projects, their lines,
and bad input (bad YAML, unknown kinds, huge files) as errors naming the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracehound.doctor.evidence.k8s import MAX_MANIFEST, looks_like_manifest, read_manifest

MANIFESTS = Path(__file__).parent / "manifests"
REAL = sorted(MANIFESTS.glob("*.yaml"))


class _Sink:
    def __init__(self) -> None:
        self.rows: list[tuple[object, ...]] = []

    def add_evidence(self, table: str, row: tuple[object, ...]) -> None:
        self.rows.append(row)


def _read(text: str | bytes) -> tuple[list[tuple[object, ...]], object]:
    sink = _Sink()
    data = text.encode() if isinstance(text, str) else text
    return sink.rows, read_manifest(data, sink)


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_real_manifests_read_without_errors_and_are_recognised(path: Path) -> None:
    data = path.read_bytes()
    assert looks_like_manifest(data[:8192])
    rows, read = _read(data)
    assert read.errors == []
    assert read.objects >= 1 and rows


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_every_fact_names_the_line_of_its_key(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    rows, _ = _read(path.read_bytes())
    for line, _ns, _kind, _name, _container, setting, value, key_path in rows:
        text = lines[int(line) - 1]  # type: ignore[call-overload]
        key = str(key_path).rsplit(".", 1)[-1].split("[")[0]
        if setting == "object":
            assert text.startswith("kind:") or key_path == ""
        elif str(setting).startswith(("env:", "env-ref:")):
            assert "value" in text, (line, text)
        elif "[" not in str(key_path).rsplit(".", 1)[-1] and value is not None:
            assert key.split("/")[-1] in text, (line, key, text)


def test_the_demo_workloads_env_and_labels() -> None:
    rows, _ = _read((MANIFESTS / "opentelemetry-demo.yaml").read_bytes())
    checkout = {r[5]: r for r in rows if r[3] == "checkout" and r[2] == "Deployment"}
    assert checkout["env:PAYMENT_ADDR"][6] == "payment:8080"
    assert checkout["env-ref:OTEL_SERVICE_NAME"][6] == (
        "fieldRef:metadata.labels['app.kubernetes.io/component']"
    )
    assert checkout["label:app.kubernetes.io/component"][6] == "checkout"


def test_istio_mesh_config_inside_the_configmap_keeps_the_file_lines() -> None:
    path = MANIFESTS / "istio-configmap-mesh.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    rows, _ = _read(path.read_bytes())
    mesh = {r[5]: r for r in rows if str(r[5]).startswith("mesh:")}
    line = int(mesh["mesh:rootNamespace"][0])  # type: ignore[call-overload]
    assert lines[line - 1].strip() == "rootNamespace: istio-system"


def test_proxy_config_annotation_is_read_as_yaml_at_its_lines() -> None:
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n"
        "    metadata:\n      annotations:\n        proxy.istio.io/config: |\n"
        "          tracing:\n            sampling: 0\n    spec:\n      containers:\n"
        "        - name: web\n          image: web:1\n"
    )
    rows, read = _read(text)
    assert read.errors == []
    [fact] = [r for r in rows if r[5] == "proxy-config:tracing.sampling"]
    assert fact[0] == 11 and fact[6] == "0"


def test_a_list_dump_and_helm_values_are_read() -> None:
    dump = (
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n"
        "  metadata: {name: a}\n  spec: {selector: {app: a}}\n"
    )
    rows, read = _read(dump)
    assert read.objects == 1 and ("selector:app") in [r[5] for r in rows]
    helm = (MANIFESTS / "istio-helm-profile-demo.yaml").read_bytes()
    rows, _ = _read(helm)
    assert [r[0] for r in rows if r[5] == "values:pilot.traceSampling"] == [55]


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("apiVersion: v1\nkind: Service\nmetadata:\n  name: [a\n", "5:1", "not valid YAML"),
        ("apiVersion: v1\nkind: Service\n  bad: indent\n", "3:6", "not valid YAML"),
        ("apiVersion: v1\nkind: Gizmo\nmetadata: {name: x}\n", "2", "unknown kind 'Gizmo'"),
        ("apiVersion: v1\nkind: Service\n---\n- a\n- b\n", "4", "a YList where"),
        ("apiVersion: v1\nkind: Service\n---\nfoo: bar\n", "4", "no apiVersion and kind"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata:\n  mesh: |\n"
            "    a: [b\n",
            "7:1",
            "not valid YAML",
        ),
    ],
)
def test_bad_documents_are_errors_at_their_line(text: str, position: str, words: str) -> None:
    _, read = _read(text)
    assert len(read.errors) == 1  # type: ignore[attr-defined]
    where, message = read.errors[0]  # type: ignore[attr-defined]
    assert where == position and words in message


def test_documents_before_a_bad_one_are_kept() -> None:
    rows, read = _read("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\nkind: [\n")
    assert read.objects == 1 and rows  # type: ignore[attr-defined]
    assert read.errors[0][0] == "6:1"  # type: ignore[attr-defined]


def test_aliases_that_expand_without_end_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 8)]
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n" + "\n".join(
        "  " + line for line in lines
    )
    _, read = _read(text)
    [(where, message)] = read.errors  # type: ignore[attr-defined]
    assert "aliases expanding without end" in message and where is not None


def test_huge_and_undecodable_inputs_are_errors() -> None:
    _, read = _read(b"apiVersion: v1\n" + b" " * MAX_MANIFEST)
    assert "over the 64 MB" in read.errors[0][1]  # type: ignore[attr-defined]
    _, read = _read(b"apiVersion: v1\nkind: Service\nmetadata: {name: \xff}\n")
    assert read.errors == [("3", "not UTF-8 text: invalid start byte")]  # type: ignore[attr-defined]


def test_trace_exports_are_not_manifests() -> None:
    assert not looks_like_manifest(b'{"resourceSpans": []}')
    assert not looks_like_manifest(b"\x0a\x12protobuf")
    assert looks_like_manifest(b"# a comment\n---\napiVersion: v1\n")
