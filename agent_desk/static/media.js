// The report form's photo checks (处置反馈): the server checks again; this only says it sooner.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const types = ["image/jpeg", "image/png", "image/webp"];
  for (const form of document.querySelectorAll("form[data-photos]")) {
    const input = form.querySelector("input[type=file]");
    const box = form.querySelector("[data-photo-problems]");
    const check = () => {
      const chosen = Array.from(input.files || []);
      const problems = [];
      for (const file of chosen) {
        if (!types.includes(file.type)) problems.push(form.dataset.msgType.replace("{name}", file.name));
        else if (file.size > Number(form.dataset.maxBytes)) problems.push(form.dataset.msgSize.replace("{name}", file.name));
      }
      if (chosen.length > Number(form.dataset.maxCount)) problems.push(form.dataset.msgCount);
      box.textContent = problems.join(" ");
      box.hidden = problems.length === 0;
      return problems.length === 0;
    };
    input.addEventListener("change", check);
    // Capturing, so a refused form is not marked as sent (desk.js disables its buttons on submit).
    form.addEventListener("submit", (event) => {
      if (!check()) { event.preventDefault(); event.stopImmediatePropagation(); }
    }, true);
  }
});
