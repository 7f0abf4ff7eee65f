// templates/rebalancing/detail.html: moved out of the template (the Content-Security-Policy allows no inline script).
document.addEventListener("DOMContentLoaded", function () {
  const source = document.getElementById("chart-data");
  if (!source) return;  // a harvest shows its losses instead of an allocation chart
  const data = JSON.parse(source.textContent);
  if (window.Chart) {
    new Chart(document.getElementById("alloc-chart"), {
      type: "bar",
      data: { labels: data.labels, datasets: [
        { label: "Now", data: data.before, backgroundColor: "#9aa7b8" },
        { label: "After", data: data.after, backgroundColor: "#1f6feb" },
        { label: "Target", data: data.target, backgroundColor: "#1a7f37" } ] },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
        scales: { y: { ticks: { callback: v => v + "%" } } },
        plugins: { tooltip: { callbacks: { label: c => c.dataset.label + ": " + c.parsed.y.toFixed(1) + "%" } } } }
    });
  }
  const el = document.getElementById("countdown");
  if (el) {
    const end = new Date(el.dataset.expires);
    const tick = () => {
      const s = Math.max(0, Math.floor((end - new Date()) / 1000));
      el.textContent = s ? `${Math.floor(s / 3600)}h ${String(Math.floor(s % 3600 / 60)).padStart(2, "0")}m ${String(s % 60).padStart(2, "0")}s` : "expired";
    };
    tick(); setInterval(tick, 1000);
  }
});
