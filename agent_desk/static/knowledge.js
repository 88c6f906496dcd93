// The knowledge base inside the intake form: search as the operator types (the desk segments
// the Chinese words), and "use this answer" copies the answer into the form and counts the use.
"use strict";
(() => {
  const debounce = (fn, ms) => { let timer; return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); }; };

  function picker(box) {
    const input = box.querySelector(".knowledge-query");
    const list = box.querySelector(".knowledge-results");
    const labels = box.querySelector(".knowledge-labels").dataset;
    const form = box.closest("form");
    const target = form.querySelector("textarea[name=answer]");
    const csrf = form.querySelector("input[name=csrf]").value;
    let asked = 0;

    const item = (hit) => {
      const li = document.createElement("li");
      const title = document.createElement("strong");
      title.textContent = hit.title;
      const tag = document.createElement("span");
      tag.className = "tag " + (hit.reviewed ? "reviewed" : "unreviewed");
      tag.textContent = hit.reviewed ? labels.reviewed : labels.unreviewed;
      const text = document.createElement("p");
      text.textContent = hit.answer;
      const use = document.createElement("button");
      use.type = "button";
      use.textContent = labels.use;
      use.addEventListener("click", async () => {
        target.value = hit.answer;
        target.dispatchEvent(new Event("input", { bubbles: true }));
        const body = new URLSearchParams({ csrf, id: String(hit.id) });
        await fetch(box.dataset.knowledgeUse, { method: "POST", body }).catch(() => null);
        target.focus();
      });
      li.append(title, " ", tag, text, use);
      return li;
    };

    const search = debounce(async () => {
      const q = input.value.trim();
      const mine = ++asked;
      if (!q) { list.replaceChildren(); return; }
      let data = null;
      try {
        const response = await fetch(box.dataset.knowledgeSrc + "?" + new URLSearchParams({ q }), { headers: { accept: "application/json" } });
        if (response.ok && !response.redirected) data = await response.json();
      } catch (error) {
        data = null;
      }
      if (mine !== asked || data === null) return;
      if (!data.results.length) {
        const li = document.createElement("li");
        li.className = "empty";
        li.textContent = labels.none;
        list.replaceChildren(li);
        return;
      }
      list.replaceChildren(...data.results.map(item));
    }, 250);

    input.addEventListener("input", search);
    input.addEventListener("keydown", (event) => { if (event.key === "Enter") event.preventDefault(); });
  }

  document.querySelectorAll(".knowledge-picker").forEach(picker);
})();
