// Behaviour every page may use, loaded by base.html (no inline scripts: trail/security.py).
// `<select data-autosubmit>` submits its form on change (a <noscript> button does without JS);
// `<button data-copy="ID">` copies the text of the element with that id.
document.addEventListener('change', function (event) {
  var select = event.target
  if (select.matches && select.matches('select[data-autosubmit]') && select.form) select.form.requestSubmit()
})
document.addEventListener('click', function (event) {
  var button = event.target.closest && event.target.closest('button[data-copy]')
  if (!button) return
  var source = document.getElementById(button.dataset.copy)
  if (!source || !navigator.clipboard) return
  navigator.clipboard.writeText(source.textContent).then(function () { button.textContent = 'Copied' })
})

// Funnel steps (`<ol data-steps>` of frontend/templates/frontend/_funnel_form.html): the page
// renders every row a funnel may have (data-max), so a funnel can be made without JavaScript.
// Here the empty rows past the last filled one (and past data-min) are hidden; "Add a step"
// shows the next hidden row, "Remove" clears a row and moves it, hidden, to the end (while
// more than data-min rows show); rows are renumbered `type<i>`/`value<i>` in order, and a
// value's placeholder follows its type (`data-placeholder-page`, `data-placeholder-event`).
function stepRows(list) {
  return Array.prototype.slice.call(list.querySelectorAll('[data-step]'))
}
function shownRows(list) {
  return stepRows(list).filter(function (row) { return !row.hidden })
}
function funnelSteps(list) {
  var min = Number(list.dataset.min || 2)
  var shown = shownRows(list).length
  stepRows(list).forEach(function (row, i) {
    var n = i + 1
    row.querySelector('[data-step-number]').textContent = 'Step ' + n
    var type = row.querySelector('[data-step-type]')
    var value = row.querySelector('[data-step-value]')
    type.id = type.name = 'type' + i
    value.id = value.name = 'value' + i
    row.querySelector('[data-step-label="kind"]').htmlFor = type.id
    row.querySelector('[data-step-label="kind"]').textContent = 'Step ' + n + ' kind'
    row.querySelector('[data-step-label="value"]').htmlFor = value.id
    row.querySelector('[data-step-label="value"]').textContent = 'Step ' + n + ' page or event'
    value.placeholder = list.dataset['placeholder' + (type.value === 'event' ? 'Event' : 'Page')] || ''
    var remove = row.querySelector('[data-step-remove]')
    remove.setAttribute('aria-label', 'Remove step ' + n)
    remove.hidden = false
    remove.disabled = shown <= min
  })
  var add = list.parentNode.querySelector('[data-step-add]')
  if (add) {
    add.hidden = false
    add.disabled = shown === stepRows(list).length
  }
}
function collapseSteps(list) {
  var rows = stepRows(list)
  var keep = Number(list.dataset.min || 2)
  rows.forEach(function (row, i) {
    if (row.querySelector('[data-step-value]').value.trim()) keep = Math.max(keep, i + 1)
  })
  rows.forEach(function (row, i) { row.hidden = i >= keep })
  var hint = list.parentNode.querySelector('[data-steps-hint]')
  if (hint) hint.hidden = true
  funnelSteps(list)
}
document.addEventListener('click', function (event) {
  var target = event.target
  if (!target.closest) return
  var add = target.closest('[data-step-add]')
  var remove = target.closest('[data-step-remove]')
  var list = add ? add.parentNode.querySelector('[data-steps]') : remove && remove.closest('[data-steps]')
  if (!list) return
  var next = stepRows(list).filter(function (row) { return row.hidden })[0]
  if (add && next) {
    next.hidden = false
    funnelSteps(list)
    next.querySelector('[data-step-value]').focus()
  } else if (remove && shownRows(list).length > Number(list.dataset.min || 2)) {
    var row = remove.closest('[data-step]')
    row.querySelector('[data-step-value]').value = ''
    row.querySelector('[data-step-type]').value = 'page'
    row.hidden = true
    list.appendChild(row)
    funnelSteps(list)
  }
})
document.addEventListener('change', function (event) {
  var list = event.target.matches && event.target.matches('[data-step-type]') && event.target.closest('[data-steps]')
  if (list) funnelSteps(list)
})
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('[data-steps]').forEach(collapseSteps)
})
