// The daily summary's print button (the browser's own Print does the same).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-print]")) button.addEventListener("click", () => window.print());
});
