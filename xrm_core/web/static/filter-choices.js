// A filter row's value input suggests the values of the field chosen in the same row: the
// page lists them per field (<datalist>, the field's option naming it in data-choices) and
// gives the rows already filled theirs; a field chosen here brings its list along.
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!(field instanceof HTMLSelectElement) || field.name !== "ff") return;
    var value = document.getElementById(field.id.replace(/-field$/, "-value"));
    if (!value) return;
    var chosen = field.options[field.selectedIndex];
    var list = chosen ? chosen.getAttribute("data-choices") : null;
    if (list) value.setAttribute("list", list);
    else value.removeAttribute("list");
  });
})();
