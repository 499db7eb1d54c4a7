// The view is the URL (docs/dashboard.md): the dashboard's links and forms name a view as a
// query (`?period=…&f=…`), and are followed in place — htmx fetches the page they name and
// swaps its `#dashboard` for ours, the URL is pushed, and the new shell's panels load
// themselves. What changes inside a panel without a navigation (the chart's metric and
// interval, a panel's tab) is written into the URL as it happens, and carried by every
// later navigation, so that a link rendered before the change does not undo it.
import htmx from 'htmx.org'

// No snapshots of the page in localStorage (a canvas does not survive one): going back
// loads that URL again.
htmx.config.historyCacheSize = 0
htmx.config.refreshOnHistoryMiss = true
// Swapping in an element whose id the page already has, htmx first copies the old one's
// settled attributes onto it with setAttribute; a `style` left on the old one by a script
// (the CSSOM's, allowed) would then be an inline style the policy refuses. Nothing here
// animates a style across a swap: only classes and sizes are settled.
htmx.config.attributesToSettle = ['class', 'width', 'height']

// Kept from the address bar by a navigation: the chart's metric and interval (unless the
// navigation picks its own, a zoom), and the panels' tabs.
function sticky(key, keepInterval) {
  return key === 'metric' || key.indexOf('tab_') === 0 || (keepInterval && key === 'interval')
}

function merged(query, keepInterval) {
  var next = new URLSearchParams(query.replace(/^\?/, ''))
  var current = new URLSearchParams(window.location.search)
  Array.from(next.keys()).forEach(function (key) { if (sticky(key, keepInterval)) next.delete(key) })
  current.forEach(function (value, key) { if (sticky(key, keepInterval)) next.append(key, value) })
  return next.toString()
}

// The address of this page with `query` ("" gives the bare path, not a trailing "?").
function at(query) {
  return window.location.pathname + (query ? '?' + query : '')
}

// Show the view `query` names: the page at this path with that query, swapped in place.
export function navigate(query, options) {
  var keepInterval = !options || options.keepInterval !== false
  var url = at(merged(query, keepInterval))
  return htmx.ajax('GET', url, { target: '#dashboard', select: '#dashboard', swap: 'outerHTML', push: url })
}

// Write `params` (null: remove) into the address bar, without a history entry.
function remember(params) {
  var current = new URLSearchParams(window.location.search)
  Object.keys(params).forEach(function (key) {
    if (params[key] === null) current.delete(key)
    else current.set(key, params[key])
  })
  window.history.replaceState(window.history.state, '', at(current.toString()))
}

function inDashboard(element) {
  return element && element.closest && element.closest('#dashboard')
}

document.addEventListener('click', function (event) {
  if (event.defaultPrevented || event.button !== 0) return
  if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return
  var link = event.target.closest && event.target.closest('a[href^="?"]')
  if (!link || !inDashboard(link)) return
  event.preventDefault()
  navigate(link.getAttribute('href'))
})

document.addEventListener('submit', function (event) {
  var form = event.target
  if (event.defaultPrevented || !form.matches('form[data-view-form]') || !inDashboard(form)) return
  event.preventDefault()
  var fields = new URLSearchParams()
  new FormData(form).forEach(function (value, key) { fields.append(key, value) })
  navigate(fields.toString())
})

// A choice that applies at once (the comparison): its form, submitted.
document.addEventListener('change', function (event) {
  var field = event.target
  if (field.matches && field.matches('[data-apply]') && field.form) field.form.requestSubmit()
})

// A panel fragment loaded by a click inside it (a tab, the chart's metric or interval):
// its choice goes into the URL.
document.addEventListener('htmx:afterSwap', function (event) {
  var detail = event.detail
  var target = detail.target
  if (!detail.pathInfo || !target || !inDashboard(target)) return
  var asked = new URLSearchParams(detail.pathInfo.requestPath.split('?')[1] || '')
  if (target.classList.contains('chart-box')) {
    remember({ metric: asked.get('metric'), interval: asked.get('interval') })
  } else if (target.classList.contains('panel') && target.id && asked.get('tab')) {
    var remembered = {}
    remembered['tab_' + target.id.replace(/^panel-/, '')] = asked.get('tab')
    remember(remembered)
  }
})
