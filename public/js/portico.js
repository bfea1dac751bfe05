// Portico's only script of its own. Everything works without it; it adds focus management for
// htmx swaps (the swapped content's heading or error summary takes focus) and nothing else.
(function () {
  'use strict';
  function focusFirst(root) {
    var el = root.querySelector('[data-autofocus]');
    if (!el) return false;
    if (!el.hasAttribute('tabindex')) el.setAttribute('tabindex', '-1');
    el.focus({ preventScroll: false });
    return true;
  }
  document.addEventListener('DOMContentLoaded', function () {
    focusFirst(document);
  });
  document.addEventListener('htmx:afterSettle', function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id !== 'live-status') focusFirst(target);
  });
})();
