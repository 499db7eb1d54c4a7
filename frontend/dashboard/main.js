// The dashboard's behaviour: htmx for the panels, Chart.js for the time series (chart.js)
// and the map, in-place navigation between views (view.js, imported by chart.js), keyboard
// shortcuts for the date presets. Built into frontend/static/trail/dashboard.js.
import htmx from 'htmx.org'
import { CategoryScale, Chart, Filler, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js'
import { ChoroplethController, ColorScale, GeoFeature, ProjectionScale } from 'chartjs-chart-geo'
import { feature } from 'topojson-client'
import atlas from 'world-atlas/countries-110m.json'
import { NUMERIC } from './countries.js'
import { drawCharts } from './chart.js'
import './refresh.js'
import './filters.js'

// The Content-Security-Policy (trail/security.py) runs no inline code: htmx must not add its
// indicator <style>, evaluate attribute code (hx-on, trigger filters) or run swapped-in scripts.
htmx.config.includeIndicatorStyles = false
htmx.config.allowEval = false
htmx.config.allowScriptTags = false
// A panel the view's filters make impossible (a pattern RE2 refuses) answers 400 with the
// reason as its body: show it in the panel, as htmx does not swap 4xx bodies by default.
htmx.config.responseHandling = [{ code: '400', swap: true }].concat(htmx.config.responseHandling)

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Filler, Tooltip)
Chart.register(ChoroplethController, GeoFeature, ColorScale, ProjectionScale)
window.htmx = htmx
var countries = feature(atlas, atlas.objects.countries).features

// The locations panel's map: visitors by country (`data-map`: {"FR": 12, …}).
function drawMaps(root) {
  root.querySelectorAll('canvas[data-map]').forEach(function (canvas) {
    if (canvas.chart) canvas.chart.destroy()
    var visitors = JSON.parse(canvas.dataset.map)
    var byNumeric = {}
    Object.keys(visitors).forEach(function (code) { if (NUMERIC[code]) byNumeric[NUMERIC[code]] = visitors[code] })
    canvas.chart = new Chart(canvas, {
      type: 'choropleth',
      data: {
        labels: countries.map(function (c) { return c.properties.name }),
        datasets: [{ data: countries.map(function (c) { return { feature: c, value: byNumeric[c.id] || 0 } }) }],
      },
      options: {
        animation: false,
        showOutline: false,
        plugins: { legend: { display: false } },
        scales: {
          projection: { axis: 'x', projection: 'equalEarth' },
          color: { axis: 'x', quantize: 5, display: false },
        },
      },
    })
  })
}

// A row's bar (`data-share`, 0–100) as the CSS variable app.css draws; set from here since
// the policy refuses style="" attributes.
function paintShares(root) {
  root.querySelectorAll('[data-share]').forEach(function (row) {
    row.style.setProperty('--share', row.dataset.share + '%')
  })
}

document.addEventListener('DOMContentLoaded', function () {
  drawCharts(document)
  drawMaps(document)
  paintShares(document)
})
document.addEventListener('htmx:afterSwap', function (event) {
  drawCharts(event.target)
  drawMaps(event.target)
  paintShares(event.target)
  event.target.removeAttribute('aria-busy')
})

// A key (without modifiers, outside form fields) picks the date preset that names it.
document.addEventListener('keydown', function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return
  if (/^(INPUT|SELECT|TEXTAREA)$/.test(event.target.tagName)) return
  var link = document.querySelector('[data-shortcut="' + event.key + '"]')
  if (link) link.click()
})
