// Portico's only script of its own. Everything works without it; it adds focus management:
// - on page load, an error summary or a message banner takes focus (so it is read first);
// - after an htmx swap, focus moves into the new content (its message, else its heading), so
//   keyboard and screen reader users continue from what changed.
(function () {
  'use strict';
  function focus(el) {
    if (!el) return false;
    if (!el.hasAttribute('tabindex')) el.setAttribute('tabindex', '-1');
    el.focus();
    return true;
  }
  function focusMessage(root) {
    return focus(root.querySelector('.error-summary[data-autofocus], .banner[data-autofocus]'));
  }
  document.addEventListener('DOMContentLoaded', function () {
    focusMessage(document);
  });
  document.addEventListener('htmx:afterSettle', function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id === 'live-status') return;
    if (!focusMessage(target)) focus(target.querySelector('[data-autofocus]'));
  });
})();
