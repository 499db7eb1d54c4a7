// On a "page not found" page (its script tag has `data-404`): a "404" event with the path.
export function notFound(tracker) {
  if (!tracker.enabled('404', false)) return
  setTimeout(function () {
    tracker.send('404', { props: { path: location.pathname } })
  })
}
