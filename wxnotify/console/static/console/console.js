// The little behaviour console pages need, asked for by data- attributes: the Content-Security-Policy
// allows no inline script or on…= handler, so none of it lives in the templates.
(function () {
  "use strict";

  // <select data-autosubmit>: choosing submits its form (account and language switchers).
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.matches && select.matches("select[data-autosubmit]")) {
      select.form.submit();
    }
    // <select data-reload-with="template">: reload the page with ?template=<the choice> (compose), carrying
    // what was already filled in (the name, the audience …); the old template's own fields do not apply.
    if (select.matches && select.matches("select[data-reload-with]")) {
      var url = new URL(window.location.href);
      Array.prototype.forEach.call(select.form.elements, function (field) {
        var entry = field.tagName === "SELECT" || field.tagName === "TEXTAREA" ||
          (field.tagName === "INPUT" && ["submit", "button", "hidden"].indexOf(field.type) < 0);
        if (!entry || !field.name || field === select || field.name.indexOf("field_") === 0) {
          return;
        }
        var changed = field.type === "checkbox" ? field.checked !== field.defaultChecked
          : field.tagName === "SELECT" ? field.selectedOptions.length > 0 && !field.selectedOptions[0].defaultSelected
          : field.value !== field.defaultValue;
        if (changed) {  // only what the operator changed: the rest the page fills in again by itself
          url.searchParams.set(field.name, field.type === "checkbox" ? (field.checked ? "on" : "") : field.value);
        }
      });
      url.searchParams.set(select.dataset.reloadWith, select.value);
      window.location.href = url.toString();
    }
  });

  // The live check shows a field's problem once the operator has typed in it, not before.
  document.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest("[data-live-check]")) {
      event.target.dataset.touched = "true";
    }
  });

  // <button data-copy="#id">: copy that element's text.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    var source = button && document.querySelector(button.dataset.copy);
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim());
    }
  });

  // <button data-print>: print the page (the monthly report).
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) {
      window.print();
    }
  });

  // <form data-confirm="question">: ask before submitting.
  document.addEventListener("submit", function (event) {
    var question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // <body data-print-on-load>: the poster opened with ?print=1 prints itself.
  if (document.body && document.body.hasAttribute("data-print-on-load") &&
      new URLSearchParams(window.location.search).get("print") === "1") {
    window.addEventListener("load", function () { window.print(); });
  }
})();
