// Efficient frontier charts (construction pages, portfolio lab, risk result): every canvas with
// data-frontier names the json_script element holding {frontier: [{volatility, expected_return}],
// points: [{label, volatility, expected_return}]}, annual fractions.
(function () {
  const colors = ["#cf222e", "#1a7f37", "#8250df", "#bf8700"];
  const pct = v => (v * 100).toFixed(1) + "%";
  document.querySelectorAll("canvas[data-frontier]").forEach(canvas => {
    const d = JSON.parse(document.getElementById(canvas.dataset.frontier).textContent);
    const xy = p => ({ x: p.volatility, y: p.expected_return });
    const datasets = [{ label: "Efficient frontier", type: "line", data: d.frontier.map(xy), borderColor: "#1f6feb", backgroundColor: "#1f6feb", pointRadius: 0, borderWidth: 2.5, tension: 0.2 }];
    d.points.forEach((p, i) => datasets.push({ label: p.label, type: "scatter", data: [xy(p)], backgroundColor: colors[i % colors.length], borderColor: colors[i % colors.length], pointRadius: 7, pointStyle: ["circle", "rect", "triangle", "rectRot"][i % 4] }));
    new Chart(canvas, {
      type: "scatter",
      data: { datasets: datasets },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: {
          x: { type: "linear", title: { display: true, text: "Volatility (a year)" }, ticks: { callback: pct } },
          y: { title: { display: true, text: "Expected return (a year)" }, ticks: { callback: pct } }
        },
        plugins: { tooltip: { callbacks: { label: c => `${c.dataset.label}: ${pct(c.parsed.y)} return, ${pct(c.parsed.x)} volatility` } } }
      }
    });
  });
})();
