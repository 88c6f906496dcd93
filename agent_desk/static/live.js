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
    // An update (more of the call's record was written) refreshes the pop of the same call
    // in place: it neither reopens a pop the operator closed nor replaces another call's.
    const update = data.update && popBox.dataset.uniqueid === data.uniqueid;
    if (data.update && !update) return;
    popBox.dataset.uniqueid = data.uniqueid;
    fill("caller", [data.caller || "—", data.caller_name || ""].join(" ").trim());
    fill("queue", data.queue || "");
    fill("wait", data.wait_seconds != null ? data.wait_seconds + " s" : "—");
    fill("language", data.language || "—");
    fill("path", (data.path || []).map((s) => (s.kind === "key" ? `[${s.key}]` : s.node)).filter(Boolean).join(" → ") || "—");
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
    keep({ ...data, update: false });
    if (update) return;
    // The pop never navigates: it is an overlay, whatever form the operator is filling.
    popBox.hidden = false;
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
    // A half-filled intake form stays where it is: the new call's form opens in a new tab.
    popBox.querySelector("[data-pop=new_ticket]").addEventListener("click", (event) => {
      if (dirty()) { event.preventDefault(); window.open(event.currentTarget.href, "_blank"); }
    });
  }

  // -- no lost form: the intake form's draft is kept in this tab (sessionStorage, per address)
  // while it is being filled, restored if the page is opened again, dropped when it is sent.

  const intake = document.getElementById("intake");
  const DRAFT = "hotline-draft:" + location.pathname + location.search;
  const draftFields = () => (intake ? [...intake.elements].filter((e) => e.name && e.tagName !== "BUTTON" && !["hidden", "submit", "search", "button"].includes(e.type)) : []);
  const changed = (e) => (e.tagName === "SELECT" ? [...e.options].some((o) => o.selected !== o.defaultSelected) : e.value !== e.defaultValue);
  function dirty() { return draftFields().some(changed); }

  if (intake) {
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(DRAFT) || "null"); } catch (e) { saved = null; }
    // Not over what the server sent back with errors: that is the form as it was sent.
    if (saved && !intake.querySelector("[aria-invalid]")) {
      let restored = false;
      for (const field of draftFields()) {
        if (Object.hasOwn(saved, field.name) && !changed(field) && saved[field.name] !== field.value) {
          field.value = saved[field.name];
          field.dispatchEvent(new Event("change", { bubbles: true }));
          restored = true;
        }
      }
      if (restored) {
        const note = document.createElement("p");
        note.className = "draft-note";
        note.setAttribute("role", "status");
        note.textContent = label("draft_restored") + " ";
        const discard = document.createElement("button");
        discard.type = "button";
        discard.className = "link";
        discard.textContent = label("draft_discard");
        discard.addEventListener("click", () => {
          try { sessionStorage.removeItem(DRAFT); } catch (e) { /* nothing kept */ }
          intake.reset();
          note.remove();
        });
        note.append(discard);
        intake.prepend(note);
      }
    }
    const save = () => {
      try {
        if (dirty()) sessionStorage.setItem(DRAFT, JSON.stringify(Object.fromEntries(draftFields().filter(changed).map((f) => [f.name, f.value]))));
        else sessionStorage.removeItem(DRAFT);
      } catch (e) { /* private mode: the form itself still holds the draft */ }
    };
    intake.addEventListener("input", save);
    intake.addEventListener("change", save);
    intake.addEventListener("submit", () => { try { sessionStorage.removeItem(DRAFT); } catch (e) { /* nothing kept */ } });
  }

  // -- keyboard shortcuts for the common actions (the legend is in live_part.html); never
  // while typing in a field, never with Ctrl or Cmd (the browser's own).

  const base = live.dataset.events.replace(/\/events$/, "");
  const typing = (target) => target instanceof HTMLElement && (target.isContentEditable || target.closest("input, textarea, select"));

  async function seatAction(state, reason) {
    const csrf = document.querySelector("input[name=csrf]");
    if (!csrf) return;
    const body = new URLSearchParams({ csrf: csrf.value, state });
    if (reason) body.set("reason", reason);
    try {
      const response = await fetch(base + "/console", { method: "POST", body, credentials: "same-origin" });
      if (response.ok) return;  // the state shown changes when Asterisk reports it (the stream)
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const why = page.querySelector("[role=alert], main p");
      notify(why ? why.textContent.trim() : label("shortcut_failed"));
    } catch (e) {
      notify(label("shortcut_failed"));
    }
  }

  function newTicket() {
    // For the call on screen; without a pop, a blank form. A half-filled form stays put.
    const link = popBox && !popBox.hidden ? popBox.querySelector("[data-pop=new_ticket]") : null;
    const href = link && link.getAttribute("href") ? link.href : base + "/tickets/new";
    if (dirty()) window.open(href, "_blank");
    else location.assign(href);
  }

  const shortcuts = { r: () => seatAction("ready"), p: () => seatAction("pause", "break"), n: newTicket };
  const seated = Boolean(document.getElementById("seat-badge"));
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || typing(event.target)) return;
    const key = event.code.startsWith("Key") ? event.code.slice(3).toLowerCase() : "";  // the key, whatever the layout makes of Alt
    const action = shortcuts[key];
    if (!action || (key !== "n" && !seated)) return;
    event.preventDefault();  // before the page's accesskeys
    action();
  });

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
