// The Send Test SMS verification checklist: polls until the delivery report lands,
// and keeps the test's row in the list of recent tests up to date with it.
(function () {
  "use strict";
  const POLL_MS = 1500;
  const GIVE_UP_MS = 5 * 60 * 1000;

  function render(item, data) {
    if (!data.delivery_state) {
      // A report came but found no message: waiting longer would not help.
      if (data.unmatched) {
        item.className = "check-failed";
        item.textContent = "✗ " + data.unmatched;
      }
      return;
    }
    const waited = data.seconds_to_dlr != null ? " after " + data.seconds_to_dlr.toFixed(1) + " s" : "";
    if (data.delivery_state === "failed") {
      const detail = [data.error_code, data.description].filter(Boolean).join(" ");
      item.className = "check-failed";
      item.textContent = "✗ Delivery report received — Failed" + (detail ? " (" + detail + ")" : "") + waited;
    } else if (data.delivery_state === "delivered") {
      item.className = "check-ok";
      item.textContent = "✓ Delivery report received — Delivered" + waited;
    } else {
      item.className = "check-waiting";
      item.textContent = "… Delivery report received — " + data.delivery_label + "; waiting for the final one";
    }
  }

  // The result's headline and colour follow the delivery report.
  function renderHeadline(box, data) {
    if (!box || !data.headline) return;
    box.querySelector("[data-headline]").textContent = data.headline;
    box.classList.toggle("test-result-success", data.ok);
    box.classList.toggle("test-result-failure", !data.ok);
  }

  // The row's Delivery cell, as the list's template writes it.
  function renderRow(cell, data) {
    if (!cell || !data.delivery_state) return;
    cell.textContent = data.delivery_label +
      (data.error_code ? " (" + data.error_code + ")" : "") +
      (data.seconds_to_dlr != null ? " after " + data.seconds_to_dlr.toFixed(1) + " s" : "");
  }

  document.addEventListener("DOMContentLoaded", function () {
    const list = document.querySelector("[data-checklist]");
    if (!list) return;
    const item = list.querySelector("[data-check=dlr]");
    const cell = document.querySelector(
      '[data-test-row="' + list.dataset.testId + '"] [data-delivery]'
    );
    if (list.querySelector("[data-check=accepted]").classList.contains("check-failed")) return;
    const box = document.querySelector("[data-test-result]");
    const started = Date.now();
    function poll() {
      fetch(list.dataset.statusUrl, { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          render(item, data);
          renderHeadline(box, data);
          renderRow(cell, data);
          if (!data.final && Date.now() - started < GIVE_UP_MS) setTimeout(poll, POLL_MS);
          else if (!data.final && !data.unmatched) item.textContent = "… No delivery report yet; reload the page later.";
        })
        .catch(function () { setTimeout(poll, POLL_MS * 2); });
    }
    poll();
  });
})();
