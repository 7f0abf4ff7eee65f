// templates/performance/_account_value.html: the account's value from the ledger.
(function () {
  const el = document.getElementById("account-value-data");
  if (!el || !window.Chart) return;
  const d = JSON.parse(el.textContent);
  const usd = v => "$" + Math.round(v).toLocaleString("en-US");
  new Chart(document.getElementById("account-value-chart"), {
    type: "line",
    data: { labels: d.labels, datasets: [{ label: "Value", data: d.values, borderColor: "#1f6feb", backgroundColor: "rgba(31,111,235,.08)", fill: true, pointRadius: d.labels.length > 1 ? 0 : 3, tension: .1 }] },
    options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { display: false }, tooltip: { callbacks: { label: c => usd(c.parsed.y) } } },
      scales: { x: { ticks: { maxTicksLimit: 6 } }, y: { ticks: { callback: usd } } } }
  });
})();
