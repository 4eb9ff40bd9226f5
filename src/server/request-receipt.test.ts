import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { MessageFraming } from './request-receipt.ts'

/** Length-prefixed messages of these sizes, one after another, as a stream carries them. */
function messages(sizes: readonly number[]): Buffer {
  return Buffer.concat(
    sizes.map((size) => {
      const message = Buffer.alloc(5 + size, 0xab)
      message[0] = 0
      message.writeUInt32BE(size, 1)
      return message
    }),
  )
}

describe('MessageFraming', () => {
  it('counts the messages completed and the bytes of the one arriving, however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 300 }), { maxLength: 6 }), fc.nat({ max: 300 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1 }), (sizes, partialSize, cuts) => {
        // Whole messages, then all but the last byte of one more.
        const stream = Buffer.concat([messages(sizes), messages([partialSize]).subarray(0, -1)])
        const framing = new MessageFraming()
        let completed = 0
        let offset = 0
        for (let cut = 0; offset < stream.length; cut++) {
          const end = Math.min(stream.length, offset + cuts[cut % cuts.length]!)
          completed += framing.take(stream.subarray(offset, end))
          offset = end
        }
        assert.equal(completed, sizes.length)
        assert.equal(framing.partialBytes, 5 + partialSize - 1)
      }),
    )
  })
})
