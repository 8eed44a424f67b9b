// Small progressive enhancements; every page works without JavaScript.
(function () {
  "use strict";

  // A form submits once: the button is disabled on the first submit, so a double click or an
  // impatient second click cannot send it twice. (The server is idempotent anyway.)
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.submitting === "1") { event.preventDefault(); return; }
    form.dataset.submitting = "1";
    var submitter = event.submitter;
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) {
        if (b === submitter && b.dataset.busyLabel) { b.textContent = b.dataset.busyLabel; }
        b.disabled = true;
      });
    }, 0);
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitting]").forEach(function (f) {
      delete f.dataset.submitting;
      f.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
    });
  });

  // Buttons and links that need script, without inline handlers (the Content-Security-Policy
  // allows no inline script): data-js="print" prints, data-js="back" goes back.
  document.addEventListener("click", function (event) {
    var el = event.target.closest ? event.target.closest("[data-js]") : null;
    if (!el) { return; }
    if (el.dataset.js === "print") { event.preventDefault(); window.print(); }
    if (el.dataset.js === "back" && window.history.length > 1) {
      event.preventDefault(); window.history.back();
    }
  });

  // Move focus to the error summary so screen readers announce it.
  var summary = document.querySelector("[data-autofocus]");
  if (summary) { summary.focus(); }

  // Character counters for long answers.
  document.querySelectorAll("textarea[maxlength]").forEach(function (area) {
    var max = parseInt(area.getAttribute("maxlength"), 10);
    var counter = document.createElement("div");
    counter.className = "char-count";
    counter.setAttribute("aria-live", "polite");
    area.insertAdjacentElement("afterend", counter);
    var update = function () {
      var n = area.value.length;
      counter.textContent = n.toLocaleString() + " / " + max.toLocaleString();
      counter.classList.toggle("over", n > max);
    };
    area.addEventListener("input", update);
    update();
  });
})();
