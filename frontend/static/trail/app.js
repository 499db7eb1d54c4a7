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

// Funnel steps (`<ol data-steps>` of frontend/templates/frontend/_funnel_form.html): "Add a
// step" copies the last row empty, "Remove" drops a row (between data-min and data-max rows);
// rows are renumbered `type<i>`/`value<i>` in order, and a value's placeholder follows its
// type (`data-placeholder-page`, `data-placeholder-event` on the list).
function funnelSteps(list) {
  var rows = list.querySelectorAll('[data-step]')
  rows.forEach(function (row, i) {
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
    remove.disabled = rows.length <= Number(list.dataset.min || 2)
  })
  var add = list.parentNode.querySelector('[data-step-add]')
  if (add) add.disabled = rows.length >= Number(list.dataset.max || 8)
}
document.addEventListener('click', function (event) {
  var target = event.target
  if (!target.closest) return
  var add = target.closest('[data-step-add]')
  var remove = target.closest('[data-step-remove]')
  var list = add ? add.parentNode.querySelector('[data-steps]') : remove && remove.closest('[data-steps]')
  if (!list) return
  var rows = list.querySelectorAll('[data-step]')
  if (add && rows.length < Number(list.dataset.max || 8)) {
    var row = rows[rows.length - 1].cloneNode(true)
    row.querySelector('[data-step-value]').value = ''
    row.querySelector('[data-step-type]').value = 'page'
    list.appendChild(row)
    funnelSteps(list)
    row.querySelector('[data-step-value]').focus()
  } else if (remove && rows.length > Number(list.dataset.min || 2)) {
    remove.closest('[data-step]').remove()
    funnelSteps(list)
  }
})
document.addEventListener('change', function (event) {
  var list = event.target.matches && event.target.matches('[data-step-type]') && event.target.closest('[data-steps]')
  if (list) funnelSteps(list)
})
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('[data-steps]').forEach(funnelSteps)
})
