// tracehound serve: the web UI. No build step, no other origin.
// Every value that came from a span is put in the page as text (textContent, or an
// attribute set with setAttribute); nothing here parses HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const POLL_MS = 2000;
let rules = {};
let report = null;
let reportVersion = -1;  // the version of `report` (its X-Tracehound-Version)
let version = -1;
let liveChecks = -1;
let selectedSpan = null;

function el(tag, props, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function link(route, ...children) {
  return el("a", { href: "#/" + route.map(encodeURIComponent).join("/") }, ...children);
}

async function getReport() {
  const answer = await fetch("/api/report", { headers: { accept: "application/json" } });
  if (!answer.ok) throw new Error("/api/report: " + answer.status);
  reportVersion = Number(answer.headers.get("X-Tracehound-Version"));
  report = await answer.json();
}

// What the live runs the report held here does not cover found (a newer report covers
// more live runs: then the report is fetched again, so that no run is left out).
async function liveAfterReport() {
  let live = await getJSON("/api/live");
  if (live.version !== reportVersion) {
    await getReport();
    live = await getJSON("/api/live");
  }
  return live;
}

async function getJSON(path) {
  const answer = await fetch(path, { headers: { accept: "application/json" } });
  if (!answer.ok) throw new Error(path + ": " + answer.status);
  return answer.json();
}

function ms(ns) {
  if (ns === null || ns === undefined) return "?";
  const v = ns / 1e6;
  return v >= 1000 ? (v / 1000).toFixed(2) + " s" : v >= 10 ? v.toFixed(0) + " ms" : v.toFixed(2) + " ms";
}

function when(ns) {
  return ns ? new Date(ns / 1e6).toISOString().replace("T", " ").slice(0, 23) : "?";
}

function pct(x) { return (100 * x).toFixed(x > 0 && x < 0.1 ? 1 : 0) + " %"; }

function badge(code, severity) {
  return el("span", { class: "badge " + (severity || (rules[code] || {}).severity || "info"), title: (rules[code] || {}).name }, code);
}

function setMain(...children) {
  const main = document.getElementById("main");
  main.replaceChildren();
  append(main, children);
}

// -- overview ---------------------------------------------------------------------
// The report's edges, with what the live runs it does not cover yet counted (while the
// server is behind its load, the report waits; the live runs check every span once).
function withLive(edges, live) {
  const merged = new Map(edges.map((e) => [[e.caller, e.callee, e.kind].join("\u0000"), { ...e }]));
  for (const e of live) {
    const key = [e.caller, e.callee, e.kind].join("\u0000");
    const m = merged.get(key);
    if (!m) { merged.set(key, { ...e, liveOnly: true }); continue; }
    m.calls += e.calls; m.continued += e.continued; m.broken += e.broken;
    m.break_rate = m.calls ? m.broken / m.calls : 0;
    m.callee_seen = m.callee_seen || e.callee_seen;
    if (!m.cause && e.cause) { m.cause = e.cause; m.fix = e.fix; }
    if (!m.example_trace_id) m.example_trace_id = e.example_trace_id;
  }
  return [...merged.values()].sort((a, b) => b.broken - a.broken || b.calls - a.calls);
}

function overview(status, live) {
  const r = report;
  const byCode = { ...r.counts.by_code };
  for (const [code, n] of Object.entries(live.by_code)) byCode[code] = (byCode[code] || 0) + n;
  const cards = el("div", { class: "cards" },
    card(status.spans_checked_live, "spans checked"),
    card(status.spans_pending, "spans waiting (trace not quiet yet)"),
    card(r.traces, "traces in the report"),
    card(r.services.length, "services"),
    card(r.counts.by_severity.error, "errors in the report"),
    card(r.counts.by_severity.warning, "warnings in the report"));
  const edges = withLive(r.edges, live.edges);
  const edgeRows = edges.map((e) => el("tr", { class: e.broken ? "broken" : null },
    el("td", {}, e.caller, " → ", e.callee, e.callee_seen ? null : el("span", { class: "muted" }, e.liveOnly ? " (no spans yet: checked live)" : " (no spans)")),
    el("td", {}, e.kind),
    el("td", { class: "num" }, e.calls),
    el("td", { class: "num" }, e.broken),
    el("td", { class: "nowrap" }, el("span", { class: "rate" }, el("span", { style: null, "data-w": e.break_rate })), pct(e.break_rate)),
    el("td", {}, e.cause ? el("div", {}, e.cause) : null, e.fix ? el("div", { class: "muted" }, "Fix: ", e.fix) : null),
    el("td", {}, e.example_trace_id ? link(["trace", e.example_trace_id], "example") : null)));
  const byRule = Object.entries(byCode).sort((a, b) => b[1] - a[1]).map(([code, n]) => el("tr", {},
    el("td", {}, badge(code)), el("td", {}, link(["rule", code], (rules[code] || {}).name || code)),
    el("td", { class: "num" }, n), el("td", { class: "muted" }, (rules[code] || {}).summary || "")));
  const page = [
    el("h1", {}, "Overview"), cards,
    el("h2", {}, "Service map"), edges.length ? serviceMap(r.services, edges) : el("div", { class: "empty" }, "No calls between services yet."),
    el("h2", {}, "Calls between services"),
    edges.length ? el("table", {}, el("tr", {}, ["call", "kind", "calls", "broken", "break rate", "cause", ""].map((h, i) =>
      el("th", { class: i === 2 || i === 3 ? "num" : null }, h))), edgeRows) : el("div", { class: "empty" }, "No edges yet."),
    el("h2", {}, "Findings by rule"),
    byRule.length ? el("table", {}, byRule) : el("div", { class: "empty" }, status.spans_checked_live ? "No findings: the traces hold together." : "Waiting for spans: point an OTLP exporter at " + location.origin + "/v1/traces"),
  ];
  setMain(page);
  for (const bar of document.querySelectorAll("[data-w]")) bar.style.width = (100 * Number(bar.dataset.w)) + "%";
}

function card(n, label) { return el("div", { class: "card" }, el("div", { class: "n" }, n), el("div", { class: "l" }, label)); }

function serviceMap(services, edges) {
  const names = [...new Set([...services, ...edges.flatMap((e) => [e.caller, e.callee])])];
  const depth = Object.fromEntries(names.map((n) => [n, 0]));
  for (let round = 0; round < names.length; round++) {
    for (const e of edges) if (e.caller !== e.callee && depth[e.callee] < depth[e.caller] + 1) depth[e.callee] = depth[e.caller] + 1;
  }
  const columns = {};
  for (const n of names) (columns[depth[n]] = columns[depth[n]] || []).push(n);
  const pos = {};
  let height = 0;
  for (const [d, col] of Object.entries(columns)) col.forEach((n, i) => { pos[n] = { x: 20 + Number(d) * 320, y: 20 + i * 60 }; height = Math.max(height, 80 + i * 60); });
  const width = 40 + (Math.max(...Object.values(depth)) + 1) * 320;
  const svg = el("svg:svg", { class: "map", viewBox: `0 0 ${width} ${height}`, height: height });
  for (const e of edges) {
    const a = pos[e.caller], b = pos[e.callee];
    if (!a || !b) continue;
    const cls = "edge " + (!e.callee_seen ? "unseen" : e.broken ? "broken" : "ok");
    const x1 = a.x + 150, y1 = a.y + 16, x2 = b.x, y2 = b.y + 16;
    svg.appendChild(el("svg:path", { class: cls, d: `M${x1},${y1} C${x1 + 40},${y1} ${x2 - 40},${y2} ${x2},${y2}` },
      el("svg:title", {}, `${e.caller} → ${e.callee}: ${e.calls} calls, ${e.broken} broken`)));
    svg.appendChild(el("svg:text", { class: "label", "text-anchor": "middle", x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 8 },
      `${e.calls} calls` + (e.broken ? ` · ${pct(e.break_rate)} broken` : "")));
  }
  for (const n of names) {
    const p = pos[n];
    svg.appendChild(el("svg:g", { class: "node" },
      el("svg:rect", { x: p.x, y: p.y, width: 150, height: 32, rx: 5 }),
      el("svg:text", { x: p.x + 10, y: p.y + 20 }, n.length > 20 ? n.slice(0, 19) + "…" : n)));
  }
  return svg;
}

// -- traces -----------------------------------------------------------------------
async function traces(params) {
  const service = params.get("service") || "";
  const brokenOnly = params.get("broken") === "1";
  const data = await getJSON("/api/traces?limit=200" + (service ? "&service=" + encodeURIComponent(service) : ""));
  const rows = data.traces.filter((t) => !brokenOnly || t.codes.length).map((t) => el("tr", { class: t.codes.some((c) => c.startsWith("C")) ? "broken" : null },
    el("td", { class: "mono" }, link(["trace", t.trace_id], t.trace_id.slice(0, 16) + "…")),
    el("td", {}, t.root_service ? [el("span", { class: "muted" }, t.root_service, " "), t.root_name] : el("span", { class: "muted" }, "(no root span)")),
    el("td", {}, when(t.start_ns)), el("td", { class: "num" }, ms(t.duration_ns)), el("td", { class: "num" }, t.spans),
    el("td", {}, t.services.join(", ")), el("td", {}, t.codes.map((c) => badge(c)))));
  const select = el("select", { id: "svc" }, el("option", { value: "" }, "all services"),
    report.services.map((s) => el("option", { value: s, selected: s === service ? "selected" : null }, s)));
  const box = el("input", { type: "checkbox", id: "broken", checked: brokenOnly ? "checked" : null });
  const apply = () => { location.hash = "#/traces?" + new URLSearchParams({ service: select.value, broken: box.checked ? "1" : "" }); };
  select.addEventListener("change", apply);
  box.addEventListener("change", apply);
  setMain(el("h1", {}, "Traces"),
    el("div", { class: "toolbar" }, select, el("label", {}, box, " with findings only"),
      data.pending ? el("span", { class: "muted" }, `${data.pending} traces still arriving (checked once quiet)`) : null),
    rows.length ? el("table", {}, el("tr", {}, ["trace", "root", "start (UTC)", "duration", "spans", "services", "findings"].map((h, i) =>
      el("th", { class: i === 3 || i === 4 ? "num" : null }, h))), rows) : el("div", { class: "empty" }, "No checked traces yet."));
}

// -- one trace ----------------------------------------------------------------------
async function traceView(id) {
  let t;
  try { t = await getJSON("/api/traces/" + encodeURIComponent(id)); } catch (err) {
    setMain(el("h1", {}, "Trace ", el("span", { class: "mono" }, id)), el("div", { class: "empty" }, "Not checked (yet): a trace is checked once no span of it arrived for a moment."));
    return;
  }
  const marks = {};
  for (const f of t.findings) {
    if (f.trace_id === t.trace_id && f.span_id) (marks[f.span_id] = marks[f.span_id] || []).push(f);
    if (f.code === "C003" && f.details.callee_trace_id === t.trace_id && f.details.callee_span_id) (marks[f.details.callee_span_id] = marks[f.details.callee_span_id] || []).push(f);
  }
  const byId = Object.fromEntries(t.spans.map((s) => [s.span_id, s]));
  const children = {};
  const roots = [];
  for (const s of t.spans) (s.parent_span_id && byId[s.parent_span_id] && s.parent_span_id !== s.span_id ? (children[s.parent_span_id] = children[s.parent_span_id] || []) : roots).push(s);
  const ordered = [];
  const walk = (s, depth) => { if (ordered.length > 5000 || s._seen) return; s._seen = true; ordered.push([s, depth]); for (const c of children[s.span_id] || []) walk(c, depth + 1); };
  roots.forEach((r) => walk(r, 0));
  const starts = t.spans.map((s) => s.start_ns).filter((x) => x);
  const t0 = Math.min(...starts);
  const t1 = Math.max(...t.spans.map((s) => (s.start_ns || t0) + (s.duration_ns || 0)));
  const span = Math.max(t1 - t0, 1);
  const details = el("div", { class: "details", id: "span-details" }, el("span", { class: "muted" }, "Select a span to see its attributes."));
  const rows = ordered.map(([s, depth]) => {
    const found = marks[s.span_id] || [];
    const left = s.start_ns ? (100 * (s.start_ns - t0)) / span : 0;
    const width = s.duration_ns ? Math.max((100 * s.duration_ns) / span, 0.3) : 0.3;
    const bar = el("div", { class: "wf-bar" + (found.length ? " marked" : s.status === "Error" ? " error" : ""), "data-l": left, "data-w": width, title: `${s.name} · ${ms(s.duration_ns)}` });
    const row = el("div", { class: "wf-row" + (found.length ? " marked" : ""), "data-span": s.span_id },
      el("div", { class: "wf-name", "data-d": depth },
        el("span", { class: "svc" }, s.service), s.name, " ", el("span", { class: "muted" }, s.kind.toLowerCase()), " ",
        found.map((f) => badge(f.code, f.severity))),
      el("div", { class: "wf-track" }, bar));
    row.addEventListener("click", () => showSpan(s, found, details, row));
    return row;
  });
  const causes = t.findings.filter((f) => !f.code.startsWith("A")).concat(t.findings.filter((f) => f.code.startsWith("A"))).slice(0, 50).map((f) => {
    const rule = rules[f.code] || {};
    return el("div", { class: "cause " + f.severity }, el("p", {}, badge(f.code, f.severity), link(["rule", f.code], rule.name || f.code), " · ", f.service || ""),
      el("p", { class: "pre" }, f.message), rule.fix ? el("p", { class: "muted" }, "Fix: ", rule.fix) : null);
  });
  const linked = t.linked.map((l) => el("li", {}, l.role === "callee" ? "The call broke here; it went on in trace " : "This trace is the lost half of a call from trace ",
    link(["trace", l.trace_id], el("span", { class: "mono" }, l.trace_id))));
  setMain(el("h1", {}, "Trace ", el("span", { class: "mono" }, t.trace_id)),
    el("p", { class: "muted" }, `${t.spans_total} spans · ${ms(span)} · started ${when(t0)} UTC`),
    linked.length ? el("ul", { class: "linked" }, linked) : null,
    causes.length ? [el("h2", {}, "Where it broke, and why"), causes] : el("p", {}, el("span", { class: "badge ok" }, "ok"), " No finding in this trace."),
    el("h2", {}, "Waterfall"), el("div", { class: "waterfall" }, rows), details);
  for (const bar of document.querySelectorAll(".wf-bar")) { bar.style.left = bar.dataset.l + "%"; bar.style.width = bar.dataset.w + "%"; }
  for (const name of document.querySelectorAll(".wf-name")) name.style.paddingLeft = (8 + 14 * Number(name.dataset.d)) + "px";
  const first = rows.find((r) => r.classList.contains("marked"));
  if (first) first.click();
}

function showSpan(s, found, details, row) {
  for (const r of document.querySelectorAll(".wf-row.selected")) r.classList.remove("selected");
  row.classList.add("selected");
  const shown = (value) => {
    const [type, v] = Object.entries(value || {})[0] || ["", null];
    return type === "intValue" ? String(v) : JSON.stringify(v ?? null);  // OTLP/JSON writes int64 as a string
  };
  const attrs = (s.attributes || []).map((kv) => el("tr", {}, el("td", {}, kv.key), el("td", {}, shown(kv.value))));
  details.replaceChildren();
  append(details, [el("strong", {}, s.service, " · ", s.name), el("div", { class: "muted mono" }, "span ", s.span_id, s.parent_span_id ? " · parent " + s.parent_span_id : " · root", " · ", s.kind, " · ", ms(s.duration_ns), " · status ", s.status, s.status_message ? ": " + s.status_message : ""),
    found.map((f) => el("p", { class: "pre" }, badge(f.code, f.severity), f.message)),
    attrs.length ? el("table", {}, attrs) : el("p", { class: "muted" }, "No attributes.")]);
}

// -- rules --------------------------------------------------------------------------
function rulesView() {
  const counts = report.counts.by_code;
  setMain(el("h1", {}, "Rules"), el("table", {}, Object.values(rules).map((r) => el("tr", {},
    el("td", {}, badge(r.code, r.severity)), el("td", {}, link(["rule", r.code], r.name)), el("td", { class: "num" }, counts[r.code] || ""), el("td", { class: "muted" }, r.summary)))));
}

function ruleView(code) {
  const r = rules[code];
  if (!r) { setMain(el("h1", {}, "Unknown rule ", code)); return; }
  const found = report.findings.filter((f) => f.code === code).slice(0, 200);
  setMain(el("h1", {}, badge(r.code, r.severity), r.name),
    el("p", {}, r.summary), el("h2", {}, "Why it matters"), el("p", {}, r.explanation), el("h2", {}, "How to fix it"), el("p", {}, r.fix),
    el("h2", {}, `Found here (${report.counts.by_code[code] || 0})`),
    found.length ? el("table", {}, found.map((f) => el("tr", {}, el("td", {}, f.service || ""), el("td", { class: "pre" }, f.message),
      el("td", {}, f.trace_id ? link(["trace", f.trace_id], "trace") : "")))) : el("div", { class: "empty" }, "Not found in what has arrived."));
}

// -- routing and live updates ---------------------------------------------------------
async function render() {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").map(decodeURIComponent);
  const params = new URLSearchParams(query || "");
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === (parts[0] || "overview") || (a.dataset.nav === "traces" && parts[0] === "trace") || (a.dataset.nav === "rules" && parts[0] === "rule"));
  const main = document.getElementById("main");
  delete main.dataset.view;
  const status = await getJSON("/api/status");
  if (parts[0] === "traces") await traces(params);
  else if (parts[0] === "trace") await traceView(parts[1] || "");
  else if (parts[0] === "rules") rulesView();
  else if (parts[0] === "rule") ruleView(parts[1] || "");
  else overview(status, await liveAfterReport());
  main.dataset.view = parts[0] || "overview";  // drawn (the tests wait for it)
}

function showStatus(status) {
  document.getElementById("status").textContent =
    `${status.spans_checked_live} spans checked live · ${status.spans_pending} waiting · ` +
    `report over ${status.spans_checked} spans at ${new Date(status.checked_at * 1000).toLocaleTimeString()}`;
}

async function poll() {
  try {
    const status = await getJSON("/api/status");
    showStatus(status);
    if (status.version !== version) {
      version = status.version;
      liveChecks = status.live_checks;
      await getReport();
      if (!location.hash.startsWith("#/trace/")) await render();  // a trace stays as it is while read
    } else if (status.live_checks !== liveChecks) {  // a live run: the overview adds it
      liveChecks = status.live_checks;
      if (!location.hash.replace(/^#\/?/, "")) await render();
    }
  } catch (err) {
    document.getElementById("status").textContent = "disconnected (" + err.message + ")";
  }
  setTimeout(poll, POLL_MS);
}

async function start() {
  for (const r of await getJSON("/api/rules")) rules[r.code] = r;
  await getReport();
  const status = await getJSON("/api/status");
  version = status.version;
  liveChecks = status.live_checks;
  showStatus(status);
  window.addEventListener("hashchange", () => render());
  await render();
  document.body.dataset.ready = "1";
  setTimeout(poll, POLL_MS);
}

start();
