// The full tracker (/js/trail.js): the core and every optional module, each switchable
// by a data- attribute of the script tag (docs/tracker.md).
import { start } from './core.js'
import { engagement } from './modules/engagement.js'
import { forms } from './modules/forms.js'
import { links } from './modules/links.js'
import { notFound } from './modules/notfound.js'

start([links, forms, notFound, engagement])
