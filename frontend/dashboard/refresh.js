// Panels that refresh by themselves while a period's figures still change ("Today"): the
// page carries `data-refresh-panels="<seconds>"` (frontend/templates/frontend/_realtime_period.html,
// from frontend/dashboard.py's REFRESH_SECONDS). Each element htmx filled is asked again
// for the URL of its last swap, so a chosen tab or chart metric stays as it is; nothing is
// asked while the browser tab is hidden. Elements that poll by themselves
// (`hx-trigger="… every …"`: the realtime line, the Realtime period) are left to it.
import htmx from 'htmx.org'

var shown = new Map() // element → the URL its content came from

document.addEventListener('htmx:afterSwap', function (event) {
  var detail = event.detail
  var config = detail.requestConfig
  if (!config || config.verb !== 'get' || !detail.pathInfo) return
  var target = detail.target
  if ((target.getAttribute('hx-trigger') || '').indexOf('every') !== -1) return
  shown.set(target, detail.pathInfo.requestPath)
})

function refresh() {
  shown.forEach(function (path, target) {
    if (!target.isConnected) shown.delete(target)
    else htmx.ajax('GET', path, { target: target, swap: 'innerHTML' })
  })
}

document.addEventListener('DOMContentLoaded', function () {
  var marker = document.querySelector('[data-refresh-panels]')
  var seconds = marker ? Number(marker.dataset.refreshPanels) : 0
  if (seconds > 0) setInterval(function () { if (!document.hidden) refresh() }, seconds * 1000)
})
