// Form submissions ("Form: Submission", property `form`: the form's id, name or action path).
export function forms(tracker) {
  if (!tracker.enabled('form-submissions', false)) return
  document.addEventListener('submit', function (event) {
    var form = event.target
    var action = new URL(form.getAttribute('action') || '', location.href).pathname
    tracker.send('Form: Submission', {
      props: { form: form.getAttribute('id') || form.getAttribute('name') || action },
    })
  }, true)
}
