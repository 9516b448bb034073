"""Findings of the cluster family: the place in the file, the workloads affected, the
fix as a YAML snippet to paste at that place."""

from __future__ import annotations

from collections.abc import Sequence

from tracehound.doctor.checks._cluster_model import Fact, Workload
from tracehound.rules import Finding, get_rule

__all__ = ["container_env_fix", "env_fix", "finding", "mapping_fix"]


def finding(
    code: str,
    message: str,
    fact: Fact,
    workloads: Sequence[Workload],
    fix_yaml: str,
    **details: object,
) -> Finding:
    """One finding at ``fact`` (its file and line), naming the workloads it affects."""
    names = list(dict.fromkeys(w.obj.name for w in workloads))
    affected = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    where = f" [{fact.kind} {fact.name}: {fact.key_path}]" if fact.name else f" [{fact.key_path}]"
    text = f"{message}{where}" + (f"; affects {affected}" if names else "")
    return Finding(
        get_rule(code),
        text,
        service=workloads[0].label if workloads else None,
        location=fact.where,
        details={
            "workloads": names,
            "services": list(dict.fromkeys(w.label for w in workloads)),
            "object": f"{fact.kind}/{fact.name}" if fact.name else fact.kind,
            "namespace": fact.namespace,
            "key": fact.key_path,
            "value": fact.value,
            "fix_yaml": fix_yaml,
            **details,
        },
    )


def container_env_fix(fact: Fact | None, workload: Workload, env: dict[str, str]) -> str:
    """The ``env`` entries to set in the workload's container (a comment says where)."""
    container = fact.container if fact is not None and fact.container else None
    if container is None:
        container = next(
            (f.container for f in workload.obj.facts if f.setting == "container"), None
        )
    lines = [
        f"# {workload.obj.kind} {workload.obj.name}, container {container or '?'}:",
        "env:",
    ]
    for name, value in env.items():
        lines += [f"  - name: {name}", f"    value: {_scalar(value)}"]
    return "\n".join(lines)


def env_fix(fact: Fact, workloads: Sequence[Workload], env: dict[str, str]) -> str:
    """The variables ``env`` set where ``fact`` sets them: the container's ``env``, the
    ConfigMap the container reads them from, or the Instrumentation resource."""
    if fact.kind == "ConfigMap":
        return mapping_fix(f"ConfigMap {fact.name}", ["data"], dict(env))
    if fact.kind == "Instrumentation":
        comment = f"Instrumentation {fact.name}"
        if fact.setting.startswith("spec:propagators["):
            return mapping_fix(
                comment, ["spec"], {"propagators": env["OTEL_PROPAGATORS"].split(",")}
            )
        if fact.setting.startswith("spec:sampler."):
            sampler = {
                "type": env.get("OTEL_TRACES_SAMPLER", ""),
                "argument": env.get("OTEL_TRACES_SAMPLER_ARG", "1"),
            }
            return mapping_fix(comment, ["spec", "sampler"], sampler)
        # a variable of the resource's own env (spec.env, spec.python.env, ...)
        keys = fact.key_path.rsplit("[", 1)[0].split(".")
        lines = mapping_fix(comment, keys[:-1], {}).split("\n")
        indent = "  " * (len(keys) - 1)
        lines.append(f"{indent}{keys[-1]}:")
        for name, value in env.items():
            lines += [f"{indent}  - name: {name}", f"{indent}    value: {_scalar(value)}"]
        return "\n".join(lines)
    owner = next(
        (w for w in workloads if (w.obj.kind, w.obj.name) == (fact.kind, fact.name)),
        workloads[0] if workloads else None,
    )
    if owner is None:
        return mapping_fix(f"{fact.kind} {fact.name}", [], dict(env))
    return container_env_fix(fact, owner, env)


def mapping_fix(comment: str, path: Sequence[str], leaf: dict[str, object]) -> str:
    """``path`` as nested keys ending in ``leaf`` (``"-name"`` opens a list item)."""
    lines = [f"# {comment}"] if comment else []
    indent = ""
    for key in path:
        if key.startswith("- "):
            lines.append(f"{indent}{key}")
            indent += "  "
        else:
            lines.append(f"{indent}{key}:")
            indent += "  "
    lines += _leaf(leaf, indent)
    return "\n".join(lines)


def _leaf(leaf: dict[str, object], indent: str) -> list[str]:
    lines = []
    for key, value in leaf.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines += _leaf(value, indent + "  ")
        elif isinstance(value, list):
            lines.append(f"{indent}{key}: [{', '.join(_scalar(v) for v in value)}]")
        else:
            lines.append(f"{indent}{key}: {_scalar(value)}")
    return lines


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    plain = (
        text and text.replace(",", "").replace("_", "").replace("-", "").replace(".", "").isalnum()
    )
    reserved = text.lower() in ("true", "false", "yes", "no", "on", "off", "null")
    if plain and not reserved and not text.replace(".", "", 1).isdigit():
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
