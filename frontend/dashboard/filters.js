// The filter menu and the details dialog (issue 16, points 4 and 5), with no inline code:
// behaviour hangs on data-* attributes of frontend/templates/frontend/_filters.html,
// _suggestions.html, _panel.html and _details.html.
//
// Filter menu: "+ Filter" opens it empty, a chip opens it filled with that filter; the value
// field asks htmx for suggestions (fragment `suggest`, on typing and on the custom `suggest`
// event sent here); Apply follows the view's URL with the filter added or replacing the
// chip's (`f=dimension|operator|value`), through a link click so that in-place navigation
// between views, when the page has it, applies.
// Details: a panel's "Details" button loads its `data-details` URL into one <dialog>.
import htmx from 'htmx.org'

var editing = -1 // the chip being edited, -1 when adding

function menu() { return document.getElementById('filter-menu') }

function openMenu(chip) {
  var dialog = menu()
  if (!dialog) return
  var form = dialog.querySelector('[data-filter-form]')
  var title = dialog.querySelector('#filter-menu-title')
  form.reset()
  editing = chip ? Number(chip.dataset.filterEdit) : -1
  if (chip) {
    form.elements.dimension.value = chip.dataset.dimension
    form.elements.op.value = chip.dataset.op
    form.elements.q.value = chip.dataset.value
  }
  title.textContent = chip ? title.dataset.edit : title.dataset.add
  dialog.querySelector('#filter-suggestions').replaceChildren()
  dialog.showModal()
  suggest()
  ;(chip ? form.elements.q : form.elements.dimension).focus()
}

function suggest() {
  var input = document.getElementById('filter-value')
  if (input) htmx.trigger(input, 'suggest')
}

// The view's URL with the menu's filter: the current query, its `f` values but the edited
// chip's, and the new one last.
function filteredUrl(form) {
  var params = new URLSearchParams(window.location.search)
  params.delete('f')
  document.querySelectorAll('#filters [data-filter]').forEach(function (chip, index) {
    if (index !== editing) params.append('f', chip.dataset.filter)
  })
  var chosen = [form.elements.dimension.value, form.elements.op.value, form.elements.q.value.trim()]
  params.append('f', chosen.join('|'))
  return '?' + params.toString()
}

function follow(url, near) {
  var link = document.createElement('a')
  link.href = url
  link.hidden = true
  near.appendChild(link)
  link.click()
  link.remove()
}

document.addEventListener('click', function (event) {
  var target = event.target.closest('[data-filter-open], [data-filter-edit], [data-suggestion], [data-details], [data-close-dialog]')
  if (!target) return
  if (target.matches('[data-filter-open]')) openMenu(null)
  else if (target.matches('[data-filter-edit]')) openMenu(target)
  else if (target.matches('[data-suggestion]')) {
    var form = target.closest('form')
    form.elements.q.value = target.dataset.suggestion
    form.querySelector('[type="submit"]').focus()
  } else if (target.matches('[data-details]')) openDetails(target.dataset.details)
  else target.closest('dialog').close()
})

document.addEventListener('change', function (event) {
  if (event.target.id === 'filter-dimension') suggest()
})

document.addEventListener('submit', function (event) {
  var form = event.target
  if (!form.matches('[data-filter-form]')) return
  event.preventDefault()
  var value = form.elements.q.value.trim()
  if (!value) return form.elements.q.focus()
  var url = filteredUrl(form)
  menu().close()
  follow(url, document.getElementById('filters'))
})

// Arrow keys move between the value field and its suggestions.
document.addEventListener('keydown', function (event) {
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return
  var box = document.getElementById('filter-suggestions')
  if (!box || !(event.target.id === 'filter-value' || box.contains(event.target))) return
  var choices = Array.prototype.slice.call(box.querySelectorAll('[data-suggestion]'))
  if (!choices.length) return
  event.preventDefault()
  var at = choices.indexOf(event.target)
  var next = event.key === 'ArrowDown' ? at + 1 : at - 1
  if (next < 0) document.getElementById('filter-value').focus()
  else choices[Math.min(next, choices.length - 1)].focus()
})

// --- details -------------------------------------------------------------------------------

function detailsDialog() {
  var dialog = document.getElementById('details')
  if (dialog) return dialog
  dialog = document.createElement('dialog')
  dialog.id = 'details'
  dialog.className = 'details'
  dialog.setAttribute('aria-labelledby', 'details-title')
  var body = document.createElement('div')
  body.id = 'details-body'
  dialog.appendChild(body)
  // inside the view, so that a row's filter link is followed in place (view.js) and the
  // dialog goes with the view it belongs to
  ;(document.getElementById('dashboard') || document.body).appendChild(dialog)
  return dialog
}

function openDetails(url) {
  var dialog = detailsDialog()
  htmx.ajax('GET', url, { target: '#details-body', swap: 'innerHTML' }).then(function () {
    if (!dialog.open) dialog.showModal()
    var search = dialog.querySelector('[data-details-search]')
    if (search) search.focus()
  })
}

// A sort link or a pager link is replaced by its own request's answer: keep the focus on
// its successor (the same column's link, the same pager link), else on the search field.
var refocus = ''
document.addEventListener('htmx:beforeRequest', function (event) {
  var from = event.detail.elt
  refocus = from && from.closest && from.closest('#details') && from.dataset ? from.dataset.focus || '' : ''
})
document.addEventListener('htmx:afterSettle', function (event) {
  if (!refocus || !event.detail.elt || !document.getElementById('details')) return
  var dialog = document.getElementById('details')
  var next = dialog.querySelector('[data-focus="' + refocus + '"]') || dialog.querySelector('[data-details-search]')
  refocus = ''
  if (next) next.focus()
})
