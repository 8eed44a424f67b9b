// The report page's progress bar: poll the report's JSON status while the worker renders, move
// the bar, and reload the page once the report is ready (or failed) to show the downloads.
(function () {
  "use strict";
  var card = document.getElementById("report-status");
  if (!card) { return; }
  var url = card.dataset.statusUrl;
  var bar = card.querySelector(".progress");
  var label = card.querySelector(".progress-label");
  var delay = 700;

  function show(state) {
    if (bar) {
      bar.setAttribute("aria-valuenow", String(state.percent));
      bar.firstElementChild.style.width = state.percent + "%";
    }
    if (label) {
      label.textContent = state.status === "queued" ? label.textContent
        : state.status_display + ": " + state.percent + "%";
    }
    card.dataset.status = state.status;
    card.dataset.percent = String(state.percent);
  }

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (state) {
        show(state);
        if (state.finished) { window.location.reload(); return; }
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        delay = Math.min(delay * 2, 10000);  // the server is busy or gone: back off, keep trying
        window.setTimeout(poll, delay);
      });
  }
  window.setTimeout(poll, delay);
})();
