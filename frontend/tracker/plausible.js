// Plausible's script paths (/js/script.js, /js/plausible.hash.outbound-links.js, …): the core
// with Plausible's global (`plausible`, its `plausible.q` queue, `plausible_ignore`) and what
// each extension named in the path switches on. The server puts the path's extensions in
// place of EXTENSIONS (frontend/assets.py, `plausible_script`); docs/tracker.md.
import { start } from './core.js'
import { engagement } from './modules/engagement.js'
import { clicks, FILES } from './modules/links.js'
import { exclusions, scriptProps, tagged } from './modules/plausible.js'

var EXTENSIONS = '@extensions@'
var has = {}
EXTENSIONS.split('.').forEach(function (name) {
  has[name] = 1
})

start(
  [
    function (tracker) {
      if (!has.revenue) tracker.checks.push(function (body) { delete body.$ })
      if (has.exclusions) exclusions(tracker)
      if (has['pageview-props']) scriptProps(tracker)
      if (has['tagged-events']) tagged(tracker)
      var script = tracker.script
      var added = script.getAttribute('add-file-types')
      var files = (script.getAttribute('file-types') || FILES) + (added ? ',' + added : '')
      clicks(tracker, has['outbound-links'], has['file-downloads'] ? files.split(',') : [], 1)
    },
    engagement,
  ],
  {
    global: 'plausible',
    ignore: 'plausible_ignore',
    plausible: 1,
    manual: has.manual,
    on: { hash: !!has.hash, 'allow-local': !!has.local },
  }
)
