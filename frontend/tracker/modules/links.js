// Clicks on links to other sites ("Outbound Link: Click") and on files ("File Download").
export var FILES = 'pdf,xlsx,docx,txt,rtf,csv,exe,key,pps,ppt,pptx,7z,pkg,rar,gz,zip,avi,mov,mp4,mpeg,wmv,midi,mp3,wav,wma,dmg,iso,msi'

// Trail's switches: `data-outbound-links`, `data-file-downloads` (off, or the extensions).
export function links(tracker) {
  var files = tracker.data('file-downloads')
  clicks(tracker, tracker.enabled('outbound-links', true), files == 'false' ? [] : (files && files != 'true' ? files : FILES).split(','))
}

// `extensions`: the files whose links count; `bare`: a download's URL without its query.
// A link that `tracker.tagged` claims (a tagged element's own event) is left to it.
export function clicks(tracker, outbound, extensions, bare) {
  function clicked(event) {
    var link = event.target.closest && event.target.closest('a[href]')
    if (!link || (event.type == 'auxclick' && event.button != 1)) return
    if (tracker.tagged && tracker.tagged(link)) return
    var name = link.pathname.split('/').pop()
    var extension = name.indexOf('.') < 0 ? '' : name.split('.').pop().toLowerCase()
    if (extensions.indexOf(extension) >= 0) {
      tracker.send('File Download', { props: { url: bare ? link.href.split('?')[0] : link.href } })
    } else if (outbound && link.host != location.host && /^https?:$/.test(link.protocol)) {
      tracker.send('Outbound Link: Click', { props: { url: link.href } })
    }
  }

  document.addEventListener('click', clicked, true)
  document.addEventListener('auxclick', clicked, true)
}
