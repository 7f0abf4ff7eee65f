// templates/rebalancing/backtest.html: the value and drawdown charts of every policy compared.
(function () {
  const source = document.getElementById("backtest-data");
  if (!source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
  function lines(key) {
    return data.series.map((s, i) => ({
      label: s.label, data: s[key], borderColor: s.colour, backgroundColor: s.colour,
      borderWidth: i === 0 ? 2.5 : 1.5, pointRadius: 0, tension: 0,
    }));
  }
  function chart(id, key, format) {
    const el = document.getElementById(id);
    if (!el) return;
    new Chart(el, {
      type: "line",
      data: { labels: data.dates, datasets: lines(key) },
      options: {
        maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom" },
          tooltip: { callbacks: { label: (c) => c.dataset.label + ": " + format(c.parsed.y) } } },
        scales: { x: { ticks: { maxTicksLimit: 8 } }, y: { ticks: { callback: format } } },
      },
    });
  }
  chart("backtest-value-chart", "value", (v) => money.format(v));
  chart("backtest-drawdown-chart", "drawdown", (v) => v.toFixed(1) + "%");
})();
