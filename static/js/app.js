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
