// Keyboard shortcuts for the verdict buttons: c (confirm), a (override: allow),
// b (override: block). Ignored while typing in a field or with a modifier held.
(function () {
  "use strict";
  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.repeat) return;
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (typing(event.target)) return;
    var key = (event.key || "").toLowerCase();
    var button = document.querySelector('button[data-shortcut="' + key + '"]');
    if (!button || key.length !== 1) return;
    event.preventDefault();
    button.focus();
    button.click();
  });
})();
