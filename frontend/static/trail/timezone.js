// The new-site form preselects the browser's IANA time zone when the list offers it
// (frontend/templates/frontend/site_new.html). A static file, not an inline script: the
// pages are served under a Content-Security-Policy without inline scripts.
(function () {
  "use strict";
  var select = document.querySelector("select[data-browser-timezone]");
  if (!select || typeof Intl === "undefined") return;
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) {
      select.value = zone;
      return;
    }
  }
})();
