// templates/dashboard.html: moved out of the template (the Content-Security-Policy allows no inline script).
document.addEventListener("DOMContentLoaded", function () {
  if (!window.Chart || !document.getElementById("history-data")) return;
  const h = JSON.parse(document.getElementById("history-data").textContent);
  const a = JSON.parse(document.getElementById("alloc-data").textContent);
  const money = v => "$" + Math.round(v).toLocaleString();
  const palette = ["#1f6feb", "#1a7f37", "#b26a00", "#8250df", "#c62828", "#0a7ea4", "#6b7685", "#9aa7b8"];
  new Chart(document.getElementById("value-chart"), {
    type: "line",
    data: { labels: h.labels, datasets: [{ label: "Household value", data: h.values, borderColor: "#1f6feb", backgroundColor: "rgba(31,111,235,.08)", fill: true, pointRadius: h.labels.length > 1 ? 0 : 3, tension: .15 }] },
    options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { display: false }, tooltip: { callbacks: { title: items => window.formatIsoDate(items[0].label), label: c => money(c.parsed.y) } } },
      scales: { x: { ticks: { maxTicksLimit: 6, callback: function (v) { return window.formatIsoDate(this.getLabelForValue(v)); } } }, y: { ticks: { callback: money } } } }
  });
  new Chart(document.getElementById("alloc-chart"), {
    type: "bar",
    data: { labels: a.labels, datasets: [
      { label: "Now", data: a.current, backgroundColor: "#1f6feb" },
      { label: "Target", data: a.target, backgroundColor: "#9aa7b8" } ] },
    options: { responsive: true, maintainAspectRatio: false, animation: false, scales: { y: { ticks: { callback: v => v + "%" } } } }
  });
  new Chart(document.getElementById("account-chart"), {
    type: "bar",
    data: { labels: a.accounts, datasets: a.per_account.map((d, i) => ({ label: d.label, data: d.data, backgroundColor: palette[i % palette.length] })) },
    options: { indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
      scales: { x: { stacked: true, max: 100, ticks: { callback: v => v + "%" } }, y: { stacked: true } } }
  });
});
