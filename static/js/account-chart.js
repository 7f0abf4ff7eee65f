// templates/portfolios/account_detail.html: moved out of the template (the Content-Security-Policy allows no inline script).
(function () {
  const data = JSON.parse(document.getElementById("allocation-data").textContent);
  const el = document.getElementById("allocation-chart");
  if (!el || !window.Chart || !data.labels.length) return;
  new Chart(el, {
    type: "bar",
    data: { labels: data.labels, datasets: [
      { label: "Current %", data: data.current, backgroundColor: "#1f6feb" },
      { label: "Target %", data: data.target, backgroundColor: "#b8c4d6" } ] },
    options: { indexAxis: "y", maintainAspectRatio: false, animation: false,
      scales: { x: { beginAtZero: true, ticks: { callback: (v) => v + "%" } } } }
  });
})();
