// Sends the session's CSRF token with every htmx request (the header X-CSRF-Token), read from the
// page's <meta name="csrf-token">: a file of its own, since the page's policy forbids inline scripts.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) {
    event.detail.headers["X-CSRF-Token"] = meta.content;
  }
});
