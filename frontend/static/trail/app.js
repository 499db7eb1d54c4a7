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
