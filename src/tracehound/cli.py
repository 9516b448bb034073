"""The ``tracehound`` command.

Exit status: 0 nothing at or above the failure threshold, 1 findings, 2 usage
or input errors (always with a message naming the input and the place in it).
"""

from __future__ import annotations

import argparse
import difflib
import sys
import textwrap
from collections.abc import Sequence
from typing import TextIO, cast

from tracehound import __version__
from tracehound._cli_extras import (
    add_check_command,
    add_k8s_command,
    add_load_command,
    add_logs_command,
    add_serve_command,
)
from tracehound._cli_output import (
    EXIT_OK,
    EXIT_USAGE,
    Output,
    OutputFailed,
    crashed,
    debug_asked,
    output_failed,
)
from tracehound._rule_coverage import detectors
from tracehound.rules import CATALOGUE, Rule, UnknownRuleError, get_rule

__all__ = ["main"]

_DEBUG_HELP = "on an internal error, print the traceback (also TRACEHOUND_DEBUG=1)"


def _print_rule(rule: Rule, out: TextIO) -> None:
    wrap = textwrap.TextWrapper(width=88, initial_indent="  ", subsequent_indent="  ")
    out.write(f"{rule.code}  {rule.name}  [{rule.severity}]\n")
    out.write(wrap.fill(rule.summary) + "\n\n")
    out.write("  Why it matters:\n" + wrap.fill(rule.explanation) + "\n\n")
    out.write("  How to fix:\n" + wrap.fill(rule.fix) + "\n\n")
    found_by = detectors(rule.code)
    out.write(
        f"  Detected by: {', '.join(found_by)}\n"
        if found_by
        else "  Not detected yet: nothing in tracehound reports this rule so far.\n"
    )


def find_rule(text: str) -> Rule:
    """A rule by code (``c003``) or name (``broken-edge``), or `UnknownRuleError`."""
    wanted = text.strip().lower().replace("_", "-")
    for rule in CATALOGUE.values():
        if rule.name == wanted:
            return rule
    try:
        return get_rule(text)
    except UnknownRuleError:
        close = difflib.get_close_matches(wanted, [r.name for r in CATALOGUE.values()], n=1)
        hint = f"; did you mean {close[0]} ({_by_name(close[0]).code})?" if close else ""
        raise UnknownRuleError(
            f"unknown rule {text!r}{hint} (`tracehound rules` lists the codes and names)"
        ) from None


def _by_name(name: str) -> Rule:
    return next(r for r in CATALOGUE.values() if r.name == name)


def _cmd_rules(args: argparse.Namespace, out: TextIO) -> int:
    if args.code:
        try:
            rule = find_rule(args.code)
        except UnknownRuleError as exc:
            sys.stderr.write(f"tracehound rules: {exc}\n")
            return EXIT_USAGE
        _print_rule(rule, out)
        return EXIT_OK
    if args.json:
        import json

        json.dump(
            [
                {
                    "code": r.code,
                    "name": r.name,
                    "severity": str(r.severity),
                    "summary": r.summary,
                    "explanation": r.explanation,
                    "fix": r.fix,
                    "detected_by": list(detectors(r.code)),
                }
                for r in CATALOGUE.values()
            ],
            out,
            indent=2,
        )
        out.write("\n")
        return EXIT_OK
    width = max(len(r.name) for r in CATALOGUE.values())
    for rule in CATALOGUE.values():
        mark = "" if detectors(rule.code) else "(not detected yet) "
        out.write(f"{rule.code}  {rule.name:{width}}  {rule.severity!s:7}  {mark}{rule.summary}\n")
    out.write(
        "\n(not detected yet): in the catalogue, but nothing in tracehound reports it so far.\n"
        "`tracehound rules CODE` or `tracehound rules NAME` explains a rule and how to fix it.\n"
    )
    return EXIT_OK


def _cmd_headers(args: argparse.Namespace, out: TextIO) -> int:
    from tracehound.doctor.evidence._headers_report import run_headers

    return run_headers(
        args.header or [], args.files or [], out, sys.stderr, as_json=args.json,
        log_format=args.log_format,
    )


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    if args.propagation:
        from tracehound.demo._propagation import run

        return run(out, as_json=args.json)
    from tracehound.demo import run_demo

    return run_demo(
        out,
        fixed=args.fixed,
        fix=args.fix or (),
        as_json=args.json,
        out_dir=args.out,
        requests=args.requests,
    )


def _positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"{text}: choose 1 to 10000")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracehound",
        description="Keep distributed traces in one piece.",
    )
    parser.add_argument("--version", action="version", version=f"tracehound {__version__}")
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    rules = sub.add_parser("rules", help="list the rule catalogue or explain one rule")
    rules.add_argument(
        "code", nargs="?", metavar="RULE", help="a rule code or name: P002, broken-edge"
    )
    rules.add_argument("--json", action="store_true", help="the catalogue as JSON")
    rules.set_defaults(run=_cmd_rules)

    headers = sub.add_parser(
        "headers",
        help="explain the trace headers of a request, or of the requests in captures, HAR "
        "files, curl -v transcripts and access logs",
        description="Read the trace-context headers of one request (typed in) or of every "
        "request in files of HTTP evidence, and say which trace a receiver continues, what "
        "is wrong with them, and which hops lost the context.",
    )
    headers.add_argument(
        "-H", "--header", action="append", metavar="'NAME: VALUE'", help="a header (repeatable)"
    )
    headers.add_argument(
        "files", nargs="*", metavar="PATH",
        help="a capture (pcap, pcapng), HAR file, curl -v transcript, access log, or a file "
        "of 'name: value' lines; - for stdin",
    )
    headers.add_argument("--json", action="store_true", help="print JSON")
    headers.add_argument(
        "--log-format", metavar="KIND:FORMAT",
        help="the format of the access logs given, as configured: 'nginx:<log_format>' or "
        "'envoy:<format string>' (as for tracehound check)",
    )
    headers.set_defaults(run=_cmd_headers)

    from tracehound.demo._faults import fault_keys

    demo = sub.add_parser(
        "demo",
        help="run four services with real tracing faults and diagnose them",
        description="Start gateway → orders → payments and a message hop orders ⇢ shipping on "
        "127.0.0.1, each a process instrumented with OpenTelemetry and tracehound, with "
        "tracing faults switched on; send a few checkouts through them, stop them, and "
        "print the doctor's diagnosis (and write it as HTML).",
    )
    demo.add_argument(
        "--fixed", action="store_true", help="switch on tracehound's fixes: a clean report"
    )
    demo.add_argument(
        "--fix",
        action="append",
        choices=fault_keys(),
        metavar="FAULT",
        help=f"switch one fault off (repeatable): {', '.join(fault_keys())}",
    )
    demo.add_argument("--json", action="store_true", help="print the doctor's JSON report")
    demo.add_argument(
        "--out",
        metavar="DIR",
        help="where spans, logs and report.html go (default: a new temporary directory)",
    )
    demo.add_argument(
        "--requests",
        type=_positive,
        default=20,
        metavar="N",
        help="checkouts to send (default 20; traffic stops after 30 s in any case)",
    )
    demo.add_argument(
        "--propagation",
        action="store_true",
        help="instead: the propagator alone, continuing header mixes OTel's default drops",
    )
    demo.set_defaults(run=_cmd_demo)
    add_check_command(sub)
    add_logs_command(sub)
    add_k8s_command(sub)
    add_serve_command(sub)
    add_load_command(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (never raises, except `SystemExit`).

    A crash is exit 2 with one line naming what failed, never 1 (which means
    "findings"); ``--debug`` or ``TRACEHOUND_DEBUG=1`` adds the traceback.
    """
    console = out is None  # the real stdout: its failures are ours to handle too
    stream = cast(TextIO, Output(out if out is not None else sys.stdout))
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors itself
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    except Exception as exc:  # argv from outside: never a traceback
        return crashed("tracehound", "reading the command line", exc, debug=debug_asked(None))
    command = f"tracehound {args.command}" if getattr(args, "command", None) else "tracehound"
    try:
        if not getattr(args, "run", None):
            parser.print_help(stream)
            return EXIT_USAGE
        status = int(args.run(args, stream))
        stream.flush()
        return status
    except KeyboardInterrupt:
        sys.stderr.write(f"{command}: interrupted\n")
        return 130
    except OutputFailed as exc:
        return output_failed(command, exc, console, getattr(args, "status", None))
    except Exception as exc:  # a crash must not read as a verdict
        return crashed(command, getattr(args, "stage", None), exc, debug=debug_asked(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
