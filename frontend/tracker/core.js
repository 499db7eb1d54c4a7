// Trail's browser tracker, core: page views (single-page apps and hash mode included),
// custom events with properties and revenue, the queue of calls made before it loaded,
// and the rules for not tracking at all. No cookies, nothing stored. Options: docs/tracker.md.
//
// `config` (the Plausible-compatible entry, plausible.js, sets it; Trail's own leave it out):
// `global` the function's name on `window` ("trail"), `ignore` the localStorage flag
// ("trail_ignore"), `on` switches that replace data- attributes, `manual` no automatic page
// views, `plausible` Plausible's page view rules (only the path decides whether a
// single-page app's navigation is a new page; an explicit `pageview` call always sends).
export function start(modules, config) {
  config = config || {}
  var w = window
  var d = document
  var n = navigator
  var l = location
  var global = config.global || 'trail'
  var on = config.on || {}
  var script = d.currentScript || d.getElementById(global)
  var data = function (name) {
    return script.getAttribute('data-' + name)
  }
  // A data- switch: absent → `byDefault`; "false" → off; any other value → on.
  var enabled = function (name, byDefault) {
    if (name in on) return on[name]
    var value = data(name)
    return value == null ? byDefault : value != 'false'
  }
  var api = data('api') || new URL(script.src).origin + '/api/event'
  var domain = data('domain') || l.hostname
  var hash = enabled('hash', false)
  var local = enabled('allow-local', false)
  var leaving = [] // run before a page view replaces the page (engagement sends its figures)
  var checks = [] // run on each event's body before it is sent: false drops the event
  var last

  function ignored() {
    try {
      if (localStorage[config.ignore || 'trail_ignore'] == 'true') return 1
    } catch (e) {}
    return !local && (n.webdriver || l.protocol == 'file:' || /^(localhost|127\.|\[::1\])/.test(l.hostname))
  }

  function send(name, options, fields) {
    options = options || {}
    var callback = options.callback || function () {}
    if (ignored()) return callback()
    var body = { n: name, u: options.u || l.href, d: domain, r: d.referrer || null, w: w.innerWidth }
    if (hash) body.h = 1
    if (options.props) body.p = options.props
    if (options.revenue) body.$ = options.revenue
    if (options.interactive === false) body.i = false
    for (var key in fields) body[key] = fields[key]
    for (var i = 0; i < checks.length; i++) if (checks[i](body) === false) return callback()
    // `data-domain="a.com,b.com"`: the event once for each site; the callback after all
    var domains = domain.split(',')
    var left = domains.length
    var done = function () { --left || callback() }
    domains.forEach(function (one) {
      body.d = one.trim()
      var json = JSON.stringify(body)
      if (n.sendBeacon && n.sendBeacon(api, json)) return setTimeout(done)
      fetch(api, { method: 'POST', body: json, keepalive: true, headers: { 'Content-Type': 'text/plain' } }).then(done, done)
    })
  }

  // A page view: `auto` for the tracker's own (load, history, hash changes), else a call.
  function page(options, auto) {
    var url = hash ? l.href : l.href.split('#')[0]
    var key = config.plausible && !hash ? l.pathname : url
    if (key == last && (auto || !config.plausible)) return
    if (last) leaving.forEach(function (run) { run() })
    last = key
    send('pageview', options)
  }
  var navigated = function () { page(0, 1) }

  if (!config.manual) {
    ;['pushState', 'replaceState'].forEach(function (method) {
      var original = history[method]
      history[method] = function () {
        original.apply(this, arguments)
        navigated()
      }
    })
    w.addEventListener('popstate', navigated)
    if (hash) w.addEventListener('hashchange', navigated)
  }

  var queue = (w[global] && w[global].q) || []
  w[global] = function (name, options) {
    name == 'pageview' ? page(options) : send(name, options)
  }
  var tracker = { script: script, data: data, enabled: enabled, send: send, leaving: leaving, checks: checks }
  modules.forEach(function (module) { module(tracker) })
  if (!config.manual) navigated()
  queue.forEach(function (args) { w[global].apply(w, args) })
}
