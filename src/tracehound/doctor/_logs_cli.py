"""``tracehound logs``: service logs alone — what they hold, and where one request's trace
ID changed from service to service.

Exit status: 0 every request kept its trace ID; 1 a hop changed or lost it (G001);
2 usage errors or no log line could be read.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

__all__ = ["add_logs_command", "run_logs"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

_DESCRIPTION = """\
Read service logs (JSON lines from Python logging, structlog, zap, logrus, slog,
pino, bunyan...; logfmt; or plain text with --pattern), normalise the trace IDs
they carry, follow one request through every service by a field (--by order_id)
and name the hop where its trace ID changed or vanished."""

_EPILOG = """\
examples:
  tracehound logs logs/                          services, trace IDs, a key to follow
  tracehound logs orders.log payments.log --by order_id
  tracehound logs app.log --service payments --pattern \\
      '(?P<time>\\S+ \\S+) (?P<level>\\w+) \\[(?P<trace_id>\\w*)\\] (?P<msg>.*)'
  tracehound check traces/ logs/                 spans and logs together"""


def add_logs_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``logs`` on the ``tracehound`` sub-command parser."""
    logs = subparsers.add_parser(
        "logs",
        help="follow one request's trace ID through service logs",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    logs.add_argument("paths", nargs="+", metavar="PATH", help="files, directories, globs, -")
    add_log_options(logs, key="--by", prefix="--")
    logs.add_argument("--json", action="store_true", help="print JSON")
    logs.add_argument("--no-progress", action="store_true", help="no progress bar")
    logs.set_defaults(run=run_logs)
    return logs


def add_log_options(parser: argparse.ArgumentParser, *, key: str, prefix: str) -> None:
    """The options that say how to read logs: ``--by``, ``--pattern``, ``--service`` for
    ``logs``; ``check`` names them ``--log-key``, ``--log-pattern``, ``--log-service``."""
    parser.add_argument(
        key,
        dest="log_key",
        metavar="FIELD",
        help="the log field that names one request in every service (order_id, "
        "x-request-id); default: the field the services' logs share most",
    )
    parser.add_argument(
        f"{prefix}pattern",
        dest="log_pattern",
        metavar="REGEX",
        help="read plain-text logs with this regular expression; named groups time, level, "
        "service, trace_id, span_id, msg (others are kept as fields)",
    )
    parser.add_argument(
        f"{prefix}service",
        dest="log_service",
        metavar="NAME",
        help="the service of every log line (default: a field of the line, else the file name)",
    )


def log_options(args: argparse.Namespace) -> Any:
    """The `LogOptions` of parsed ``args``; `ValueError` for a bad ``--pattern``."""
    from tracehound.doctor.evidence.logs import LogOptions

    pattern = LogOptions.compile(args.log_pattern) if args.log_pattern else None
    return LogOptions(pattern=pattern, service=args.log_service)


def run_logs(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``tracehound logs``; returns the exit status."""
    from tracehound.doctor import LoadError, expand_inputs, load
    from tracehound.doctor._progress import progress_bar
    from tracehound.doctor.checks import logs as log_checks

    try:
        options = log_options(args)
    except ValueError as exc:
        return _usage(str(exc))
    inputs, errors = expand_inputs(args.paths)
    for error in errors:
        _say(str(error))
    args.stage = "reading the logs"
    try:
        with progress_bar(inputs, enabled=not (args.json or args.no_progress)) as progress:
            store, report = load(inputs, progress=progress, logs=options)
    except LoadError as exc:
        return _usage(str(exc))
    try:
        for error in report.errors:
            _say(str(error))
        for rejection in report.log_rejections:
            _say(
                f"{rejection.count} log lines rejected: {rejection.reason} "
                f"(first at {rejection.example})"
            )
        if not report.log_lines:
            _say("no log line could be read (exit status 2)")
            return EXIT_USAGE
        args.stage = "following the requests"
        services = _services(store)
        suggestions = log_checks.suggest_keys(store)
        key = args.log_key or (suggestions[0].key if suggestions else None)
        result = log_checks.check(store, key)
    finally:
        store.close()
    findings = result.findings
    hops, followed = result.hops, result.followed
    broken = [f for f in findings if f.code == "G001"]
    data = {
        "log_lines": report.log_lines,
        "rejected": sum(r.count for r in report.log_rejections),
        "rejections": [r.to_dict() for r in report.log_rejections],
        "services": services,
        "key": key,
        "key_given": bool(args.log_key),
        "suggestions": [s.__dict__ for s in suggestions],
        "requests_followed": followed,
        "hops": [{**h.__dict__, "broken": h.broken} for h in hops],
        "findings": [f.to_dict() for f in findings],
    }
    if args.json:
        import orjson

        out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _render(data, out)
    return EXIT_FINDINGS if broken else EXIT_OK


def _services(store: Any) -> list[dict[str, Any]]:
    rows = store.query(
        """SELECT ServiceName, count(*), count(TraceId),
                  mode(json_extract_string(ResourceAttributes, '$."log.writer"'))
           FROM otel_logs GROUP BY 1 ORDER BY 1"""
    )
    return [
        {"service": s, "lines": int(n), "with_trace_id": int(t), "writer": w}
        for s, n, t, w in rows
    ]


def _render(data: dict[str, Any], out: TextIO) -> None:
    from tracehound.doctor.evidence.logs import fix_for
    from tracehound.doctor.report import printable

    def say(text: str = "") -> None:
        out.write(printable(text) + "\n")

    rejected = f" ({data['rejected']} rejected)" if data["rejected"] else ""
    count = len(data["services"])
    say(f"{data['log_lines']} log lines from {count} service{'s' * (count != 1)}{rejected}")
    for s in data["services"]:
        share = s["with_trace_id"] / s["lines"]
        say(
            f"  {s['service']:<20} {s['lines']:>9} lines  {share:>4.0%} with a trace ID  "
            f"({s['writer']})"
        )
    untraced = [s for s in data["services"] if not s["with_trace_id"]]
    for s in untraced:
        say(f"  {s['service']} logs no trace ID: {fix_for(s['writer'])}")
    say()
    if data["key"] is None:
        say("No field carries the same values in more than one service's logs: name the")
        say("field that identifies a request with --by.")
        return
    if not data["key_given"]:
        others = ", ".join(
            f"{s['key']} ({s['services']} services, {s['shared_values']} shared values)"
            for s in data["suggestions"]
        )
        say(f"Following requests by {data['key']} (fields shared across services: {others};")
        say("choose one with --by FIELD).")
    else:
        say(f"Following requests by {data['key']}.")
    say(f"{data['requests_followed']} requests were logged by more than one service.")
    for hop in data["hops"]:
        say(
            f"  {hop['caller']} → {hop['callee']}: {hop['requests']} requests, "
            f"{hop['continued']} kept the trace ID, {hop['changed']} changed it, "
            f"{hop['vanished']} lost it"
        )
    for finding in data["findings"]:
        say()
        say(f"{finding['code']} {finding['name']}: {finding['message']}")
        if finding.get("location"):
            say(f"  at {finding['location']}")


def _usage(message: str) -> int:
    _say(message)
    return EXIT_USAGE


def _say(message: str) -> None:
    from tracehound.doctor.report import printable

    sys.stderr.write(f"tracehound logs: {printable(message)}\n")
