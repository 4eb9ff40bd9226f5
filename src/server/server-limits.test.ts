import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { defaultServerLimits, serverLimits } from './server-limits.ts'

describe('serverLimits', () => {
  it('takes the defaults for what is not given', () => {
    assert.deepEqual(serverLimits({ connectionsMax: 7 }), { ...defaultServerLimits, connectionsMax: 7 })
  })

  it('refuses values that are not positive integers, and times a timer cannot hold', () => {
    assert.throws(() => serverLimits({ connectionsMax: 0 }), /connectionsMax must be a positive integer/)
    assert.throws(() => serverLimits({ streamsPerConnectionMax: 1.5 }), /streamsPerConnectionMax must be a positive integer/)
    // Node fires a timer of more than 2^31 - 1 ms at once: every call would time out.
    assert.throws(() => serverLimits({ requestReceiveTimeoutMs: 2 ** 31 }), /requestReceiveTimeoutMs must be at most 2147483647 ms/)
    assert.equal(serverLimits({ connectionIdleMs: 2 ** 31 - 1 }).connectionIdleMs, 2 ** 31 - 1)
  })
})
