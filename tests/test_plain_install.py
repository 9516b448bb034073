"""A plain ``pip install tracehound``: no extras, only the core dependencies.

The test builds a real virtual environment in a temporary directory and
installs into it exactly the distributions the core requirements resolve to
(tracehound itself and, recursively, its non-extra requirements), copied file
by file from their installed ``RECORD`` as pip would unpack their wheels —
no network, about a second.  orjson, duckdb, rich, protobuf and the OTLP
exporter are absent, as after ``pip install tracehound``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

EXTRAS_ONLY = (
    "orjson", "duckdb", "rich", "google.protobuf", "opentelemetry.proto", "chdb",
    "clickhouse_connect", "sqlglot",
)


def core_distributions() -> list[metadata.Distribution]:
    """tracehound and every distribution its requirements without extras pull in."""
    found: dict[str, metadata.Distribution] = {}
    todo = ["tracehound"]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found:
            continue
        dist = metadata.distribution(name)
        found[name] = dist
        for text in dist.requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return list(found.values())


def install(dist: metadata.Distribution, site: Path, bin_dir: Path, python: Path) -> None:
    for file in dist.files or ():
        source = Path(dist.locate_file(file))
        if not source.is_file() or "__pycache__" in file.parts:
            continue
        if file.parts[0] == "..":  # outside site-packages: only console scripts matter
            if file.parts[-2] == "bin":  # point it at the new interpreter, as pip writes it
                lines = source.read_text().splitlines()
                (bin_dir / file.name).write_text("\n".join([f"#!{python}", *lines[1:]]) + "\n")
                (bin_dir / file.name).chmod(0o755)
            continue
        target = site / file
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plain-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True,
                   timeout=60)
    python = root / "bin" / "python"
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip())
    for dist in core_distributions():
        install(dist, site, root / "bin", python)
    return root


def run(venv: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True, input=stdin,
        timeout=60, check=False, env={"PATH": str(venv / "bin"), "OTEL_TRACES_EXPORTER": "none"},
    )


def test_the_environment_has_only_the_core_dependencies(plain_venv: Path) -> None:
    probe = "import importlib.util, json, sys; print(json.dumps([m for m in sys.argv[1:] " \
        "if importlib.util.find_spec(m.split('.')[0]) and importlib.util.find_spec(m)]))"
    result = run(plain_venv, "python", "-c", probe, *EXTRAS_ONLY)
    assert json.loads(result.stdout) == [], result.stderr


def test_rules_headers_and_help_run(plain_venv: Path) -> None:
    for args in (["--help"], ["rules"], ["rules", "P002"], ["--version"]):
        result = run(plain_venv, "tracehound", *args)
        assert result.returncode == 0, (args, result.stderr)
        assert "Traceback" not in result.stderr
    headers = run(plain_venv, "tracehound", "headers", "-H",
                  "uber-trace-id: 4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1")
    assert headers.returncode == 0, headers.stderr  # P003 is a warning
    assert "continues trace 4bf92f3577b34da6a3ce929d0e0e4736" in headers.stdout


def test_doctor_commands_say_which_extra_to_install(plain_venv: Path, tmp_path: Path) -> None:
    spans = tmp_path / "spans.jsonl"
    spans.write_text("{}\n")
    for args in ([str(spans)], ["--json", "--fail-on", "warning", str(spans)], [], ["-h"]):
        result = run(plain_venv, "tracehound", "check", *args)
        assert result.returncode == 2, args
        assert "install it with: pip install 'tracehound[doctor]'" in result.stderr, args
        assert "Traceback" not in result.stderr
    result = run(plain_venv, "tracehound", "check", "--clickhouse", "chdb:/nowhere")
    assert result.returncode == 2
    assert "pip install 'tracehound[doctor]'" in result.stderr
    result = run(plain_venv, "tracehound", "load", str(spans), "--clickhouse", "chdb:/nowhere")
    assert result.returncode == 2
    assert "pip install 'tracehound[clickhouse]'" in result.stderr
    for args in ([str(spans)], ["--by", "order_id", str(spans)]):
        result = run(plain_venv, "tracehound", "logs", *args)
        assert result.returncode == 2, args
        assert result.stderr.startswith("tracehound logs: the doctor is not installed"), args


def test_k8s_says_which_extra_to_install(plain_venv: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n")
    result = run(plain_venv, "tracehound", "k8s", str(manifest))
    assert result.returncode == 2
    assert "pip install 'tracehound[k8s]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_says_which_extra_to_install(plain_venv: Path) -> None:
    for args in ([], ["--port", "0"], ["-h"]):
        result = run(plain_venv, "tracehound", "serve", *args)
        assert result.returncode == 2, args
        assert "install it with: pip install 'tracehound[serve]'" in result.stderr, args
        assert "Traceback" not in result.stderr


RUNTIME = """
import logging, sys
import tracehound
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
tracehound.configure(service_name="plain", span_exporter=exporter, batch=False)
with tracehound.span("login") as span:
    span.set_attribute("api_token", "tok-4c9e1a7f3b2d8e60")
    headers = tracehound.inject()
with tracehound.continue_trace(headers, "child"):
    pass
tracehound.shutdown()
(login, child) = sorted(exporter.get_finished_spans(), key=lambda s: s.name, reverse=True)
assert login.attributes["api_token"] == "[REDACTED]", login.attributes
assert child.context.trace_id == login.context.trace_id
print("ok", sorted(headers))
"""


def test_the_runtime_works(plain_venv: Path) -> None:
    result = run(plain_venv, "python", "-c", RUNTIME)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok ['traceparent']"


def test_the_file_exporter_says_which_extra(plain_venv: Path) -> None:
    code = "from tracehound.runtime.export import OtlpJsonFileExporter; OtlpJsonFileExporter('x')"
    result = run(plain_venv, "python", "-c", code)
    assert result.returncode == 1
    assert "pip install 'tracehound[otlp]'" in result.stderr


def test_the_default_otlp_exporter_says_which_extra(plain_venv: Path) -> None:
    code = "import os, tracehound; os.environ.pop('OTEL_TRACES_EXPORTER'); tracehound.configure()"
    result = run(plain_venv, "python", "-c", code)
    assert result.returncode == 1
    assert "ConfigurationError: OTEL_TRACES_EXPORTER=otlp needs the OTLP exporter: " \
        "pip install 'tracehound[otlp]'" in result.stderr


def test_the_demo_says_which_extras(plain_venv: Path) -> None:
    result = run(plain_venv, "tracehound", "demo")
    assert result.returncode == 2
    assert "pip install 'tracehound[doctor,otlp]'" in result.stderr
    assert "Traceback" not in result.stderr
