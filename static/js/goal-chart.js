// templates/goals/detail.html: moved out of the template (the Content-Security-Policy allows no inline script).
(function () {
  const d = JSON.parse(document.getElementById("fan-data").textContent);
  const usd = v => "$" + Math.round(v).toLocaleString("en-US");
  new Chart(document.getElementById("fan-chart"), {
    type: "line",
    data: {
      labels: d.labels.map(window.formatIsoDate),
      datasets: [
        { label: "90th percentile", data: d.p90, borderColor: "rgba(31,111,235,.35)", backgroundColor: "rgba(31,111,235,.15)", fill: "+1", pointRadius: 0, tension: .2 },
        { label: "10th percentile", data: d.p10, borderColor: "rgba(31,111,235,.35)", pointRadius: 0, fill: false, tension: .2 },
        { label: "Median", data: d.p50, borderColor: "#1f6feb", borderWidth: 2.5, pointRadius: 0, fill: false, tension: .2 },
        { label: "Target", data: d.labels.map(() => d.target), borderColor: "#c62828", borderDash: [6, 4], pointRadius: 0, fill: false }
      ]
    },
    options: { animation: false, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
      scales: { y: { ticks: { callback: usd } } },
      plugins: { tooltip: { callbacks: { label: c => `${c.dataset.label}: ${usd(c.parsed.y)}` } } } }
  });
})();
