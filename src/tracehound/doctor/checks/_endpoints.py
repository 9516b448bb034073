"""Where calls went and where servers listened, from what both sides record.

In a cluster a client rarely names its callee's ``service.name``: it calls
``payments.shop.svc.cluster.local``, ``10.0.3.7:8080`` or ``127.0.0.1:18082``.
The server side records the same address — the ``Host`` header it received
(``server.address``/``server.port``, ``http.host``, ``url.full``) — so an
address → service map can be read from the servers' own spans, even when every
call to them broke and nothing continued to learn from.

`ENDPOINTS` makes, per distinct attribute list:

- ``th_targets``: what a CLIENT/PRODUCER/CONSUMER span names as its peer
  (``peer``), its address (``host``, ``port`` — the scheme's default when the
  URL has none), the request (``path``, ``method``; an RPC's path is
  ``/service/method``, as gRPC sends it), the messaging destination and message
  ID, for calls to databases and the like, the peer system (``system``), and an
  RPC's service (``rpc``);
- ``th_served``: the same for SERVER spans (every root, since those are the
  answers C003 pairs, and a sample per service of those that answered a call);
- ``th_addr``: ``key`` → ``service`` with the number of spans that say so, and
  whether a ``h:`` host's servers said their ports (``ported``); keys are
  ``hp:host:port`` (from the server spans) and ``h:host`` (their host
  alone, and the resource's ``host.name``, ``k8s.pod.ip``, ``k8s.pod.name`` and
  workload names, which are what a client's host name starts with in a cluster).
"""

from __future__ import annotations

__all__ = ["ATTRIBUTE_KEYS", "ENDPOINTS", "SERVED_SAMPLE"]

SERVED_SAMPLE = 256
"""SERVER spans that answered a call, read per service to learn its addresses (they repeat)."""

_MACROS = r"""
-- the entries of an attribute list that name an address, a request or a message, with
-- their value as text: the lists are long, the look-ups many, the entries wanted few
CREATE OR REPLACE MACRO th_wanted(a) AS list_transform(  -- (th_attrs' test and the keys': one pass)
    list_filter(th_attr_entries(a), lambda x: x.key IN ({keys}) AND starts_with(x.value, '{{')),
    lambda x: {{'key': x.key,
               'v': coalesce(x.value ->> 'stringValue', x.value ->> 'intValue')}});
CREATE OR REPLACE MACRO th_val(al, k) AS list_filter(al, lambda x: x.key = k)[1].v;
CREATE OR REPLACE MACRO th_url(u) AS regexp_extract(u,
    '^([a-zA-Z][a-zA-Z0-9+.-]*)://(?:[^/?#@]*@)?(\[[^\]/]*\]|[^/:?#]*)(?::([0-9]*))?([^?#]*)',
    ['scheme', 'host', 'port', 'path']);
CREATE OR REPLACE MACRO th_hostport(h) AS
    regexp_extract(h, '^(\[[^\]]*\]|[^:/]*)(?::([0-9]+))?', ['host', 'port']);
CREATE OR REPLACE MACRO th_port(p, scheme) AS coalesce(
    try_cast(nullif(p, '') AS INTEGER),
    CASE lower(scheme) WHEN 'https' THEN 443 WHEN 'http' THEN 80 WHEN 'grpc' THEN 80 END);
CREATE OR REPLACE MACRO th_path(p) AS nullif(split_part(split_part(p, '?', 1), '#', 1), '');
-- the method of an RPC as gRPC sends it, as the HTTP/2 path /package.Service/Method
CREATE OR REPLACE MACRO th_rpc_path(al) AS
    ('/' || th_val(al, 'rpc.service') || '/' || th_val(al, 'rpc.method'));
"""

# The client's address: what it dialled (server.address, net.peer.name, the URL);
# the server's: the Host header it received, which is what the client dialled.
_TARGETS = """
CREATE OR REPLACE TEMP TABLE th_targets AS
WITH d AS (
    SELECT DISTINCT SpanAttributes AS a FROM otel_traces
    WHERE SpanKind IN ('Client', 'Producer', 'Consumer')
), l AS (
    SELECT a, th_wanted(a) AS al FROM d
), v AS (
    SELECT a, al, th_url(coalesce(th_val(al, 'url.full'), th_val(al, 'http.url'))) AS u,
           th_hostport(th_val(al, 'http.host')) AS hh
    FROM l
)
-- service.peer.name replaced peer.service in the semantic conventions: read both
SELECT a, coalesce(th_val(al, 'service.peer.name'), th_val(al, 'peer.service')) AS peer,
       CASE WHEN th_val(al, 'service.peer.name') IS NOT NULL
            THEN 'service.peer.name' ELSE 'peer.service' END AS peer_key,
       nullif(lower(coalesce(th_val(al, 'server.address'), th_val(al, 'net.peer.name'),
                             nullif(u.host, ''), nullif(hh.host, ''))), '') AS host,
       th_port(coalesce(th_val(al, 'server.port'), th_val(al, 'net.peer.port'),
                        nullif(u.port, ''), nullif(hh.port, '')),
               coalesce(nullif(u.scheme, ''), th_val(al, 'url.scheme'),
                        th_val(al, 'http.scheme'))) AS port,
       coalesce(th_path(u.path), CASE WHEN u.host <> '' THEN '/' END,
                th_path(th_val(al, 'url.path')), th_path(th_val(al, 'http.target')),
                th_rpc_path(al)) AS path,
       upper(coalesce(th_val(al, 'http.request.method'), th_val(al, 'http.method'))) AS method,
       coalesce(th_val(al, 'messaging.destination.name'),
                th_val(al, 'messaging.destination')) AS dest,
       coalesce(th_val(al, 'db.system.name'), th_val(al, 'db.system'),
                th_val(al, 'messaging.system'), th_val(al, 'rpc.system')) AS system,
       th_val(al, 'rpc.service') AS rpc,
       coalesce(th_val(al, 'messaging.message.id'), th_val(al, 'messaging.message_id'))
           AS message_id
FROM v;
"""

_SERVED = """
-- The spans C003 reads whole, in one pass over the span table: the entry spans with no
-- parent in their trace (C003's answers: `answer`) and, to learn addresses from, the
-- SERVER spans that answered a call of another service: what a server says it was called
-- at is the same on every request, so a sample per service does.
CREATE OR REPLACE TEMP TABLE th_entries AS
WITH picked AS (
    SELECT child AS rid, parent IS NULL AS root, service FROM th_link
    WHERE parent IS NULL AND kind IN ('Server', 'Consumer') OR kind = 'Server' AND pkind = 'Client'
), chosen AS (
    SELECT rid, true AS answer FROM picked WHERE root
    UNION ALL  -- a grouping, not a sort: at most {sample} answers per service
    SELECT min(rid), false FROM picked WHERE NOT root GROUP BY service, rid % {sample}
)
SELECT c.answer, o.rowid AS rid, o.TraceId, o.SpanId, o.ParentSpanId, o.ServiceName, o.SpanKind,
       o.SpanName, epoch_ns(o."Timestamp") AS s, o.SpanAttributes AS a, o.ResourceAttributes AS r
FROM otel_traces o JOIN chosen c ON c.rid = o.rowid;
CREATE OR REPLACE TEMP VIEW th_server_spans AS
SELECT rid, ServiceName, a, r FROM th_entries WHERE SpanKind = 'Server';
CREATE OR REPLACE TEMP TABLE th_served AS
WITH d AS (
    SELECT DISTINCT a FROM th_server_spans
), l AS (
    SELECT a, th_wanted(a) AS al FROM d
), v AS (
    SELECT a, al, th_url(coalesce(th_val(al, 'url.full'), th_val(al, 'http.url'))) AS u,
           th_hostport(coalesce(th_val(al, 'http.host'), th_val(al, 'net.host.name'))) AS hh,
           -- WSGI instrumentation writes the whole Host header here: 'host:port'
           th_hostport(th_val(al, 'server.address')) AS sa,
           coalesce(th_val(al, 'url.scheme'), th_val(al, 'http.scheme')) AS scheme
    FROM l
)
SELECT a,
    nullif(lower(coalesce(nullif(hh.host, ''), nullif(sa.host, ''), nullif(u.host, ''))), '')
        AS host,
    -- a Host header without a port means the scheme's default: that is what was dialled
    CASE WHEN hh.host <> '' THEN th_port(hh.port, coalesce(scheme, nullif(u.scheme, '')))
         WHEN sa.host <> ''
         THEN th_port(coalesce(nullif(sa.port, ''), th_val(al, 'server.port')), scheme)
         ELSE th_port(nullif(u.port, ''), coalesce(scheme, nullif(u.scheme, ''))) END AS port,
    coalesce(th_path(th_val(al, 'url.path')), th_path(th_val(al, 'http.target')),
             th_path(u.path), th_rpc_path(al)) AS path,
    upper(coalesce(th_val(al, 'http.request.method'), th_val(al, 'http.method'))) AS method
FROM v;
"""

_ADDRESSES = """
CREATE OR REPLACE TEMP TABLE th_addr AS
WITH said AS (
    SELECT 'hp:' || e.host || ':' || e.port AS key, s.ServiceName AS service
    FROM th_server_spans s JOIN th_served e ON e.a = s.a
    WHERE e.host IS NOT NULL AND e.port IS NOT NULL
    UNION ALL
    SELECT 'h:' || e.host, s.ServiceName
    FROM th_server_spans s JOIN th_served e ON e.a = s.a WHERE e.host IS NOT NULL
), resources AS (
    SELECT service, th_wanted(r) AS al
    FROM (SELECT DISTINCT ServiceName AS service, r FROM th_server_spans)
), named AS (  -- where the service runs, as a client's host name would say it
    SELECT service, unnest([th_val(al, 'host.name'), th_val(al, 'k8s.pod.ip'),
                            th_val(al, 'k8s.pod.name'), th_val(al, 'k8s.deployment.name'),
                            th_val(al, 'k8s.statefulset.name'),
                            th_val(al, 'k8s.daemonset.name'), service]) AS host
    FROM resources
)
SELECT key, service, count(*) AS n,
       -- a host whose servers all said their port: another port there is another server
       key LIKE 'h:%' AND key IN (SELECT 'h:' || host FROM th_served WHERE port IS NOT NULL)
           AS ported
FROM said GROUP BY ALL
UNION ALL
SELECT DISTINCT 'h:' || lower(host), service, 1, false FROM named
WHERE host IS NOT NULL AND host <> ''
  AND 'h:' || lower(host) NOT IN (SELECT key FROM said);
"""

ATTRIBUTE_KEYS = (
    "url.full", "http.url", "http.host", "server.address", "server.port", "net.peer.name",
    "net.peer.port", "url.scheme", "http.scheme", "url.path", "http.target",
    "http.request.method", "http.method", "service.peer.name", "peer.service",
    "messaging.destination.name", "messaging.destination", "messaging.message.id",
    "messaging.message_id", "db.system.name", "db.system", "messaging.system", "rpc.system",
    "rpc.service", "rpc.method", "net.host.name", "host.name", "k8s.pod.ip", "k8s.pod.name",
    "k8s.deployment.name", "k8s.statefulset.name", "k8s.daemonset.name",
)  # fmt: skip
"""Every attribute key the SQL reads (span and resource): ``th_wanted`` keeps these."""

ENDPOINTS = (
    _MACROS.format(keys=", ".join(f"'{k}'" for k in ATTRIBUTE_KEYS))
    + _TARGETS
    + _SERVED.format(sample=SERVED_SAMPLE)
    + _ADDRESSES
)
