"""Attribute key style (A001): lowercase dot-separated words, and the word splitter.

A key is in style when every dot-separated segment is one or more lowercase
alphanumeric words joined by single underscores: ``order.amount``,
``http.request.method``, ``gen_ai.usage.input_tokens``.  Every key of the
OpenTelemetry semantic conventions has that shape; the convention's
*template* keys (``http.request.header.<name>``, ``k8s.pod.label.<name>``,
...) carry a user-supplied suffix such as ``content-type`` or ``PATH`` and
always pass.
"""

from __future__ import annotations

import re

__all__ = ["TEMPLATE_PREFIXES", "split_words", "style_key", "style_problem"]

_STYLE = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*(?:\.[a-z0-9]+(?:_[a-z0-9]+)*)*")

TEMPLATE_PREFIXES: tuple[str, ...] = (
    "http.request.header.",
    "http.response.header.",
    "rpc.request.metadata.",
    "rpc.response.metadata.",
    "rpc.grpc.request.metadata.",
    "rpc.grpc.response.metadata.",
    "rpc.connect_rpc.request.metadata.",
    "rpc.connect_rpc.response.metadata.",
    "db.operation.parameter.",
    "db.query.parameter.",
    "process.environment_variable.",
    "container.label.",
    "container.labels.",
    "gcp.gce.instance.labels.",
    "k8s.cronjob.annotation.",
    "k8s.cronjob.label.",
    "k8s.daemonset.annotation.",
    "k8s.daemonset.label.",
    "k8s.deployment.annotation.",
    "k8s.deployment.label.",
    "k8s.job.annotation.",
    "k8s.job.label.",
    "k8s.namespace.annotation.",
    "k8s.namespace.label.",
    "k8s.node.annotation.",
    "k8s.node.label.",
    "k8s.persistentvolume.annotation.",
    "k8s.persistentvolume.label.",
    "k8s.persistentvolumeclaim.annotation.",
    "k8s.persistentvolumeclaim.label.",
    "k8s.pod.annotation.",
    "k8s.pod.label.",
    "k8s.pod.labels.",
    "k8s.replicaset.annotation.",
    "k8s.replicaset.label.",
    "k8s.service.annotation.",
    "k8s.service.label.",
    "k8s.service.selector.",
    "k8s.statefulset.annotation.",
    "k8s.statefulset.label.",
)
"""Semantic-convention template keys: anything after the prefix is user data."""

# camelCase and acronym boundaries: "userId" -> user, Id; "APIKey" -> API, Key.
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def split_words(key: str) -> tuple[str, ...]:
    """The lowercase words of ``key``, split on punctuation, spaces and camelCase."""
    return tuple(word.lower() for word in _WORD.findall(key))


def style_problem(key: str) -> str | None:
    """Why ``key`` is not lowercase dot-separated words, or None when it is."""
    if _STYLE.fullmatch(key) or key.startswith(TEMPLATE_PREFIXES):
        return None
    if not key.strip():
        return "the key is empty"
    if " " in key or "\t" in key:
        return "the key contains spaces"
    if ".." in key or key.startswith(".") or key.endswith("."):
        return "the key has an empty segment"
    if any(c.isupper() for c in key):
        return "the key contains capitals (camelCase or UPPER case)"
    if "-" in key:
        return "the key contains hyphens"
    if "__" in key or any(s.startswith("_") or s.endswith("_") for s in key.split(".")):
        return "a segment starts or ends with `_`, or has `__`"
    return "the key contains characters other than lowercase letters, digits, `_` and `.`"


def style_key(key: str) -> str | None:
    """``key`` rewritten in style (``userId`` -> ``user_id``), or None if nothing is left.

    Dots stay dots (empty segments removed); camelCase, spaces, hyphens and
    other punctuation inside a segment become ``_`` between words.
    """
    segments = []
    for segment in key.split("."):
        words = split_words(segment)
        if words:
            segments.append("_".join(words))
    return ".".join(segments) or None
