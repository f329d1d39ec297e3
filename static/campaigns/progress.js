// The campaign progress panel: polls the campaign's figures until it is done.
(function () {
  "use strict";
  const POLL_MS = 2000;
  // Delivery reports keep arriving after the last message is sent; keep
  // looking for a while, less often as time goes on.
  const REPORTS_FOR_MS = 10 * 60 * 1000;

  function show(panel, data) {
    panel.querySelector("[data-progress=status_label]").textContent = data.status_label;
    Object.entries(data.counts).forEach(function ([status, count]) {
      const cell = panel.querySelector("[data-count=" + status + "]");
      if (cell) cell.textContent = count;
      const bar = panel.querySelector("[data-bar=" + status + "]");
      if (bar) bar.style.width = (data.total ? (100 * count) / data.total : 0) + "%";
    });
    panel.querySelector("[data-progress=done]").textContent = data.done;
    panel.querySelector("[data-progress=total]").textContent = data.total;
    Object.entries(data.offered || {}).forEach(function ([action, offered]) {
      document.querySelectorAll("[data-offered-while=" + action + "]").forEach(function (item) {
        item.hidden = !offered;
      });
    });
    panel.querySelector("[data-progress=delivery_rate]").textContent =
      data.delivery_rate == null ? "—" : data.delivery_rate + " %";
    const body = panel.querySelector("[data-failures]");
    body.textContent = "";
    if (!data.failures.length) {
      body.innerHTML = "<tr><td>None yet.</td></tr>";
    }
    data.failures.forEach(function (failure) {
      const row = document.createElement("tr");
      [failure.failure_label || failure.failure_category || "—", failure.failure_reason || "—", failure.count].forEach(function (value) {
        const cell = document.createElement("td");
        cell.textContent = value;
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const panel = document.getElementById("campaign-progress");
    if (!panel) return;
    const started = Date.now();
    function poll() {
      fetch(panel.dataset.progressUrl, { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          show(panel, data);
          // An event-triggered campaign stays "sending" for good: only messages
          // actually waiting keep the fast polling going.
          const working = data.status === "scheduled" || data.counts.queued || data.counts.sending;
          const elapsed = Date.now() - started;
          panel.classList.toggle("is-finished", !working && data.status !== "sending");
          if (working) {
            setTimeout(poll, POLL_MS);
          } else if (data.counts.sent && elapsed < REPORTS_FOR_MS) {
            setTimeout(poll, elapsed < 60000 ? POLL_MS : POLL_MS * 5);
          }
        })
        .catch(function () { setTimeout(poll, POLL_MS * 2); });
    }
    poll();
  });
})();
