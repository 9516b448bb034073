"""The ``tracehound`` command.

Exit status: 0 nothing at or above the failure threshold, 1 findings, 2 usage
or input errors (always with a message naming the input and the place in it).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from tracehound import __version__
from tracehound.rules import CATALOGUE, Rule, UnknownRuleError, get_rule

__all__ = ["main"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
_DOCTOR_EXTRA = ("orjson", "duckdb", "rich", "google", "opentelemetry.proto")


def _doctor_missing(module: str) -> Any:
    """A ``check`` command that says which extra to install (a plain install has no doctor)."""

    def add_check_command(subparsers: Any) -> argparse.ArgumentParser:
        check = subparsers.add_parser(
            "check",
            help="diagnose exported traces (needs tracehound[doctor])",
            prefix_chars="\x1f",  # no options: every argument, --help too, gets the hint
            add_help=False,
        )
        check.add_argument("args", nargs="*", help=argparse.SUPPRESS)
        check.set_defaults(run=lambda args, out: _needs_doctor(module))
        return check

    return add_check_command


def _needs_doctor(module: str) -> int:
    sys.stderr.write(
        f"tracehound check: the doctor is not installed (no module {module!r}); "
        "install it with: pip install 'tracehound[doctor]'\n"
    )
    return EXIT_USAGE


try:
    from tracehound.doctor.cli import add_check_command
except ModuleNotFoundError as missing:  # a plain install: the doctor's extra is absent
    if not (missing.name or "").startswith(_DOCTOR_EXTRA):
        raise
    add_check_command = _doctor_missing(missing.name or "")


def _print_rule(rule: Rule, out: TextIO) -> None:
    wrap = textwrap.TextWrapper(width=88, initial_indent="  ", subsequent_indent="  ")
    out.write(f"{rule.code}  {rule.name}  [{rule.severity}]\n")
    out.write(wrap.fill(rule.summary) + "\n\n")
    out.write("  Why it matters:\n" + wrap.fill(rule.explanation) + "\n\n")
    out.write("  How to fix:\n" + wrap.fill(rule.fix) + "\n")


def _cmd_rules(args: argparse.Namespace, out: TextIO) -> int:
    if args.code:
        try:
            rule = get_rule(args.code)
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
        out.write(f"{rule.code}  {rule.name:{width}}  {rule.severity!s:7}  {rule.summary}\n")
    out.write("\n`tracehound rules CODE` explains a rule and how to fix it.\n")
    return EXIT_OK


def _cmd_headers(args: argparse.Namespace, out: TextIO) -> int:
    from tracehound._headers_report import HeaderSyntaxError, describe, parse_header_lines

    pairs: list[tuple[str, str]] = []
    try:
        for index, item in enumerate(args.header or [], 1):
            pairs.extend(parse_header_lines([item], f"-H #{index}"))
        for name in args.files or []:
            if name == "-":
                pairs.extend(parse_header_lines(sys.stdin, "<stdin>"))
                continue
            path = Path(name)
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                sys.stderr.write(f"tracehound headers: cannot read {name}: {exc.strerror}\n")
                return EXIT_USAGE
            pairs.extend(parse_header_lines(text.splitlines(), name))
    except HeaderSyntaxError as exc:
        sys.stderr.write(f"tracehound headers: {exc}\n")
        return EXIT_USAGE
    if not pairs:
        sys.stderr.write(
            "tracehound headers: no headers given; use -H 'name: value' or a file of "
            "'name: value' lines (- for stdin)\n"
        )
        return EXIT_USAGE
    return describe(pairs, out, as_json=args.json)


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    if args.propagation:
        from tracehound._propagation_demo import run

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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    rules = sub.add_parser("rules", help="list the rule catalogue or explain one rule")
    rules.add_argument("code", nargs="?", help="a rule code such as P002")
    rules.add_argument("--json", action="store_true", help="the catalogue as JSON")
    rules.set_defaults(run=_cmd_rules)

    headers = sub.add_parser(
        "headers",
        help="explain the trace headers of one request",
        description="Read the trace-context headers of one request and say which trace a "
        "receiver continues, and what is wrong with them.",
    )
    headers.add_argument(
        "-H", "--header", action="append", metavar="'NAME: VALUE'", help="a header (repeatable)"
    )
    headers.add_argument(
        "files", nargs="*", help="files of 'name: value' lines, e.g. curl -v output; - for stdin"
    )
    headers.add_argument("--json", action="store_true", help="print JSON")
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
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors itself
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if not getattr(args, "run", None):
        parser.print_help(out or sys.stdout)
        return EXIT_USAGE
    try:
        return int(args.run(args, out or sys.stdout))
    except KeyboardInterrupt:
        sys.stderr.write("tracehound: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
