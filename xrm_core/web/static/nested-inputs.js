// The record form's lists (templates/form.html, web/ui/nested_inputs.py): "Add a row" and
// "Remove" work in the page, without a round trip. Without this script the same buttons post
// the form to the server, which shows it again with one row more or less.
(function () {
  "use strict";

  // A new row's number: one past the highest of the list's rows (the server reads the rows
  // in number order, whatever the gaps).
  function nextNumber(list) {
    var prefix = list.getAttribute("data-rows") + ".";
    var highest = -1;
    list.querySelectorAll("ol.rows [name]").forEach(function (el) {
      var name = el.getAttribute("name");
      if (name.indexOf(prefix) !== 0) return;
      var n = parseInt(name.slice(prefix.length).split(".")[0], 10);
      if (!isNaN(n) && n > highest) highest = n;
    });
    return highest + 1;
  }

  function firstControl(scope) {
    return scope.querySelector("input:not([type=hidden]), select, textarea");
  }

  // Say in the list's status line (a live region) that it holds no more rows: the schema's
  // maxItems, or the most a form holds. The server says the same when it is asked.
  function full(list) {
    var rows = list.querySelector(":scope > ol.rows");
    var max = parseInt(list.getAttribute("data-max"), 10);
    if (!rows || isNaN(max) || rows.querySelectorAll(":scope > li.row").length < max) return false;
    var status = list.querySelector(":scope > .row-status");
    if (status) status.textContent = list.getAttribute("data-full") || "";
    return true;
  }

  function addRow(list) {
    var template = list.querySelector(":scope > template.row-template");
    var rows = list.querySelector(":scope > ol.rows");
    if (!template || !rows) return null;
    var status = list.querySelector(":scope > .row-status");
    if (status) status.textContent = "";
    var number = String(nextNumber(list));
    var row = template.content.firstElementChild.cloneNode(true);
    var attributes = ["id", "name", "for", "value", "aria-describedby"];
    [row].concat(Array.prototype.slice.call(row.querySelectorAll("*"))).forEach(function (el) {
      attributes.forEach(function (a) {
        var v = el.getAttribute(a);
        if (v !== null && v.indexOf("__row__") !== -1) el.setAttribute(a, v.split("__row__").join(number));
      });
    });
    rows.appendChild(row);
    return row;
  }

  function removeRow(list, row) {
    var rows = list.querySelector(":scope > ol.rows");
    var next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    if (!rows.querySelector(":scope > li.row")) next = addRow(list);  // always a row to type in
    // The focus stays in the list: on the row that took this one's place, else the add button.
    var target = (next && firstControl(next)) || list.querySelector(":scope > button.add");
    if (target) target.focus();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("fieldset.list > button.add, fieldset.list li.row > button.remove");
    if (!button) return;
    var list = button.closest("fieldset.list");
    event.preventDefault();
    if (button.classList.contains("add")) {
      if (full(list)) return;  // the focus stays on the button; the status line says why
      var row = addRow(list);
      var control = row && firstControl(row);
      if (control) control.focus();
    } else {
      removeRow(list, button.closest("li.row"));
    }
  });
})();
