/** The behaviour suite against the embedded engine. */
import { behaviourSuite } from './behaviours.ts'
import { embeddedFactory } from './embedded-subject.ts'

behaviourSuite(embeddedFactory)
