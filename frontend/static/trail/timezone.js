// The new-site form preselects the browser's IANA time zone when the list offers it
// (frontend/templates/frontend/site_new.html), unless a zone was chosen before it ran. A static file, not an inline script: the
// pages are served under a Content-Security-Policy without inline scripts.
(function () {
  "use strict";
  var select = document.querySelector("select[data-browser-timezone]");
  if (!select || typeof Intl === "undefined") return;
  // A zone already chosen (before this deferred script ran) is the person's: keep it.
  var initial = select.options[0];
  for (var j = 0; j < select.options.length; j++) {
    if (select.options[j].defaultSelected) initial = select.options[j];
  }
  if (initial && select.value !== initial.value) return;
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) {
      select.value = zone;
      return;
    }
  }
})();
