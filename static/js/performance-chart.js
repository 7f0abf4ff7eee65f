// templates/performance/page.html: value vs benchmark and drawdown (data from json_script).
(function () {
  const el = document.getElementById("performance-data");
  if (!el || !window.Chart) return;
  const d = JSON.parse(el.textContent);
  const usd = v => "$" + Math.round(v).toLocaleString("en-US");
  const datasets = [{ label: "Your value", data: d.value, borderColor: "#1f6feb", backgroundColor: "rgba(31,111,235,.08)", fill: true, pointRadius: d.labels.length > 1 ? 0 : 3, tension: .1 }];
  if (d.benchmark) datasets.push({ label: "Benchmark", data: d.benchmark, borderColor: "#6b7685", borderDash: [6, 4], pointRadius: 0, fill: false, tension: .1 });
  new Chart(document.getElementById("value-benchmark-chart"), {
    type: "line",
    data: { labels: d.labels, datasets: datasets },
    options: { responsive: true, maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false },
      plugins: { tooltip: { callbacks: { label: c => c.dataset.label + ": " + usd(c.parsed.y) } } },
      scales: { x: { ticks: { maxTicksLimit: 6 } }, y: { ticks: { callback: usd } } } }
  });
  new Chart(document.getElementById("drawdown-chart"), {
    type: "line",
    data: { labels: d.labels, datasets: [{ label: "Drawdown", data: d.drawdown, borderColor: "#c62828", backgroundColor: "rgba(198,40,40,.12)", fill: true, pointRadius: d.labels.length > 1 ? 0 : 3, stepped: false }] },
    options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { display: false },
      tooltip: { callbacks: { label: c => c.parsed.y.toFixed(2) + "%" } } },
      scales: { x: { ticks: { maxTicksLimit: 6 } }, y: { max: 0, ticks: { callback: v => v + "%" } } } }
  });
})();
