// What Plausible's script extensions add to Trail's core (plausible.js, docs/tracker.md).

// tagged-events: an element with the classes `plausible-event-name=Signup` (or `--`, for
// builders that refuse `=`; `+` is a space) sends that event with the other
// `plausible-event-<prop>=<value>` classes as properties and `plausible-revenue-amount=…`,
// `plausible-revenue-currency=…` as revenue: a form when submitted, anything else when
// clicked (the element or one of its three nearest ancestors).
export function tagged(tracker) {
  function tags(element) {
    var props = {}
    var revenue = {}
    var name
    var classes = (element.getAttribute && element.getAttribute('class')) || ''
    classes.split(/\s+/).forEach(function (item) {
      var match = /^plausible-(event|revenue)-(.+?)(=|--)(.+)$/.exec(item)
      if (!match) return
      var value = match[4].replace(/\+/g, ' ')
      if (match[1] == 'revenue') revenue[match[2]] = value
      else if (match[2] == 'name') name = value
      else props[match[2]] = value
    })
    return name && { name: name, props: props, revenue: revenue.currency && { amount: revenue.amount, currency: revenue.currency } }
  }

  function find(element) {
    for (var depth = 0; element && depth < 4; depth++, element = element.parentNode) {
      if (tags(element)) return element
    }
  }

  function fire(element) {
    var event = tags(element)
    tracker.send(event.name, { props: event.props, revenue: event.revenue })
  }

  tracker.tagged = find
  function clicked(event) {
    var element = find(event.target)
    if (!element || element.tagName == 'FORM' || (event.type == 'auxclick' && event.button != 1)) return
    fire(element)
  }
  document.addEventListener('click', clicked, true)
  document.addEventListener('auxclick', clicked, true)
  document.addEventListener('submit', function (event) {
    if (tags(event.target)) fire(event.target)
  }, true)
}

// exclusions: `data-include` / `data-exclude`, comma-separated paths where `*` is any part
// of one path segment and `**` anything; a trailing slash is optional. The path is the
// page's (with its #fragment in hash mode). An event of a page not included, or excluded,
// is not sent.
export function exclusions(tracker) {
  function matches(list) {
    var path = location.pathname + (tracker.enabled('hash') ? location.hash : '')
    return list.split(',').some(function (pattern) {
      var source = pattern.trim().replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*\*?/g, function (stars) {
        return stars == '*' ? '[^/]*' : '.*'
      })
      return new RegExp('^' + source + '/?$').test(path)
    })
  }
  var include = tracker.data('include')
  var exclude = tracker.data('exclude')
  tracker.checks.push(function () {
    return !((include && !matches(include)) || (exclude && matches(exclude)))
  })
}

// pageview-props: the script tag's `event-<prop>="value"` attributes are properties of
// every event (a property the call gives itself wins).
export function scriptProps(tracker) {
  var script = tracker.script
  tracker.checks.push(function (body) {
    script.getAttributeNames().forEach(function (attribute) {
      var key = attribute.slice(6)
      if (attribute.indexOf('event-') == 0 && !(body.p && key in body.p)) {
        body.p = body.p || {}
        body.p[key] = script.getAttribute(attribute)
      }
    })
  })
}
