// Sends the session's CSRF token with every htmx request (the header X-CSRF-Token), read from the
// page's <meta name="csrf-token">: a file of its own, since the page's policy forbids inline scripts.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) {
    event.detail.headers["X-CSRF-Token"] = meta.content;
  }
});

// The Messaging Lab's variable buttons: insert the variable (with its fallback) at the cursor of the step's
// text box. Without JavaScript the buttons do nothing and the variables can be typed.
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("button[data-insert]") : null;
  if (!button) return;
  var box = document.getElementById(button.getAttribute("data-target"));
  if (!box) return;
  var text = button.getAttribute("data-insert");
  var start = box.selectionStart || 0, end = box.selectionEnd || 0;
  box.value = box.value.slice(0, start) + text + box.value.slice(end);
  box.focus();
  box.selectionStart = box.selectionEnd = start + text.length;
});

// Long actions (drafting, launching) say they are busy once sent, and cannot be sent twice.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  if (button && button.hasAttribute("data-busy")) {
    var form = event.target;
    setTimeout(function () {
      button.disabled = true;
      button.textContent = button.getAttribute("data-busy");
      form.setAttribute("aria-busy", "true");
    }, 0);
  }
});
