// A form that changes something (method post) is sent once: a second click on its button
// while the first request is on its way (a double-click, an impatient second press on a slow
// server) is ignored. Each press reached the server before, and a "Save" of a new record or
// a "Log interaction" written twice made two records, two calls in the timeline.
// A page the browser brings back from its history (Back after a refused save) is usable again.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || (form.getAttribute("method") || "").toLowerCase() !== "post") return;
    if (event.defaultPrevented) return;  // another script handled it (a list's row buttons)
    if (form.dataset.sending) {
      event.preventDefault();
      return;
    }
    form.dataset.sending = "1";
    form.setAttribute("aria-busy", "true");
  });

  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sending]").forEach(function (form) {
      delete form.dataset.sending;
      form.removeAttribute("aria-busy");
    });
  });
})();
