// The wallboard: renders the board's JSON snapshot (the page carries the first one) and asks
// /wallboard/data for a new one every few seconds. Polling is the interim transport: the same
// JSON can arrive over the desk's event stream instead (render(snapshot) is all it needs).
"use strict";
(() => {
  const root = document.getElementById("wallboard");
  if (!root) return;
  const zh = root.dataset.zh === "1";
  const refresh = Math.max(2, Number(root.dataset.refresh) || 5) * 1000;
  if (root.dataset.dark === "1") document.body.classList.add("wall-dark");
  let received = Date.now();
  let agents = [];

  const dash = "—";
  const pct = (r) => (r && r.percent !== null ? `${r.percent} %` : dash);
  const ratioTitle = (r) => (r ? `${r.numerator} / ${r.denominator}` : "");
  const secs = (v) => (v === null || v === undefined ? dash : `${Math.round(Number(v))} s`);
  const clock = (s) => {
    if (s === null || s === undefined) return dash;
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? `${h}:${String(m).padStart(2, "0")}` : `${m}`) + `:${String(r).padStart(2, "0")}`;
  };
  const cell = (row, text, cls, title, figure) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    if (title) td.title = title;
    if (figure) td.dataset.figure = figure;
    row.appendChild(td);
    return td;
  };
  // Every number's hover text: its counts, then its name and formula (the reports' definitions).
  let docs = {};
  const explain = (figure, counts) => [counts, docs[figure]].filter(Boolean).join(" · ");

  function queues(snapshot) {
    const body = document.getElementById("wb-queues");
    body.replaceChildren();
    if (!snapshot.queues.length) {
      const row = document.createElement("tr");
      cell(row, body.dataset.empty, "empty").colSpan = 12;
      body.appendChild(row);
    }
    for (const q of snapshot.queues) {
      [["today", zh ? "今日" : "today"], ["last_hour", zh ? "近一小时" : "last hour"]].forEach(([key, label], i) => {
        const row = document.createElement("tr");
        row.dataset.queue = q.skill;
        row.dataset.period = key;
        if (i === 0) {
          const name = document.createElement("th");
          name.scope = "row";
          name.rowSpan = 2;
          name.textContent = zh ? q.label_zh : q.label_en;
          row.appendChild(name);
        }
        cell(row, label, "period");
        if (i === 0) {
          cell(row, q.waiting === null ? dash : String(q.waiting), "big" + (q.waiting ? " warn" : ""), explain("waiting"), "waiting").rowSpan = 2;
          cell(row, q.longest_wait_seconds === null ? dash : clock(q.longest_wait_seconds), "big", explain("longest_wait"), "longest_wait").rowSpan = 2;
        }
        const f = q[key];
        cell(row, String(f.offered), "num", explain("offered", f.in_progress ? `+${f.in_progress} ${zh ? "进行中" : "in progress"}` : ""), "offered");
        cell(row, String(f.answered), "num", explain("answered"), "answered");
        cell(row, String(f.abandoned), "num", explain("abandoned"), "abandoned");
        cell(row, pct(f.abandon_rate), "num", explain("abandon_rate", ratioTitle(f.abandon_rate)), "abandon_rate");
        cell(row, pct(f.service_level), "num", explain("service_level", `${ratioTitle(f.service_level)} ≤ ${q.threshold_seconds} s`), "service_level");
        const met = f.answer_rate.percent === null ? "" : Number(f.answer_rate.percent) >= Number(snapshot.answer_rate_target) ? " good" : " bad";
        cell(row, pct(f.answer_rate), "num rate" + met, explain("answer_rate", ratioTitle(f.answer_rate)), "answer_rate");
        cell(row, secs(f.average_wait), "num", explain("average_wait"), "average_wait");
        cell(row, secs(f.average_handle_time), "num", explain("average_handle_time"), "average_handle_time");
        body.appendChild(row);
      });
    }
  }

  let reasons = {};
  const stateText = (a) => labels[a.state] + (a.pause_reason ? ` · ${reasons[a.pause_reason] || a.pause_reason}` : "");

  function agentRows() {
    const body = document.getElementById("wb-agents");
    body.replaceChildren();
    for (const a of agents) {
      const row = document.createElement("tr");
      row.dataset.state = a.state;
      if (a.seat) row.dataset.seat = a.seat;
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = a.name;
      name.title = a.interface;
      row.appendChild(name);
      const state = cell(row, stateText(a), `state ${a.state}`);
      state.dataset.state = a.state;
      const since = cell(row, dash, "num", explain("time_in_state"), "time_in_state");
      if (a.seconds_in_state !== null) since.dataset.seconds = String(a.seconds_in_state);
      cell(row, String(a.calls_taken), "num", explain("calls_taken"), "calls_taken");
      cell(row, a.queues.join(", "));
      const control = cell(row, "");
      if (a.seat) {
        const manage = document.createElement("button");
        manage.type = "button";
        manage.className = "link";
        manage.dataset.manage = a.seat;
        manage.textContent = body.dataset.manage;
        manage.addEventListener("click", () => openPanel(a.seat));
        control.appendChild(manage);
      }
      body.appendChild(row);
    }
    tick();
  }

  // The time in state counts on between snapshots; only those cells change each second.
  function tick() {
    const elapsed = Math.floor((Date.now() - received) / 1000);
    for (const td of document.querySelectorAll("#wb-agents td[data-seconds]")) td.textContent = clock(Number(td.dataset.seconds) + elapsed);
  }

  // -- seat control: one panel for the seat picked in the list, kept across refreshes.
  const panel = document.getElementById("wb-seat");
  let picked = null;
  function openPanel(seat) {
    picked = seat;
    for (const input of panel.querySelectorAll("input[name=seat]")) input.value = seat;
    panel.hidden = false;
    fillPanel();
    panel.scrollIntoView({ block: "nearest" });
  }
  function fillPanel() {
    if (!panel || panel.hidden || picked === null) return;
    const a = agents.find((x) => x.seat === picked);
    const field = (name, text) => { panel.querySelector(`[data-seat-field=${name}]`).textContent = text; };
    field("seat", picked);
    field("name", a ? a.name : dash);
    field("state", a ? stateText(a) : labels.unavailable);
    panel.dataset.state = a ? a.state : "gone";
    const show = (action, on) => { const form = panel.querySelector(`form[data-seat-action=${action}]`); if (form) form.hidden = !on; };
    show("pause", a && a.state !== "paused");
    show("unpause", a && (a.state === "paused" || a.state === "wrapup"));
    show("logoff", Boolean(a));
    show("listen", Boolean(a));
  }
  if (panel) panel.querySelector("[data-seat-close]").addEventListener("click", () => { panel.hidden = true; picked = null; });

  let labels = {};
  function render(snapshot) {
    received = Date.now();
    labels = snapshot.state_labels;
    reasons = snapshot.reason_labels || {};
    docs = snapshot.figure_docs || {};
    agents = snapshot.agents;
    document.getElementById("wb-at").textContent = new Date(snapshot.at).toLocaleTimeString(zh ? "zh-CN" : "en-GB", { hour12: false });
    const live = document.getElementById("wb-live");
    live.className = snapshot.live ? "wb-up" : "wb-down";
    live.textContent = snapshot.live ? live.dataset.live : live.dataset.stale;
    queues(snapshot);
    agentRows();
    fillPanel();
    document.getElementById("wb-counts").textContent = Object.entries(snapshot.agent_counts)
      .filter(([, n]) => n > 0).map(([state, n]) => `${labels[state]} ${n}`).join(" · ");
    root.dataset.updated = snapshot.at;
  }

  let timer = null;
  async function poll() {
    clearTimeout(timer);
    try {
      const response = await fetch(root.dataset.src, { credentials: "same-origin", headers: { accept: "application/json" } });
      if (!response.ok || !(response.headers.get("content-type") || "").includes("json")) throw new Error(String(response.status));
      render(await response.json());
      document.getElementById("wb-stale").hidden = true;
    } catch (error) {
      document.getElementById("wb-stale").hidden = false;
    }
    timer = setTimeout(poll, refresh);
  }

  render(JSON.parse(root.dataset.initial));
  // Back from a seat action: the panel shows that seat again, as Asterisk now reports it.
  const back = new URLSearchParams(location.search).get("seat");
  if (back && panel) openPanel(back);
  setInterval(tick, 1000);
  timer = setTimeout(poll, refresh);
  // The live stream (live.js) says when queues or agents changed: fetch at once; the timer
  // stays as the fallback while the stream is down.
  document.addEventListener("hotline:queues", () => poll());
  window.hotlineWallboard = { render };
})();
