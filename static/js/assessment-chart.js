// templates/accounts/assessment.html: moved out of the template (the Content-Security-Policy allows no inline script).
(function () {
  const rows = JSON.parse(document.getElementById("allocation-data").textContent);
  const colors = ["#1f6feb", "#58a6ff", "#8250df", "#1a7f37", "#4ac26b", "#bf8700", "#d4a72c", "#cf222e", "#6e7781", "#0a3069"];
  const percent = r => Math.round(r.weight * 1000) / 10;
  new Chart(document.getElementById("allocation-chart"), {
    type: "doughnut",
    // The legend carries each slice's percentage, so it reads without hovering (and on a phone).
    data: { labels: rows.map(r => `${r.name} ${percent(r)}%`), datasets: [{ data: rows.map(percent), backgroundColor: colors }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { position: "right" }, tooltip: { callbacks: { label: c => `${c.label}` } } } }
  });
})();
