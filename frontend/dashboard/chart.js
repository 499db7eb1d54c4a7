// The dashboard's time series (frontend/chart.py writes `data-series`): the metric as a
// filled line that stops at now, the comparison as a dashed second line, a tooltip with
// the bucket, the metric's name and the comparison's value, and a click on a day, week or
// month that zooms into it (an in-place navigation, frontend/dashboard/view.js).
import { Chart } from 'chart.js'
import { navigate } from './view.js'

function duration(seconds) {
  var s = Math.round(seconds)
  if (s < 60) return s + 's'
  var m = Math.floor(s / 60)
  if (m < 60) return m + 'm ' + String(s % 60).padStart(2, '0') + 's'
  return Math.floor(m / 60) + 'h ' + String(m % 60).padStart(2, '0') + 'm'
}

// A value as the top stats show it: a rate in %, a duration in minutes and seconds.
export function formatValue(metric, value) {
  if (value === null || value === undefined) return '—'
  if (metric === 'bounce_rate') return value + '%'
  if (metric === 'visit_duration') return duration(value)
  if (metric === 'views_per_visit') return Number(value).toFixed(2)
  return Number(value).toLocaleString('en-US')
}

function datasets(series) {
  var drawn = [{
    label: series.name,
    data: series.values,
    borderColor: '#4f46e5',
    backgroundColor: 'rgba(79,70,229,0.12)',
    fill: true,
    tension: 0.25,
    pointRadius: 0,
    pointHitRadius: 8,
    spanGaps: false,
  }]
  if (series.comparison) {
    drawn.push({
      label: series.comparison.name,
      data: series.comparison.values,
      borderColor: '#9ca3af',
      borderDash: [5, 4],
      borderWidth: 2,
      fill: false,
      tension: 0.25,
      pointRadius: 0,
      pointHitRadius: 8,
    })
  }
  return drawn
}

function tooltip(series) {
  return {
    intersect: false,
    mode: 'index',
    callbacks: {
      title: function (items) { return items.length ? series.titles[items[0].dataIndex] : '' },
      label: function (item) {
        var value = formatValue(series.metric, item.raw)
        if (item.datasetIndex === 0) return series.name + ': ' + value
        var when = series.comparison.titles[item.dataIndex]
        return series.comparison.name + (when ? ' (' + when + ')' : '') + ': ' + value
      },
    },
  }
}

function zoom(series, chart, event) {
  var points = chart.getElementsAtEventForMode(event, 'index', { intersect: false }, true)
  var target = points.length ? series.zoom[points[0].index] : null
  if (target) navigate('?' + target, { keepInterval: false })
}

export function drawCharts(root) {
  root.querySelectorAll('canvas[data-series]').forEach(function (canvas) {
    if (canvas.chart) canvas.chart.destroy()
    var series = JSON.parse(canvas.dataset.series)
    canvas.chart = new Chart(canvas, {
      type: 'line',
      data: { labels: series.labels, datasets: datasets(series) },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { intersect: false, mode: 'index' },
        scales: {
          x: { ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 16 }, grid: { display: false } },
          y: {
            beginAtZero: true,
            ticks: {
              precision: series.metric === 'views_per_visit' ? 2 : 0,
              callback: function (value) { return formatValue(series.metric, value) },
            },
          },
        },
        plugins: { tooltip: tooltip(series) },
        onClick: function (event, elements, chart) { zoom(series, chart, event) },
        onHover: function (event, elements, chart) {
          var points = chart.getElementsAtEventForMode(event, 'index', { intersect: false }, true)
          var zoomable = points.length && series.zoom[points[0].index]
          chart.canvas.style.cursor = zoomable ? 'zoom-in' : 'default'
        },
      },
    })
  })
}
