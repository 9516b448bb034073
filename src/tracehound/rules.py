"""The rule catalogue: every problem tracehound can report, with a stable code.

The runtime guards, the pytest plugin and the doctor all report `Finding`s
against these rules, so a user reads the same words in a test failure, a log
line and a report.  Codes are stable: extend the catalogue, never renumber it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["CATALOGUE", "Finding", "Rule", "Severity", "UnknownRuleError", "get_rule"]


class Severity(enum.IntEnum):
    """How bad a finding is; ordered so ``severity >= Severity.WARNING`` works."""

    INFO = 10
    """Worth knowing."""
    WARNING = 20
    """It will break or mislead."""
    ERROR = 30
    """The trace is broken or data leaks."""

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Read ``"error"``, ``"WARNING"``, ... raising `ValueError` naming the choices."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(str(s) for s in cls)
            raise ValueError(f"unknown severity {text!r}: choose one of {choices}") from None


@dataclass(frozen=True)
class Rule:
    """One entry of the catalogue."""

    code: str
    name: str
    severity: Severity
    summary: str
    """One line: what the rule means."""
    explanation: str
    """Why it matters, in a few sentences."""
    fix: str
    """What to do about it."""

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@dataclass(frozen=True)
class Finding:
    """One occurrence of a rule, with enough context to act on it.

    ``location`` says where: a ``file:line`` in the program for the runtime, an
    input name and position (``traces.json:1234``) for the doctor, a header
    name for propagation findings.
    """

    rule: Rule
    message: str
    trace_id: str | None = None
    span_id: str | None = None
    service: str | None = None
    location: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.rule.code

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    def __str__(self) -> str:
        where = f" at {self.location}" if self.location else ""
        return f"{self.rule.code} {self.rule.name} ({self.rule.severity}){where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, the shape every report uses."""
        return {
            "code": self.rule.code,
            "name": self.rule.name,
            "severity": str(self.rule.severity),
            "message": self.message,
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "service": self.service,
            "location": self.location,
            "details": dict(self.details),
        }


class UnknownRuleError(KeyError):
    """A rule code that is not in the catalogue."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown rule"


_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

_RULES = (
    # -- propagation -------------------------------------------------------
    Rule(
        "P001",
        "traceparent-invalid",
        _E,
        "a `traceparent` that the W3C grammar rejects (the reason is named)",
        "A receiver that cannot parse `traceparent` must ignore it and start a new trace, "
        "so every span after this hop lands in a different trace from its caller.",
        "Fix the sender: version 00 is `00-<32 lower-hex>-<16 lower-hex>-<2 hex>`, IDs not "
        "all zeros, one `traceparent` header per request. Use an OpenTelemetry propagator "
        "instead of building the header by hand.",
    ),
    Rule(
        "P002",
        "propagation-conflict",
        _E,
        "several formats on one request carry different trace IDs",
        "The request carries W3C, Jaeger and/or B3 headers that name different traces. "
        "Some hop rewrote one format and forwarded the others untouched, so services that "
        "read different formats join different traces. tracehound follows W3C and keeps "
        "the other context as a span link.",
        "Find the hop that re-generates one header but forwards the others (often a proxy "
        "or an old client library); make every service inject from the same context, and "
        "unify on W3C (`OTEL_PROPAGATORS=tracehound` reads all formats, writes W3C).",
    ),
    Rule(
        "P003",
        "legacy-propagation-only",
        _W,
        "only `uber-trace-id`/B3 arrived; a W3C-only hop will drop it",
        "The caller sent only a legacy header. This hop understood it, but Istio/Envoy and "
        "OpenTelemetry's default propagator read only `traceparent`, so the next W3C-only "
        "hop will start a new trace.",
        "Make the caller inject W3C too: `OTEL_PROPAGATORS=tracehound` with "
        "`TRACEHOUND_PROPAGATION_INJECT=tracecontext,jaeger` (or `,b3`) during the "
        "migration, W3C alone once every service reads it.",
    ),
    Rule(
        "P004",
        "tracestate-invalid",
        _W,
        "`tracestate` malformed or over the W3C limits",
        "A malformed `tracestate` is discarded (vendors lose their data); list-members "
        "over the limits are dropped.",
        "Keep at most 32 list-members of `key=value`, keys lowercase per the W3C grammar, "
        "values printable ASCII without `,` or `=`, each key once.",
    ),
    Rule(
        "P005",
        "context-not-forwarded",
        _E,
        "a request arrived with a context, the outbound calls it made carry none or another",
        "The service received a trace context but its outbound calls started fresh: the "
        "callee's spans form a separate trace.",
        "Start outbound spans inside the inbound span (`tracehound.continue_trace`) and "
        "inject headers from the current context (`tracehound.inject(headers)`).",
    ),
    Rule(
        "P006",
        "legacy-context-invalid",
        _W,
        "an `uber-trace-id` or B3 header that its own format rejects (the reason is named)",
        "A service that reads only this format starts a new trace here; when W3C also "
        "arrived the trace survives, but the legacy header shows a sender that builds it "
        "wrongly.",
        "Fix or update the sending client library (Jaeger: `trace:span:parent:flags` in "
        "hex; B3: 16 or 32 hex digit trace IDs, 16 digit span IDs), or stop sending the "
        "legacy format once every service reads W3C.",
    ),
    Rule(
        "P007",
        "context-stripped-by-proxy",
        _E,
        "a proxy passed a request on without the trace headers it arrived with",
        "A request reached a proxy (an ingress, a sidecar, a gateway) with a trace context "
        "and left it, otherwise unchanged, with none: the service behind it starts a new "
        "trace, and no span of either service shows why.",
        "Make the proxy forward `traceparent`, `tracestate` (and `baggage`, or the legacy "
        "headers in use): remove them from its header-removal rules, or enable its tracing "
        "so that it continues the context instead of dropping it.",
    ),
    # -- context -----------------------------------------------------------
    Rule(
        "C001",
        "orphan-span",
        _E,
        "the span's parent is not in its trace",
        "A span names a parent that never arrived: the parent was not exported (dropped, "
        "sampled out, never ended) or the parent ID is wrong. The trace shows a hole.",
        "Make sure every span is ended and exported (check exporter drop counters and "
        "sampling); an entry span whose parent lives in another service is normal and is "
        "not reported.",
    ),
    Rule(
        "C002",
        "multiple-roots",
        _E,
        "a trace has more than one root span",
        "Two spans of one trace claim to have no parent: something created a span with the "
        "trace ID but lost the parent span ID.",
        "Start child spans from the current context instead of copying only the trace ID.",
    ),
    Rule(
        "C003",
        "broken-edge",
        _E,
        "a client/producer call in one trace is answered by a root server/consumer span of "
        "another trace",
        "The caller made the call inside its trace, but the callee did not continue it: "
        "the headers were not sent, not understood (another format) or stripped on the way.",
        "Compare the headers on the wire at this hop: unify on W3C (`OTEL_PROPAGATORS="
        "tracehound` on both sides reads every format), inject on the caller, and check "
        "the proxy forwards `traceparent`.",
    ),
    Rule(
        "C004",
        "suspicious-root",
        _W,
        "a root span of kind INTERNAL, CLIENT or PRODUCER: the context was lost before it",
        "Entry points (SERVER, CONSUMER) start traces; an internal or outgoing span with no "
        "parent means the code that created it did not see the active context.",
        "Create the span inside the parent's context (`tracehound.span`), carry context "
        "into threads (`tracehound.ContextExecutor`), or use `tracehound.new_trace` when a "
        "fresh trace is intended.",
    ),
    Rule(
        "C005",
        "context-lost-in-worker",
        _E,
        "a span became a root in a thread/task while its creator had an active span",
        "A new thread or pool worker starts with an empty context (Python's "
        "`context.Background()`), so spans started there begin a new trace.",
        "Submit work through a context-carrying executor (`tracehound.ContextExecutor`) "
        "or `contextvars.copy_context().run`, or start the thread with "
        "`tracehound.start_thread`.",
    ),
    Rule(
        "C006",
        "trace-started-without-context",
        _I,
        "an entry span found no usable context in its carrier and started a new trace",
        "Normal at the edge of the system (a gateway receiving outside traffic); anywhere "
        "else the caller did not send trace headers, or sent ones this service rejected.",
        "If the caller is yours, inject headers there (`tracehound.inject(headers)`); the "
        "finding names any header problem (P001-P006) the request had.",
    ),
    Rule(
        "C007",
        "span-is-own-parent",
        _E,
        "a span names its own ID as its parent",
        "The span is its own parent: a cycle, so it is neither a root nor a child, and "
        "backends drop it or loop on it. A span built from an inbound context that reused "
        "the caller's span ID as its own, or a parent ID copied from the wrong field.",
        "Let the SDK generate span IDs; take the parent from the extracted context, never "
        "the new span's own ID.",
    ),
    # -- lifecycle ---------------------------------------------------------
    Rule(
        "L001",
        "span-never-ended",
        _E,
        "a span was started and never ended",
        "A span that is never ended is never exported: its children become orphans and "
        "the work it measured disappears. Many of them grow memory.",
        "Use the span as a context manager (`with tracehound.span(...)`) or a decorator "
        "so it ends on every path, errors included.",
    ),
    Rule(
        "L002",
        "span-open-too-long",
        _W,
        "a span has been open longer than the configured limit",
        "A span open for minutes is usually a leak in progress or a missing `end()` on a "
        "slow error path.",
        "End the span on every path; for real long-running work, raise the limit or split "
        "the work into shorter spans linked together.",
    ),
    Rule(
        "L003",
        "span-ended-twice",
        _W,
        "end() called again on an ended span",
        "The second `end()` is ignored by OpenTelemetry; it usually means two code paths "
        "both believe they own the span.",
        "Give the span one owner: a `with` block or a decorator, not manual `end()` calls.",
    ),
    Rule(
        "L004",
        "bad-duration",
        _W,
        "zero or negative duration, or a missing end time in exported data",
        "Backends draw such spans wrongly or drop them; a missing end time is a span that "
        "was exported before it ended.",
        "End spans exactly once after the work, and export only ended spans.",
    ),
    Rule(
        "L005",
        "child-outside-parent",
        _I,
        "a child starts before or ends after its parent (clock skew or a late end)",
        "Across hosts it is clock skew; within one service it means the parent ended before "
        "its child (work escaped the span).",
        "Sync clocks (NTP/chrony); within a service, end the parent after its children or "
        "use a link for fire-and-forget work.",
    ),
    Rule(
        "L006",
        "duplicate-span-id",
        _E,
        "two spans of one trace share an ID",
        "Parent/child lookups become ambiguous and backends drop or rename one span. "
        "Zipkin's shared client/server spans are legitimate and not reported.",
        "Let the SDK generate span IDs; never reuse an inbound span ID for a local span.",
    ),
    Rule(
        "L007",
        "spans-dropped",
        _E,
        "the export queue was full and finished spans were dropped",
        "The exporter cannot keep up (or is stalled): dropped spans leave holes and "
        "orphans in every trace they belonged to.",
        "Check the collector is reachable; raise `OTEL_BSP_MAX_QUEUE_SIZE` or "
        "`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, sample, or switch off low-value spans "
        "(`TRACEHOUND_DROP_SPANS`).",
    ),
    Rule(
        "L008",
        "spans-lost-after-fork",
        _E,
        "a process forked after tracing started: the child's spans are never exported",
        "A forked child (gunicorn `--preload`, uWSGI, `multiprocessing` with fork) keeps the "
        "parent's span processors but not their threads. A processor whose export thread is "
        "not started again queues the child's spans forever; a `multiprocessing` child exits "
        "with `os._exit`, skipping the flush at exit. Nothing says so: the spans just never "
        "arrive.",
        "Create the tracer provider after the fork (gunicorn `post_fork` hook, uWSGI "
        "`@postfork`, a `multiprocessing` initializer), or restart the processor's thread in "
        "`os.register_at_fork(after_in_child=...)` as OpenTelemetry's BatchSpanProcessor "
        "does; call `provider.force_flush()` before a child exits. `tracehound.configure()` "
        "flushes `multiprocessing` children at exit and names any processor that stays dead.",
    ),
    Rule(
        "L009",
        "context-detached-elsewhere",
        _E,
        "a context was detached in another context than it was attached in "
        '("Failed to detach context")',
        "The span's `with` block was left in another task or thread than it was entered "
        "in: an async generator closed from another task, a streaming response finished by "
        "the server, a cancelled task. The context is not restored there, so later spans "
        "in that task get the wrong parent, and the span may end late or never.",
        "Do not hold a span across `yield` in an (async) generator: start the span inside "
        "each step or around the whole consumer; for streaming responses, end the span in "
        "the response's close callback; close async generators in the task that iterates "
        "them (`contextlib.aclosing`).",
    ),
    Rule(
        "L010",
        "span-outlived-request",
        _W,
        "a span was still open when the request or message it belongs to finished",
        "The entry span (SERVER or CONSUMER) ended while work it started was still running "
        "in the same trace: a background task, a streaming body, a fire-and-forget call. "
        "The trace shows a child ending after its parent, and an error there is reported "
        "after the request already looked successful.",
        "Await the work before the request ends, or give background work its own trace "
        "linked to the request (`tracehound.new_trace` inside the task).",
    ),
    Rule(
        "L011",
        "implausible-timestamp",
        _W,
        "span times outside 1990-2200: relative times, a unit mix-up or a broken clock",
        "The spans and their parent links are analysed, but their times cannot be placed "
        "in real time: durations may hold, comparisons with other inputs do not.",
        "Export absolute Unix-epoch times in the unit the format defines (nanoseconds in "
        "OTLP, microseconds in Jaeger and Zipkin); check the clock of the host that "
        "recorded them.",
    ),
    # -- attributes --------------------------------------------------------
    Rule(
        "A001",
        "attribute-name-style",
        _W,
        "custom key not lowercase dot-separated words",
        "`User ID`, `userId` and `user.id` become three attributes that cannot be queried "
        "together.",
        "Use lowercase words separated by dots (`user.id`, `order.amount`); `_` inside a "
        "word is fine.",
    ),
    Rule(
        "A002",
        "reserved-attribute-type",
        _E,
        "a reserved key with the wrong type/value (`error` not bool, status code not int, "
        "bad `span.kind`)",
        'Backends interpret reserved keys: `error="timeout"` does not mark the span '
        "failed, a string status code is not indexed as a number.",
        "Set `error` to the boolean true (better: set the span status to ERROR with a "
        "description), status codes as integers, `span.kind` to one of client, server, "
        "producer, consumer.",
    ),
    Rule(
        "A003",
        "numeric-string",
        _I,
        "a number recorded as a string",
        "Some backends do not index numeric strings as numbers, so range queries and "
        "aggregations miss them.",
        "Record numbers as int or float; identifiers that only look numeric (zip codes, "
        "IDs with leading zeros) stay strings.",
    ),
    Rule(
        "A004",
        "sensitive-attribute-key",
        _E,
        "a key that names a secret (token, password, authorization, cookie, ...)",
        "Spans are stored and shown in clear text to everyone with access to the tracing backend.",
        "Never record secrets in spans; tracehound redacts them in-process by default.",
    ),
    Rule(
        "A005",
        "sensitive-attribute-value",
        _E,
        "a value that is a secret (JWT, bearer token, card number, private key, cloud key)",
        "The key looks harmless but the value is a credential or card number, now stored "
        "in clear text.",
        "Do not record raw headers, URLs with credentials or payloads; tracehound redacts "
        "the secret part in-process by default.",
    ),
    Rule(
        "A006",
        "legacy-convention",
        _I,
        "an OpenTracing-era or older semantic-convention key with a current successor",
        "Dashboards and queries built on current semantic conventions will not find the old "
        "key. Stock OpenTelemetry instrumentation still records the older HTTP and database "
        "keys (`http.method`, `net.peer.name`, `db.statement`) unless told otherwise.",
        "From OpenTelemetry instrumentation: set `OTEL_SEMCONV_STABILITY_OPT_IN=http` "
        "(`http/dup` records both while dashboards move; `database` for database keys) or "
        "upgrade it. Keys your own code sets: rename to the successor "
        "(`http.status_code` -> `http.response.status_code`, ...).",
    ),
    Rule(
        "A007",
        "high-cardinality-span-name",
        _W,
        "span names carrying IDs (`GET /orders/123`)",
        "Span names are grouped and indexed; one name per order ID explodes cardinality "
        "and hides the operation.",
        "Name the operation with the route template (`GET /orders/{id}`) and put the ID in "
        "an attribute.",
    ),
    # -- configuration -----------------------------------------------------
    Rule(
        "K001",
        "propagators-mismatch",
        _E,
        "services configured with propagator sets that cannot talk to each other",
        "A caller that injects only one format and a callee that reads only another break "
        "every trace at that hop.",
        "Set `OTEL_PROPAGATORS=tracehound` (reads W3C, Jaeger and B3) everywhere, or a "
        "common format on both sides.",
    ),
    Rule(
        "K002",
        "sampling-disabled",
        _E,
        "sampling configured to record nothing (mesh random sampling 0, always_off)",
        "Nothing is recorded, so every trace looks missing.",
        "Set a non-zero sampling rate (Istio `randomSamplingPercentage`, "
        "`OTEL_TRACES_SAMPLER=parentbased_traceidratio` with an argument above 0).",
    ),
    Rule(
        "K003",
        "trace-header-not-forwarded",
        _E,
        "a proxy/mesh configuration strips or does not forward `traceparent`",
        "The proxy drops the header, so the service behind it starts a new trace.",
        "Allow `traceparent`, `tracestate` and `baggage` through the proxy (header "
        "allow-lists, Envoy `request_headers_to_remove`).",
    ),
    Rule(
        "K004",
        "tracing-provider-missing",
        _W,
        "the mesh has no tracing provider enabled, or its proxies' tracer is `none`",
        "The proxies create no spans, so the mesh's hops are missing from every trace; "
        "Istio configures no provider by default since 1.22.",
        "Enable a provider: `meshConfig.defaultProviders.tracing` or a `Telemetry` "
        "resource naming one of `meshConfig.extensionProviders`.",
    ),
    Rule(
        "K005",
        "zipkin-provider-b3-only",
        _W,
        "Istio's Zipkin provider sends only B3 headers (`traceContextOption` USE_B3) "
        "while apps read only W3C",
        "A trace the proxy starts reaches a W3C-only application without `traceparent`; "
        "the application starts a trace of its own.",
        "Set `traceContextOption: USE_B3_WITH_W3C` on the Zipkin provider, or add `b3` to "
        "the applications' `OTEL_PROPAGATORS`.",
    ),
    Rule(
        "K006",
        "inject-annotation-misplaced",
        _E,
        "the OpenTelemetry Operator's inject annotation is on the workload's metadata, "
        "not its pod template",
        "The Operator reads pod annotations only: the workload runs without instrumentation "
        "and no warning says so.",
        "Move the annotation to `spec.template.metadata.annotations`.",
    ),
    Rule(
        "K007",
        "env-overrides-instrumentation",
        _W,
        "a container's env sets what its `Instrumentation` resource sets, to another value",
        "The Operator never overrides a variable the container sets: the resource's "
        "propagators, sampler or endpoint silently do not apply to this workload.",
        "Remove the variable from the container, or make both say the same.",
    ),
    Rule(
        "K008",
        "tracing-disabled",
        _E,
        "`OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` on a workload",
        "The SDK creates or exports no spans: the service is missing from every trace "
        "and its callers' calls look broken.",
        "Remove the variable, or set `OTEL_TRACES_EXPORTER=otlp`.",
    ),
    Rule(
        "K009",
        "mesh-sampling-too-low",
        _W,
        "mesh sampling so low that the apps' parent-based samplers drop almost every trace",
        "A parent-based sampler follows the proxy's decision: at 1 % mesh sampling the "
        "applications record 1 trace in 100.",
        "Raise the mesh's sampling (`randomSamplingPercentage`, "
        "`defaultConfig.tracing.sampling`), or sample in the applications instead.",
    ),
    Rule(
        "G001",
        "log-trace-changed",
        _E,
        "one request's log lines carry another trace ID (or none) from one service on",
        "Followed by a key every service logs (an order ID, a request ID), the request kept "
        "its trace ID up to a service and lost it there: the callee started a new trace, "
        "or logged outside any span. The hop is where the trace broke, whatever the spans "
        "that reached the backend say.",
        "Compare the headers on the wire at this hop (is `traceparent` sent, and read?); "
        "carry the context into threads and tasks before the call (`tracehound."
        "ContextExecutor`); check the proxy between them forwards the trace headers.",
    ),
    Rule(
        "G002",
        "logs-not-correlated",
        _I,
        "a service that exports spans logs no trace ID",
        "Without the trace ID in its log lines, a service's logs cannot be joined to its "
        "traces, and a broken hop cannot be followed through its logs.",
        "Make the logging library write the active span's trace and span IDs on every "
        "line (the finding names the library and how).",
    ),
)

CATALOGUE: Mapping[str, Rule] = MappingProxyType({rule.code: rule for rule in _RULES})
"""Every rule, by code."""


def get_rule(code: str) -> Rule:
    """The rule for ``code`` (case-insensitive), or `UnknownRuleError` naming the codes."""
    try:
        return CATALOGUE[code.strip().upper()]
    except KeyError:
        raise UnknownRuleError(
            f"unknown rule {code!r}; known codes: {', '.join(CATALOGUE)}"
        ) from None
