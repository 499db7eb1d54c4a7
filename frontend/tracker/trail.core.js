// The core tracker alone (/js/trail.core.js): page views and custom events.
import { start } from './core.js'

start([])
