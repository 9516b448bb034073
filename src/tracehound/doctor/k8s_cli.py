"""``tracehound k8s``: the cluster checks alone, over Kubernetes manifests.

Exit status: 0 nothing at or above ``--fail-on``; 1 findings at or above it; 2
usage errors, or input nothing could be read from (bad YAML alone, a PATH
naming nothing).  Input problems are listed with the file and line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from tracehound.rules import Finding, Severity

__all__ = ["add_k8s_command", "run_k8s"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
_SUFFIXES = (".yaml", ".yml", ".json")

_EPILOG = """\
examples:
  tracehound k8s deploy/                      every manifest under deploy/
  helm template my-release chart/ | tracehound k8s -
  kubectl get deploy,svc,cm,telemetry -A -o yaml | tracehound k8s -
  tracehound check spans.json deploy/         spans and manifests together"""


def add_k8s_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``k8s`` on the ``tracehound`` sub-command parser."""
    k8s = subparsers.add_parser(
        "k8s",
        help="find the cluster settings that break traces (Kubernetes, Istio, Operator)",
        description="Read Kubernetes manifests (multi-document YAML, List dumps, helm "
        "template and kustomize build output; files, directories, - for stdin) and report "
        "the settings that break or lose traces, at the file and line of the key, with the "
        "workloads affected and the fix as YAML.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    k8s.add_argument("paths", nargs="+", metavar="PATH", help="files, directories, -")
    k8s.add_argument("--json", action="store_true", help="print the findings as JSON")
    k8s.add_argument(
        "--fail-on",
        default="error",
        type=str.lower,
        choices=("error", "warning", "info"),
        help="exit 1 when a finding is at or above this severity (default: error)",
    )
    k8s.set_defaults(run=run_k8s)
    return k8s


def run_k8s(args: argparse.Namespace, out: TextIO) -> int:
    try:
        import duckdb  # noqa: F401
        import yaml  # noqa: F401
    except ModuleNotFoundError as missing:  # a plain install: the extra is absent
        sys.stderr.write(
            f"tracehound k8s: needs its extra (no module {missing.name!r}): "
            "pip install 'tracehound[k8s]'\n"
        )
        return EXIT_USAGE
    from tracehound.doctor.checks import cluster
    from tracehound.doctor.evidence.k8s import read_manifest
    from tracehound.doctor.store import Store

    args.stage = "reading the manifests"
    inputs, errors = _inputs(args.paths)
    objects = 0
    store = Store()
    try:
        for name, path in inputs:
            store.begin_source(name)
            try:
                data = path.read_bytes() if path else sys.stdin.buffer.read()
            except OSError as exc:
                errors.append(f"{name}: cannot read: {exc.strerror or exc}")
                continue
            read = read_manifest(data, store)
            objects += read.objects
            errors += [
                f"{name}:{pos}: {msg}" if pos else f"{name}: {msg}" for pos, msg in read.errors
            ]
        store.finish()
        args.stage = "checking the cluster configuration"
        findings = cluster.check(store).findings
    finally:
        store.close()
    for error in errors:
        sys.stderr.write(f"tracehound k8s: {_printable(error)}\n")
    args.stage = "writing the report"
    if args.json:
        json.dump(
            {
                "inputs": len(inputs),
                "objects": objects,
                "errors": errors,
                "findings": [f.to_dict() for f in findings],
            },
            out,
            indent=2,
        )
        out.write("\n")
    else:
        _render(out, len(inputs), objects, findings)
    if not objects:
        sys.stderr.write("tracehound k8s: no Kubernetes object could be read (exit status 2)\n")
        return EXIT_USAGE
    threshold = Severity.parse(args.fail_on)
    return EXIT_FINDINGS if any(f.severity >= threshold for f in findings) else EXIT_OK


def _inputs(paths: list[str]) -> tuple[list[tuple[str, Path | None]], list[str]]:
    inputs: list[tuple[str, Path | None]] = []
    errors: list[str] = []
    for arg in paths:
        if arg == "-":
            inputs.append(("<stdin>", None))
            continue
        path = Path(arg)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in _SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                errors.append(f"{arg}: directory holds no .yaml, .yml or .json file")
            inputs += [(str(p), p) for p in found]
        elif path.exists():
            inputs.append((arg, path))
        else:
            errors.append(f"{arg}: no such file or directory")
    return inputs, errors


def _render(out: TextIO, inputs: int, objects: int, findings: list[Finding]) -> None:
    counts = {s: sum(1 for f in findings if f.severity == s) for s in Severity}
    out.write(
        f"tracehound k8s: {inputs} input(s), {objects} object(s) read; "
        f"{counts[Severity.ERROR]} error, {counts[Severity.WARNING]} warning, "
        f"{counts[Severity.INFO]} info\n"
    )
    if not findings:
        out.write("\nNo findings: nothing in this configuration breaks or drops traces.\n")
    for f in findings:
        out.write(f"\n{f.code} {f.name} ({f.severity}) at {f.location}\n")
        out.write(f"  {_printable(f.message)}\n")
        fix = f.details.get("fix_yaml")
        if isinstance(fix, str):
            out.write("  fix:\n" + "".join(f"    {line}\n" for line in _printable(fix).split("\n")))


def _printable(text: str) -> str:
    from tracehound.doctor.report import printable

    return "\n".join(printable(line) for line in text.split("\n"))
