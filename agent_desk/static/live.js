// The live stream (server-sent events): the status line, the seat badge and console, the
// screen pop and ticket notices. Loaded on every signed-in page; text comes from the page's
// data-labels (the user's language), and every value is set as text, never as markup.
"use strict";
(() => {
  const live = document.getElementById("live");
  if (!live) return;
  const labels = JSON.parse(live.dataset.labels || "{}");
  const label = (key, fallback) => labels[key] || fallback || key;
  const status = live.querySelector(".live-status");
  // The last event this tab saw: a new page resumes from it, so a pop sent while the
  // operator moved between pages is not lost.
  const KEY = "hotline-desk-last-event";
  let source = null;
  let retry = null;

  function show(state) {
    live.dataset.state = state;
    status.textContent = label("live_" + state, state);
    document.body.classList.toggle("live-down", state === "reconnecting" || state === "closed");
  }

  function remember(event) {
    if (event.lastEventId) {
      try { sessionStorage.setItem(KEY, event.lastEventId); } catch (e) { /* private mode: resume only within the page */ }
    }
  }

  function connect() {
    clearTimeout(retry);
    let last = null;
    try { last = sessionStorage.getItem(KEY); } catch (e) { last = null; }
    source = new EventSource(live.dataset.events + (last ? "?last=" + encodeURIComponent(last) : ""));
    show("connecting");
    source.addEventListener("open", () => show("open"));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (signed out, too many windows) or broken: try again a little later.
        show("closed");
        retry = setTimeout(connect, 5000);
      } else {
        show("reconnecting");
      }
    });
    const handlers = { hello: () => show("open"), pop, seat, ticket, call: callChanged, notice: (data) => notify(label("notice_" + data.text, data.text)), queues: () => {} };
    for (const [kind, handler] of Object.entries(handlers)) {
      source.addEventListener(kind, (event) => {
        remember(event);
        show("open");
        const data = JSON.parse(event.data);
        handler(data);
        // Other scripts of the page (the wallboard) follow the stream through these.
        document.dispatchEvent(new CustomEvent("hotline:" + kind, { detail: data }));
      });
    }
  }

  // -- the seat

  function seatText(data) {
    let text = label("state_" + data.state, data.state);
    if (data.reason && data.state !== "wrapup") text += " · " + label("reason_" + data.reason, data.reason);
    if (!data.connected) text += " (" + label("no_asterisk") + ")";
    return text;
  }

  let countdown = null;
  function seat(data) {
    for (const node of document.querySelectorAll("[data-seat-label]")) node.textContent = seatText(data);
    for (const node of document.querySelectorAll("#seat, #seat-badge")) node.dataset.state = data.state;
    for (const node of document.querySelectorAll(".seat .queue")) {
      node.classList.toggle("joined", (data.joined || []).includes(node.textContent));
      node.classList.toggle("out", !(data.joined || []).includes(node.textContent));
    }
    clearInterval(countdown);
    const target = document.querySelector("[data-seat-countdown]");
    if (target) target.textContent = "";
    if (target && data.state === "wrapup" && data.wrapup_left != null) {
      const end = Date.now() + data.wrapup_left * 1000;
      const tick = () => {
        const left = Math.max(0, Math.round((end - Date.now()) / 1000));
        target.textContent = left + " " + label("seconds_left");
        if (left === 0) clearInterval(countdown);
      };
      tick();
      countdown = setInterval(tick, 1000);
    }
  }

  // -- the screen pop

  const popBox = document.getElementById("pop");

  function fill(name, text) {
    const node = popBox.querySelector(`[data-pop=${name}]`);
    if (node) node.textContent = text;
  }

  function list(name, items, render) {
    const node = popBox.querySelector(`[data-pop-list=${name}]`);
    node.replaceChildren();
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = label("none");
      node.append(li);
    }
    for (const item of items) node.append(render(item));
  }

  function when(iso) {
    const at = new Date(iso);
    return isNaN(at) ? "" : at.toLocaleString(document.documentElement.lang || undefined, { timeZone: "Asia/Shanghai", dateStyle: "short", timeStyle: "short" });
  }

  function pop(data) {
    if (!popBox) return;
    popBox.dataset.uniqueid = data.uniqueid;
    fill("caller", [data.caller || "—", data.caller_name || ""].join(" ").trim());
    fill("queue", data.queue || "");
    fill("wait", data.wait_seconds != null ? data.wait_seconds + " s" : "—");
    fill("language", data.language || "—");
    fill("path", (data.path || []).map((s) => (s.kind === "key" ? `[${s.key}]` : s.node)).join(" → ") || "—");
    list("tickets", data.tickets || [], (t) => {
      const li = document.createElement("li");
      if (t.open) li.className = "open";
      const a = document.createElement("a");
      a.href = live.dataset.events.replace(/\/events$/, "/tickets/") + encodeURIComponent(t.number);
      a.textContent = t.number;
      li.append(a, " " + label("status_" + t.status, t.status) + (t.open ? " (" + label("open") + ")" : "") + " · " + when(t.at) + " · " + t.description);
      return li;
    });
    list("calls", data.calls || [], (c) => {
      const li = document.createElement("li");
      li.textContent = when(c.at) + " · " + label("disposition_" + c.disposition, c.disposition) + (c.queue ? " · " + c.queue : "") + (c.ticket ? " · " + c.ticket : "");
      return li;
    });
    const link = popBox.querySelector("[data-pop=new_ticket]");
    link.href = data.new_ticket;
    popBox.hidden = false;
    keep(data);
    popBox.classList.add("fresh");
    setTimeout(() => popBox.classList.remove("fresh"), 3000);
  }

  function callChanged(data) {
    if (popBox && popBox.dataset.uniqueid === data.uniqueid && data.state === "answered") popBox.classList.add("answered");
  }

  // The last pop of this tab stays one click away (the operator may close it, or move to
  // another page, while still on the call).
  const POP_KEY = "hotline-desk-last-pop";
  const again = document.querySelector("[data-pop-again]");
  function keep(data) {
    try { sessionStorage.setItem(POP_KEY, JSON.stringify(data)); } catch (e) { return; }
    if (again) again.hidden = false;
  }
  if (again) {
    let saved = null;
    try { saved = sessionStorage.getItem(POP_KEY); } catch (e) { saved = null; }
    again.hidden = !saved;
    again.addEventListener("click", () => {
      const data = sessionStorage.getItem(POP_KEY);
      if (data) pop(JSON.parse(data));
    });
  }

  if (popBox) {
    popBox.querySelector("[data-pop-close]").addEventListener("click", () => { popBox.hidden = true; });
    document.addEventListener("keydown", (event) => { if (event.key === "Escape" && !popBox.hidden) popBox.hidden = true; });
  }

  // -- ticket notices

  const notices = document.getElementById("notices");
  function notify(text) {
    if (!notices) return;
    const note = document.createElement("p");
    note.className = "notice";
    note.textContent = text;
    notices.prepend(note);
    while (notices.children.length > 5) notices.lastChild.remove();
    setTimeout(() => note.remove(), 15000);
  }

  function ticket(data) {
    notify(label("ticket_changed") + " " + data.number + ": " + label("action_" + data.action, data.action) + " → " + label("status_" + data.status, data.status));
    // The open ticket changed under the reader: say so (the form they may be filling stays).
    if (location.pathname.endsWith("/tickets/" + data.number)) document.body.classList.add("stale");
  }

  connect();
})();
