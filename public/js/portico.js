// Portico's only script of its own. Everything works without it; it adds:
// - focus management: on page load an error summary or message banner takes focus; after an htmx
//   swap, focus moves into the new content (its message, what it marks, else where focus was lost,
//   its caption or heading);
// - Enter in a search field inside a larger form presses its Find button (data-enter-clicks);
// - a table wider than the screen scrolls in a box that keyboard users can focus and scroll;
// - a list whose last row was removed beside a pane (data-when-empty) says that it is empty;
// - My Access style links, /@<hint>#/access-packages/<id>: the fragment never reaches the server,
//   so here it becomes where to go after signing in.
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
  function followFragmentLink() {
    var m = /^#\/access-packages\/([0-9a-fA-F-]{36})$/.exec(window.location.hash);
    if (!m) return;
    var target = '/access-packages/' + m[1];
    var returnTo = document.querySelector('input[name="returnTo"]');
    if (returnTo) {
      returnTo.value = target;
    } else if (/^\/access-packages\/?$/.test(window.location.pathname)) {
      window.location.replace(target);
    }
  }
  // A "Copy link" button beside read-only links people share (only where the clipboard works).
  function addCopyButtons(root) {
    if (!navigator.clipboard) return;
    root.querySelectorAll('input[data-copy]:not([data-copy-ready])').forEach(function (input) {
      input.setAttribute('data-copy-ready', '');
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'button button--secondary button--small copy-button';
      button.textContent = 'Copy link';
      button.addEventListener('click', function () {
        navigator.clipboard.writeText(input.value).then(function () {
          var status = document.getElementById('live-status');
          if (status) status.textContent = 'Link copied.';
          button.textContent = 'Copied';
        });
      });
      input.insertAdjacentElement('afterend', button);
    });
  }
  // Enter in a field marked data-enter-clicks="<id>" presses that button (a Find beside the field)
  // instead of the form's first one (its Save).
  document.addEventListener('keydown', function (event) {
    var field = event.target;
    if (event.key !== 'Enter' || event.isComposing || !field || !field.getAttribute || !field.getAttribute('data-enter-clicks')) return;
    var button = document.getElementById(field.getAttribute('data-enter-clicks'));
    if (!button) return;
    event.preventDefault();
    button.click();
  });
  // A wide table scrolls inside its box on a narrow screen (400 % zoom): the box then takes focus,
  // named after the table's caption, so that keyboard users can scroll it with the arrow keys.
  function markScrollingTables(root) {
    root.querySelectorAll('.table-wrap').forEach(function (wrap) {
      var scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
      if (scrolls && !wrap.hasAttribute('tabindex')) {
        var caption = wrap.querySelector('caption');
        wrap.setAttribute('tabindex', '0');
        wrap.setAttribute('role', 'region');
        wrap.setAttribute('aria-label', caption ? caption.textContent.trim() : 'Table');
        wrap.setAttribute('data-scrolls', '');
      } else if (!scrolls && wrap.hasAttribute('data-scrolls')) {
        ['tabindex', 'role', 'aria-label', 'data-scrolls'].forEach(function (a) { wrap.removeAttribute(a); });
      }
    });
  }
  var resizing = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { markScrollingTables(document); }, 200);
  });
  document.addEventListener('DOMContentLoaded', function () {
    followFragmentLink();
    focusMessage(document);
    addCopyButtons(document);
    markScrollingTables(document);
  });
  function sayWhenEmpty() {
    document.querySelectorAll('[data-when-empty]').forEach(function (list) {
      if (list.querySelector('tbody tr')) return;
      var p = document.createElement('p');
      p.textContent = list.getAttribute('data-when-empty');
      list.replaceWith(p);
    });
  }
  document.addEventListener('htmx:afterSettle', function (event) {
    if (event.detail && event.detail.target) {
      addCopyButtons(event.detail.target);
      markScrollingTables(document);
      sayWhenEmpty();
    }
  });
  // Where focus goes after a swap: the new content's message, else what it marks to focus, else,
  // when the focused control went away with the old content (a "Next page" link, a "Remove" button),
  // the new content's caption or heading, so keyboard and screen-reader users continue from there.
  function focusLost() {
    var active = document.activeElement;
    return !active || active === document.body || !document.contains(active);
  }
  document.addEventListener('htmx:afterSettle', function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id === 'live-status') return;
    if (focusMessage(target) || focus(target.querySelector('[data-autofocus]'))) return;
    if (!focusLost()) return;
    // A table's caption first (the results, not the filters above them), then a heading, then a
    // legend; a visible one, so sighted keyboard users see where they are.
    var kinds = ['caption', 'h1, h2, h3', 'legend'];
    for (var k = 0; k < kinds.length; k++) {
      var candidates = target.querySelectorAll(kinds[k]);
      for (var i = 0; i < candidates.length; i++) {
        if (candidates[i].getClientRects().length && !candidates[i].closest('.visually-hidden')) return void focus(candidates[i]);
      }
    }
    focus(target);
  });
})();
