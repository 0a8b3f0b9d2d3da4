// A refused form's error summary (templates/macros.html error_summary, form.html, login.html,
// and a refused filter or search in list.html):
// when the page opens, the keyboard focus moves to it, so a screen reader reads it and the
// next Tab goes on from it (announced as an alert alone, the focus stayed on the page body).
// A link in it moves the focus to its input: to the first control of a group or list (a
// fieldset), and the input's label or legend is scrolled into view with it. Without this
// script the links still lead to the inputs; the summary is then not focused.
(function () {
  "use strict";

  var CONTROLS = "input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])";

  // The element a summary link names: its id as written in the link, else percent-decoded
  // (as a browser finds a fragment's target).
  function target(link) {
    var id = link.getAttribute("href").slice(1);
    var found = document.getElementById(id);
    if (!found) {
      try {
        found = document.getElementById(decodeURIComponent(id));
      } catch (e) {
        found = null;
      }
    }
    return found;
  }

  // The input to focus for a target: itself when it is one, else its first control.
  function control(el) {
    if (el.matches("input, select, textarea")) return el;
    return el.querySelector(CONTROLS) || el;
  }

  // What names the input on screen: its label, or the legend of the fieldset linked to.
  function caption(el, input) {
    if (input.id) {
      var label = document.querySelector("label[for='" + CSS.escape(input.id) + "']");
      if (label) return label;
    }
    if (el.tagName === "FIELDSET") return el.querySelector(":scope > legend");
    return input.closest("label");
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest(".summary a[href^='#']");
    if (!link) return;
    var el = target(link);
    if (!el) return;
    var input = control(el);
    event.preventDefault();
    var shown = caption(el, input) || input;
    shown.scrollIntoView({block: "start"});
    input.focus({preventScroll: true});
  });

  function focusSummary() {
    var summary = document.querySelector(".summary[tabindex='-1']");
    // Not when the user already moved on (a slow page, a click before it finished loading).
    if (summary && (document.activeElement === document.body || document.activeElement === null)) {
      summary.focus();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusSummary);
  } else {
    focusSummary();
  }
})();
