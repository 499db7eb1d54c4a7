// Scroll depth and engaged time of each page view, sent as an `engagement` event when the
// page is hidden or left, or before a single-page app shows the next page. Time counts
// only while the page is visible and someone used it (keyboard, mouse, touch, scroll,
// focus) in the last 10 seconds.
var IDLE = 10000

export function engagement(tracker) {
  if (!tracker.enabled('engagement', true)) return
  var w = window
  var d = document
  var page = location.href // the page view measured (a single-page app changes it first)
  var depth = 0
  var engaged = 0
  var active = Date.now() // the last use of the page, while visible

  function measure() {
    var height = Math.max(d.body.scrollHeight, d.documentElement.scrollHeight)
    depth = Math.max(depth, Math.min(100, Math.round(((w.scrollY + w.innerHeight) / height) * 100)))
  }

  function count() {
    var now = Date.now()
    if (active) engaged += Math.min(now - active, IDLE)
    active = d.visibilityState == 'visible' ? now : 0
  }

  function report() {
    count()
    measure()
    if (engaged > 0) tracker.send('engagement', { interactive: false }, { u: page, sd: depth, e: engaged })
    engaged = 0
  }

  ;['keydown', 'mousemove', 'mousedown', 'touchstart', 'scroll', 'focus'].forEach(function (type) {
    w.addEventListener(type, function () {
      if (type == 'scroll') measure()
      var now = Date.now()
      if (active && now - active > IDLE) active = now // back after a pause: the pause is not counted
      count()
    }, { capture: true, passive: true })
  })
  d.addEventListener('visibilitychange', function () {
    d.visibilityState == 'hidden' ? report() : (active = Date.now())
  })
  w.addEventListener('pagehide', report)
  tracker.leaving.push(function () {
    report()
    page = location.href
    depth = 0
    active = Date.now()
  })
  measure()
}
