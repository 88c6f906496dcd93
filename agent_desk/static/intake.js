// Intake: the category search, the live duplicate check, finding a case without leaving the
// form, and the reporters panel on the ticket page. The pages work without it; this makes
// them quick on a call.
"use strict";
(() => {
  const debounce = (fn, ms) => { let timer; return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); }; };

  // A fragment of the desk's own (escaped) HTML, or null when the session ended or it failed.
  async function fragment(url) {
    try {
      const response = await fetch(url, { headers: { accept: "text/html" } });
      if (response.redirected || !response.ok && response.status !== 400) return null;
      return await response.text();
    } catch (error) {
      return null;
    }
  }

  function categoryPicker(input) {
    const list = document.getElementById(input.getAttribute("aria-controls"));
    const select = document.getElementById("category");
    const zh = document.documentElement.lang !== "en";
    let results = [], active = -1, asked = 0;

    const close = () => { list.hidden = true; input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant"); active = -1; };
    const highlight = (index) => {
      const items = list.querySelectorAll("li[role=option]");
      if (!items.length) return;
      active = (index + items.length) % items.length;
      items.forEach((item, i) => item.setAttribute("aria-selected", String(i === active)));
      input.setAttribute("aria-activedescendant", items[active].id);
      items[active].scrollIntoView({ block: "nearest" });
    };
    const choose = (index) => {
      const hit = results[index];
      if (!hit) return;
      select.value = String(hit.id);
      select.dispatchEvent(new Event("change", { bubbles: true }));
      input.value = zh ? hit.name_zh : hit.name_en;
      close();
    };
    const show = (query, hits) => {
      results = hits;
      list.replaceChildren();
      if (!hits.length) {
        const none = document.createElement("li");
        none.className = "none";
        none.textContent = zh ? `没有与“${query}”相符的分类` : `No category matches “${query}”`;
        list.append(none);
      }
      hits.forEach((hit, i) => {
        const item = document.createElement("li");
        item.id = `category-hit-${i}`;
        item.setAttribute("role", "option");
        item.dataset.id = String(hit.id);
        const code = document.createElement("span"); code.className = "code"; code.textContent = hit.code;
        const name = document.createElement("span"); name.className = "name"; name.textContent = zh ? hit.name_zh : hit.name_en;
        const path = document.createElement("span"); path.className = "path"; path.textContent = zh ? hit.parent_zh : hit.parent_en;
        const pinyin = document.createElement("span"); pinyin.className = "pinyin"; pinyin.textContent = hit.pinyin;
        item.append(code, name, path, pinyin);
        item.addEventListener("mousedown", (event) => { event.preventDefault(); choose(i); });
        list.append(item);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      if (hits.length) highlight(0);
    };
    const search = debounce(async () => {
      const query = input.value.trim();
      if (!query) { close(); return; }
      const mine = ++asked;
      try {
        const response = await fetch(`${input.dataset.categoriesSrc}?q=${encodeURIComponent(query)}`, { headers: { accept: "application/json" } });
        if (!response.ok || response.redirected || mine !== asked) return;
        const body = await response.json();
        if (mine === asked) show(query, body.results);
      } catch (error) { /* the select below still works */ }
    }, 120);

    input.addEventListener("input", search);
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown") { event.preventDefault(); if (list.hidden) search(); else highlight(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Enter") { if (!list.hidden) { event.preventDefault(); choose(active); } }
      else if (event.key === "Escape") { close(); }
    });
    input.addEventListener("blur", () => setTimeout(close, 150));
  }

  function duplicateCheck(form) {
    const panel = document.getElementById("duplicates");
    const offered = form.querySelector("input[data-offered]");
    const select = form.querySelector("select[name=category]");
    const location = form.querySelector("input[name=location]");
    const check = debounce(async () => {
      const query = new URLSearchParams({ category: select.value, location: location.value });
      const html = await fragment(`${panel.dataset.duplicatesSrc}?${query}`);
      if (html === null) return;
      const reason = panel.querySelector("textarea[name=duplicate_reason]");
      const typed = reason ? reason.value : "";
      panel.innerHTML = html;
      const again = panel.querySelector("textarea[name=duplicate_reason]");
      if (again && typed) again.value = typed;
      const marker = panel.querySelector("[data-offered]");
      offered.value = marker ? marker.dataset.offered : "";
    }, 350);
    select.addEventListener("change", check);
    location.addEventListener("input", check);
  }

  function findCase(form) {
    const results = form.parentElement.querySelector(".found-cases");
    form.addEventListener("submit", async (event) => {
      if (!results) return;
      event.preventDefault();
      const query = new URLSearchParams(new FormData(form));
      query.set("partial", "1");
      const html = await fragment(`${form.action}?${query}`);
      if (html === null) { form.submit(); return; }
      results.innerHTML = html;
      for (const button of form.querySelectorAll("button")) button.disabled = false;
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const picker = document.getElementById("category-search");
    if (picker) categoryPicker(picker);
    const form = document.getElementById("intake");
    if (form) duplicateCheck(form);
    for (const find of document.querySelectorAll("form[data-find]")) findCase(find);
    for (const panel of document.querySelectorAll("[data-reporters-src]")) {
      fragment(panel.dataset.reportersSrc).then((html) => {
        if (html && html.trim()) { panel.innerHTML = html; panel.hidden = false; }
      });
    }
  });
})();
