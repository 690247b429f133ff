// Starts ReDoc on /openapi.json; a file of its own, since the page's policy forbids inline scripts.
window.addEventListener("DOMContentLoaded", function () {
  Redoc.init("/openapi.json", { disableSearch: false }, document.getElementById("redoc"));
});
