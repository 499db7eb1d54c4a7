// Trail's browser tracker, core: page views (single-page apps and hash mode included),
// custom events with properties and revenue, the queue of calls made before it loaded,
// and the rules for not tracking at all. No cookies, nothing stored. Options: docs/tracker.md.
export function start(modules) {
  var w = window
  var d = document
  var n = navigator
  var l = location
  var script = d.currentScript
  var data = function (name) {
    return script.getAttribute('data-' + name)
  }
  // A data- switch: absent → `byDefault`; "false" → off; any other value → on.
  var enabled = function (name, byDefault) {
    var value = data(name)
    return value == null ? byDefault : value != 'false'
  }
  var api = data('api') || new URL(script.src).origin + '/api/event'
  var domain = data('domain') || l.hostname
  var hash = enabled('hash', false)
  var local = enabled('allow-local', false)
  var leaving = [] // run before a page view replaces the page (engagement sends its figures)
  var last

  function ignored() {
    try {
      if (localStorage.trail_ignore == 'true') return 1
    } catch (e) {}
    return !local && (n.webdriver || l.protocol == 'file:' || /^(localhost|127\.|\[::1\])/.test(l.hostname))
  }

  function send(name, options, fields) {
    options = options || {}
    var callback = options.callback || function () {}
    if (ignored()) return callback()
    var body = { n: name, u: l.href, d: domain, r: d.referrer || null, w: w.innerWidth }
    if (hash) body.h = 1
    if (options.props) body.p = options.props
    if (options.revenue) body.$ = options.revenue
    if (options.interactive === false) body.i = false
    for (var key in fields) body[key] = fields[key]
    body = JSON.stringify(body)
    if (n.sendBeacon && n.sendBeacon(api, body)) return setTimeout(callback)
    fetch(api, { method: 'POST', body: body, keepalive: true, headers: { 'Content-Type': 'text/plain' } }).then(callback, callback)
  }

  function page() {
    var url = hash ? l.href : l.href.split('#')[0]
    if (url == last) return
    if (last) leaving.forEach(function (run) { run() })
    last = url
    send('pageview')
  }

  ;['pushState', 'replaceState'].forEach(function (method) {
    var original = history[method]
    history[method] = function () {
      original.apply(this, arguments)
      page()
    }
  })
  w.addEventListener('popstate', page)
  if (hash) w.addEventListener('hashchange', page)

  var queue = (w.trail && w.trail.q) || []
  w.trail = function (name, options) {
    name == 'pageview' ? page() : send(name, options)
  }
  var tracker = { data: data, enabled: enabled, send: send, leaving: leaving }
  modules.forEach(function (module) { module(tracker) })
  page()
  queue.forEach(function (args) { w.trail.apply(w, args) })
}
