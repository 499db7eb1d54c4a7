// Panels (`…/panel/<name>` fragments) that refresh by themselves while a period's figures
// still change ("Today"): the page carries `data-refresh-panels="<seconds>"`
// (frontend/templates/frontend/_realtime_period.html, from frontend/dashboard.py's
// REFRESH_SECONDS). Each element htmx filled with a fragment is asked again for the URL of
// its last swap, so a chosen tab or chart metric stays as it is; nothing is asked while the
// browser tab is hidden. Elements that poll by themselves (`hx-trigger="… every …"`: the
// realtime line, the Realtime period) are left to it.
import htmx from 'htmx.org'

var shown = new Map() // element → the URL its content came from

document.addEventListener('htmx:afterSwap', function (event) {
  var detail = event.detail
  var config = detail && detail.requestConfig
  if (!config || config.verb !== 'get' || !detail.pathInfo) return
  if (detail.pathInfo.requestPath.indexOf('/panel/') === -1) return // a fragment, not a page
  var target = detail.target
  if ((target.getAttribute('hx-trigger') || '').indexOf('every') !== -1) return
  shown.set(target, detail.pathInfo.requestPath)
})

// Every element that loads a fragment when the page does (`hx-trigger="load"`), not those
// polling by themselves, from the URL of its last swap (else its own `hx-get`). fetch and
// htmx.swap rather than htmx.ajax: htmx queues a request of an element it still counts as
// busy, and some panels never refreshed that way.
function refresh() {
  document.querySelectorAll('[hx-get*="/panel/"]').forEach(function (element) {
    var trigger = element.getAttribute('hx-trigger') || ''
    if (trigger.indexOf('load') === -1 || trigger.indexOf('every') !== -1) return
    var path = shown.get(element) || element.getAttribute('hx-get')
    fetch(path, { headers: { 'HX-Request': 'true' }, credentials: 'same-origin' })
      .then(function (response) { return response.ok ? response.text() : null })
      .then(function (html) {
        if (html !== null && element.isConnected) htmx.swap(element, html, { swapStyle: 'innerHTML' })
      })
  })
}

// The marker is looked for at every tick: the view can change in place (view.js).
var last = Date.now()
setInterval(function () {
  var marker = document.querySelector('[data-refresh-panels]')
  var seconds = marker ? Number(marker.dataset.refreshPanels) : 0
  if (!(seconds > 0) || document.hidden) { last = Date.now(); return }
  if (Date.now() - last < seconds * 1000) return
  last = Date.now()
  refresh()
}, 1000)
