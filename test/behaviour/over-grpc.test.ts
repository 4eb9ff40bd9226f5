/** The behaviour suite against the TypeScript client and a real server on a loopback port. */
import { behaviourSuite } from './behaviours.ts'
import { clientFactory } from './client-subject.ts'

behaviourSuite(clientFactory)
