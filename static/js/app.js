// Behaviour every page shares, wired by data attributes instead of inline handlers (the
// Content-Security-Policy refuses inline scripts and on* attributes).
//   <form data-confirm="Delete this goal?">  asks before submitting
//   <select data-autosubmit>                 submits its form when changed
document.addEventListener("submit", function (event) {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
document.addEventListener("change", function (event) {
  if (event.target.matches("[data-autosubmit]") && event.target.form) event.target.form.requestSubmit();
});
// A table wider than its box scrolls sideways inside `.table-wrap` (on a phone, most do): the
// scrolling box takes keyboard focus so it can be scrolled without a mouse (WCAG 2.1.1), and
// is named after its table for screen readers. Re-checked when the window is resized.
function markScrollableTables() {
  document.querySelectorAll(".table-wrap").forEach(function (wrap) {
    if (wrap.scrollWidth > wrap.clientWidth + 1) {
      wrap.tabIndex = 0;
      wrap.setAttribute("role", "region");
      const heading = wrap.closest("section") && wrap.closest("section").querySelector("h2, h3");
      wrap.setAttribute("aria-label", (heading ? heading.textContent.trim() + ": " : "") + "table, scrolls sideways");
    } else if (wrap.getAttribute("role") === "region") {
      wrap.removeAttribute("tabindex");
      wrap.removeAttribute("role");
      wrap.removeAttribute("aria-label");
    }
  });
}
document.addEventListener("DOMContentLoaded", markScrollableTables);
window.addEventListener("resize", markScrollableTables);
document.addEventListener("htmx:afterSettle", markScrollableTables);
// Chart axes read dates the way the pages do (advisor/formats/en/formats.py): an ISO day
// "2026-03-05" -> "Mar 5, 2026", an ISO month "2026-03" -> "Mar 2026".
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
window.formatIsoDate = function (iso) {
  const parts = String(iso).split("-").map(Number);
  if (parts.length < 2 || parts.some(isNaN)) return iso;
  const month = MONTHS[parts[1] - 1];
  return parts.length === 3 ? `${month} ${parts[2]}, ${parts[0]}` : `${month} ${parts[0]}`;
};
