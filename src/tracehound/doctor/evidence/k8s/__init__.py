"""Kubernetes manifests as cluster evidence: configuration facts with the file and line.

What users have: multi-document YAML, ``kind: List`` and ``kubectl get -o yaml``
dumps, ``helm template`` and ``kustomize build`` output, Istio's Helm values.
`read_manifest` reads one input into the ``k8s_facts`` table (see `SCHEMA`),
one row per setting tracing depends on, each with the line of its key.
`looks_like_manifest` tells a manifest from a trace export by its first bytes.
Bad YAML, documents that are no Kubernetes object, unknown kinds and inputs over
`MAX_MANIFEST` bytes are input errors naming the file and line, never a crash.
PyYAML comes with the ``k8s`` extra; without it a manifest is an input error
saying how to install it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FORMAT",
    "INSTALL_HINT",
    "MAX_MANIFEST",
    "SCHEMA",
    "TABLE",
    "ManifestRead",
    "looks_like_manifest",
    "read_manifest",
]

TABLE = "k8s_facts"
SCHEMA = f"""
CREATE OR REPLACE TABLE {TABLE} (
    Source VARCHAR, Line BIGINT, Namespace VARCHAR, Kind VARCHAR, Name VARCHAR,
    Container VARCHAR, Setting VARCHAR, Value VARCHAR, KeyPath VARCHAR
);
"""
"""Configuration facts: the input, the line of the key, the object (namespace, kind, name),
the container when it is a container's, the setting (a normalised name), its value as
written, and the key's path in the document."""

FORMAT = "kubernetes"
"""The format name an input read as manifests gets in the report."""
MAX_MANIFEST = 64 << 20
"""Bytes of the largest manifest read (a whole cluster's dump is a few megabytes)."""
INSTALL_HINT = "reading Kubernetes manifests needs PyYAML: pip install 'tracehound[k8s]'"

_HEAD = re.compile(
    rb"\A(?:\xef\xbb\xbf)?(?:[ \t]*(?:#[^\n]*)?\r?\n|---[^\n]*\n)*"
    rb"(?:apiVersion|kind|items|meshConfig)[ \t]*:",
)


def looks_like_manifest(head: bytes) -> bool:
    """Whether the first bytes of an input are a Kubernetes manifest (YAML starting,
    after comments and ``---``, with ``apiVersion:``, ``kind:`` or Istio's ``meshConfig:``)."""
    return _HEAD.match(head) is not None


@dataclass
class ManifestRead:
    """What reading one manifest input gave."""

    objects: int = 0
    """Objects read (a `List`'s items each): analysed, or of a kind known to hold nothing
    tracing depends on."""
    facts: int = 0
    errors: list[tuple[str | None, str]] = field(default_factory=list)
    """``(line or line:column, message)``"""


def read_manifest(data: bytes, sink: Any) -> ManifestRead:
    """Read ``data`` (one input) into ``sink.add_evidence(TABLE, row)``."""
    result = ManifestRead()
    if len(data) > MAX_MANIFEST:
        result.errors.append(
            (None, f"{len(data):,} bytes: over the {MAX_MANIFEST >> 20} MB a manifest may have")
        )
        return result
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        result.errors.append((str(line), f"not UTF-8 text: {exc.reason}"))
        return result
    try:
        from tracehound.doctor.evidence.k8s._facts import UnknownKind, facts_of
        from tracehound.doctor.evidence.k8s._yaml import YamlProblem, documents
    except ModuleNotFoundError as missing:
        if missing.name != "yaml":
            raise
        result.errors.append((None, INSTALL_HINT))
        return result
    add = getattr(sink, "add_evidence", None)
    try:
        for line, doc in documents(text):
            try:
                rows = list(facts_of(doc, line))
            except UnknownKind as exc:
                result.errors.append((str(exc.line), str(exc)))
                continue
            except YamlProblem as exc:  # YAML written inside a string (Istio's mesh config)
                result.errors.append((exc.position, str(exc)))
                continue
            result.objects += sum(1 for row in rows if row[5] == "object") or 1  # a List's items
            result.facts += len(rows)
            if add is not None:
                for row in rows:
                    add(TABLE, row)
    except YamlProblem as exc:
        result.errors.append((exc.position, str(exc)))
    return result
