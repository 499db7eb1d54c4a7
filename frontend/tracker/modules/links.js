// Clicks on links to other sites ("Outbound Link: Click") and on files ("File Download").
var FILES = 'pdf,xlsx,docx,txt,rtf,csv,exe,key,pps,ppt,pptx,7z,pkg,rar,gz,zip,avi,mov,mp4,mpeg,wmv,midi,mp3,wav,wma,dmg,iso,msi'

export function links(tracker) {
  var outbound = tracker.enabled('outbound-links', true)
  var files = tracker.data('file-downloads')
  var extensions = files == 'false' ? [] : (files && files != 'true' ? files : FILES).split(',')

  function clicked(event) {
    var link = event.target.closest && event.target.closest('a[href]')
    if (!link || (event.type == 'auxclick' && event.button != 1)) return
    var name = link.pathname.split('/').pop()
    var extension = name.indexOf('.') < 0 ? '' : name.split('.').pop().toLowerCase()
    if (extensions.indexOf(extension) >= 0) {
      tracker.send('File Download', { props: { url: link.href } })
    } else if (outbound && link.host != location.host && /^https?:$/.test(link.protocol)) {
      tracker.send('Outbound Link: Click', { props: { url: link.href } })
    }
  }

  document.addEventListener('click', clicked, true)
  document.addEventListener('auxclick', clicked, true)
}
