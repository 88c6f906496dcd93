// The desk's one script: small conveniences, nothing the pages need to work.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // The language switch returns to the page it was pressed on.
  for (const field of document.querySelectorAll("input[data-here]")) {
    field.value = location.pathname + location.search;
  }
  // A form is sent once: a second click while the first is on its way would repeat the action.
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", () => {
      // After this turn, so the pressed button's own value is still sent.
      setTimeout(() => { for (const button of form.querySelectorAll("button")) button.disabled = true; }, 0);
    });
  }
});
// "/" jumps to the search for a case, as in most desks: the page's own (the ticket list's, the
// intake form's "find a case"), else the ticket list's; not while typing in a field.
document.addEventListener("keydown", (event) => {
  const typing = event.target instanceof HTMLElement && (event.target.isContentEditable || event.target.closest("input, textarea, select"));
  if (event.key !== "/" || typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const search = document.querySelector("[data-search], form[data-find] input[name=q]");
  const list = document.querySelector("a.brand");
  if (search) { event.preventDefault(); search.focus(); }
  else if (list) { event.preventDefault(); location.assign(list.href + "#search"); }
});
document.addEventListener("DOMContentLoaded", () => {
  const search = location.hash === "#search" && document.querySelector("[data-search]");
  if (search) search.focus();
});
