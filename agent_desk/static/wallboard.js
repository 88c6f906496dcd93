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
  const cell = (row, text, cls, title) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    if (title) td.title = title;
    row.appendChild(td);
    return td;
  };

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
          cell(row, q.waiting === null ? dash : String(q.waiting), "big" + (q.waiting ? " warn" : ""), "").rowSpan = 2;
          cell(row, q.longest_wait_seconds === null ? dash : clock(q.longest_wait_seconds), "big", "").rowSpan = 2;
        }
        const f = q[key];
        cell(row, String(f.offered), "num", f.in_progress ? `+${f.in_progress} ${zh ? "进行中" : "in progress"}` : "");
        cell(row, String(f.answered), "num");
        cell(row, String(f.abandoned), "num");
        cell(row, pct(f.abandon_rate), "num", ratioTitle(f.abandon_rate));
        cell(row, pct(f.service_level), "num", `${ratioTitle(f.service_level)} ≤ ${q.threshold_seconds} s`);
        const met = f.answer_rate.percent === null ? "" : Number(f.answer_rate.percent) >= Number(snapshot.answer_rate_target) ? " good" : " bad";
        cell(row, pct(f.answer_rate), "num rate" + met, `${ratioTitle(f.answer_rate)} (≥ ${snapshot.answer_rate_target} %)`);
        cell(row, secs(f.average_wait), "num");
        cell(row, secs(f.average_handle_time), "num");
        body.appendChild(row);
      });
    }
  }

  function agentRows(labels) {
    const body = document.getElementById("wb-agents");
    const elapsed = Math.floor((Date.now() - received) / 1000);
    body.replaceChildren();
    for (const a of agents) {
      const row = document.createElement("tr");
      row.dataset.state = a.state;
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = a.name;
      name.title = a.interface;
      row.appendChild(name);
      const state = cell(row, labels[a.state] + (a.pause_reason ? ` · ${a.pause_reason}` : ""), `state ${a.state}`);
      state.dataset.state = a.state;
      cell(row, a.seconds_in_state === null ? dash : clock(a.seconds_in_state + elapsed), "num");
      cell(row, a.queues.join(", "));
      cell(row, String(a.calls_taken), "num");
      body.appendChild(row);
    }
  }

  let labels = {};
  function render(snapshot) {
    received = Date.now();
    labels = snapshot.state_labels;
    agents = snapshot.agents;
    document.getElementById("wb-at").textContent = new Date(snapshot.at).toLocaleTimeString(zh ? "zh-CN" : "en-GB", { hour12: false });
    const live = document.getElementById("wb-live");
    live.className = snapshot.live ? "live" : "stale";
    live.textContent = snapshot.live ? live.dataset.live : live.dataset.stale;
    queues(snapshot);
    agentRows(labels);
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
  setInterval(() => agentRows(labels), 1000);
  timer = setTimeout(poll, refresh);
  // The live stream (live.js) says when queues or agents changed: fetch at once; the timer
  // stays as the fallback while the stream is down.
  document.addEventListener("hotline:queues", () => poll());
  window.hotlineWallboard = { render };
})();
