// nicelist dashboard: polls /api/state and writes it into the page.
// Everything from the state is data from the table and from log files: it goes into the page as
// textContent or attribute values only, never as markup.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const TIMEOUT_MS = 3000;
const STUCK_SECONDS = 15; // a reading older than this means the collector is stuck
let run = null; // the dashboard process the page's history belongs to
let lastGood = null; // when the server last answered
let lostSince = null; // when it stopped answering
let interval = 1000;

const $ = (id) => document.getElementById(id);
const clock = (epoch) => (epoch ? new Date(epoch * 1000).toLocaleTimeString() : "never");
const known = (v) => v !== null && v !== undefined;
const num = (v, digits = 0) => (known(v) ? Number(v).toLocaleString(undefined, { maximumFractionDigits: digits }) : "unknown");

function put(id, text, value) {
  const el = $(id);
  el.textContent = text;
  el.dataset.value = known(value) ? String(value) : "";
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

function banner(text) {
  const el = $("banner");
  el.hidden = !text;
  el.textContent = text || "";
  document.body.dataset.state = text ? "lost" : "live";
}

function markStale(feeds, serverLost) {
  for (const panel of document.querySelectorAll(".panel")) {
    const names = panel.dataset.feed.split(" ");
    const stale = serverLost || names.some((n) => feeds[n] && feeds[n].ok === false);
    panel.classList.toggle("stale", stale);
  }
}

function showQueue(s) {
  put("queue-visible", num(s.visible), s.visible);
  put("queue-in-flight", num(s.in_flight), s.in_flight);
  put("queue-delayed", num(s.delayed), s.delayed);
  put("queue-backlog", known(s.backlog) ? `${num(s.backlog)} messages` : "unknown", s.backlog);
  const age = s.oldest_age_seconds;
  put("queue-age", known(age) ? `${num(age)} s` : "unknown (no CloudWatch datapoint)", age);
  put("dlq", num(s.dlq_visible), s.dlq_visible);
}

function showTable(s) {
  const rate = s.measured_write_rate;
  put("write-rate", known(rate) ? `${num(rate, 1)} WCU/s (${s.measured_by}, mean of the last 60 s)` : "unknown", rate);
  const cap = s.table_write_capacity;
  put("capacity", known(cap) ? `${num(cap)} WCU/s` : "on-demand or unknown", cap);
  put("budget", known(s.write_budget) ? `${num(s.write_budget, 1)} WCU/s` : "unset", s.write_budget);
  put("concurrency", num(s.writer_concurrency), s.writer_concurrency);
  const t = s.throttles;
  put("throttles", known(t) ? `${num(t)} in the last ${s.throttles_window_seconds} s` : "unknown", t);
  put("drain", s.drain && s.drain.line ? s.drain.line : "–", s.drain ? s.drain.seconds : null);
}

function showChart(meter, status) {
  const series = (meter && meter.series) || [];
  const capacity = (meter && meter.capacity) || (status && status.table_write_capacity) || 0;
  const peak = Math.max(capacity, ...series.map((p) => p.units + p.throttled_units), 1);
  const scale = (v) => (110 - (v / peak) * 100).toFixed(1);
  const step = 600 / Math.max(series.length - 1, 1);
  $("rate-line").setAttribute("points", series.map((p, i) => `${(i * step).toFixed(1)},${scale(p.units)}`).join(" "));
  $("rate-throttled").setAttribute(
    "points", series.map((p, i) => `${(i * step).toFixed(1)},${scale(p.throttled_units)}`).join(" "));
  const y = capacity ? scale(capacity) : -10;
  $("rate-capacity").setAttribute("y1", y);
  $("rate-capacity").setAttribute("y2", y);
  const last = series.length ? series[series.length - 1] : null;
  $("rate-chart").dataset.lastUnits = last ? String(last.units) : "";
  $("rate-chart").dataset.totalUnits = meter && known(meter.total_units) ? String(meter.total_units) : "";
}

function showWriters(w) {
  const slots = $("executions");
  clear(slots);
  const count = Math.max(w.concurrency, w.executions);
  for (let i = 0; i < count; i += 1) {
    const slot = document.createElement("span");
    const busy = i < w.in_flight;
    slot.className = busy ? "slot busy" : "slot";
    slot.textContent = `writer ${i + 1}: ${busy ? "busy" : i < w.executions ? "idle" : "not started"}`;
    slots.appendChild(slot);
  }
  put("writers-busy", `${num(w.in_flight)} busy / ${num(w.executions)} live (C ${num(w.concurrency)})`, w.in_flight);
  put("invocations", num(w.invocations), w.invocations);
  put("errors", `${num(w.batch_failures)} (${num(w.timeouts)} timeouts)`, w.batch_failures);
  put("writer-throttles", num(w.throttled_invocations), w.throttled_invocations);
  put("records-deleted", num(w.records_deleted), w.records_deleted);
}

function showAlarms(alarms, notifications) {
  const list = $("alarms");
  clear(list);
  for (const alarm of alarms || []) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = alarm.name;
    const state = document.createElement("span");
    state.className = "state " + String(alarm.state).replace(/[^A-Z_]/g, "");
    state.textContent = alarm.state;
    li.append(name, state);
    list.appendChild(li);
  }
  const notes = $("notifications");
  clear(notes);
  for (const n of notifications) {
    const li = document.createElement("li");
    li.textContent = `${n.time || "?"}  ${n.alarm || "?"}: ${n.previous || "?"} → ${n.state || "?"}  ${n.reason || ""}`;
    notes.appendChild(li);
  }
  if (!notifications.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "none (the run directory has no notifications.log lines)";
    notes.appendChild(li);
  }
}

function showMap(map) {
  const group = $("markers");
  const children = (map && map.children) || [];
  const seen = new Set();
  for (const child of children) {
    seen.add(child.id);
    let dot = group.querySelector(`circle[data-child="${CSS.escape(child.id)}"]`);
    if (!dot) {
      dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("r", "1.8");
      dot.dataset.child = child.id;
      dot.appendChild(document.createElementNS(SVG, "title"));
      group.appendChild(dot);
    }
    const status = child.status === "nice" || child.status === "naughty" ? child.status : "unknown";
    dot.setAttribute("cx", String(child.lon));
    dot.setAttribute("cy", String(-child.lat));
    dot.setAttribute("class", status);
    dot.dataset.lat = String(child.lat);
    dot.dataset.lon = String(child.lon);
    dot.dataset.status = child.status || "";
    dot.firstChild.textContent = `${child.id}: ${child.status || "no status"}, seen ${child.observed_at}`;
  }
  for (const dot of Array.from(group.children)) {
    if (!seen.has(dot.dataset.child)) dot.remove();
  }
  $("map-count").textContent = map ? `(${children.length} of ${map.sampled} sampled, ${map.known} known)` : "";
  $("map-cost").textContent = map ? `${map.queries} Query requests per map refresh ≈ ${map.rcu_per_refresh} RCU` : "";
}

function lostText(state) {
  const lost = Object.values(state.feeds).filter((f) => f.ok === false);
  if (!lost.length) return "";
  const parts = lost.map((f) => `${f.name} not answering since ${clock(f.down_since)} (last good ${clock(f.last_ok)})`);
  return `Lost the stack: ${parts.join("; ")}. Figures from those sources are stale.`;
}

function render(state) {
  if (state.run !== run) {
    run = state.run; // a new dashboard process (the stack was restarted): nothing of the old one is kept
    clear($("markers"));
    document.body.dataset.run = run;
  }
  interval = Math.max(500, (state.interval || 1) * 1000);
  $("stage").textContent = state.stage;
  $("updated").textContent = `updated ${clock(state.now)}`;
  $("updated").dataset.now = String(state.now);
  if (state.status) {
    showQueue(state.status);
    showTable(state.status);
    showAlarms(state.status.alarms, state.notifications || []);
  }
  showChart(state.meter, state.status);
  if (state.writers) showWriters(state.writers);
  showMap(state.map);
  const behind = Date.now() / 1000 - state.now;
  const stuck = behind > STUCK_SECONDS || state.error;
  markStale(state.feeds, Boolean(stuck));
  if (stuck) {
    banner(`Lost the stack: the dashboard has had no fresh reading since ${clock(state.now)}`
      + (state.error ? ` (${state.error})` : "") + ". Figures are stale.");
  } else {
    banner(lostText(state));
  }
}

async function poll() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    const response = await fetch("/api/state", { cache: "no-store", signal: abort.signal });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const state = await response.json();
    lastGood = Date.now();
    lostSince = null;
    render(state);
  } catch (error) {
    lostSince = lostSince || Date.now();
    markStale({}, true);
    banner(`Lost the stack: the dashboard server does not answer (${error.message || error}) since `
      + `${new Date(lostSince).toLocaleTimeString()}; figures are from `
      + `${lastGood ? new Date(lastGood).toLocaleTimeString() : "never"}. Retrying…`);
  } finally {
    clearTimeout(timer);
    setTimeout(poll, interval);
  }
}

poll();
