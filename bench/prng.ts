/**
 * A small seeded pseudo-random generator for the benchmarks, so that every run (and every system
 * in one run) sees exactly the same data and the same access pattern.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128 bits of
 * state), seeded through splitmix32. It is not cryptographic; it only has to be fast,
 * deterministic and well spread.
 */

/** One round of splitmix32: a well-mixed 32-bit hash of `seed`. */
export function splitmix32(seed: number): number {
  let z = (seed + 0x9e3779b9) | 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  /** `seed` and `stream` select independent sequences: e.g. a fixed seed and a document index. */
  constructor(seed: number, stream = 0) {
    this.a = splitmix32(seed)
    this.b = splitmix32(this.a ^ stream)
    this.c = splitmix32(this.b + 0x632be5ab)
    this.d = splitmix32(this.c ^ 0x5bd1e995)
    // Warm up so that nearby seeds give unrelated first outputs.
    for (let round = 0; round < 12; round++) this.nextUint32()
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** A float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296
  }

  /** An integer in [0, bound), for bound up to 2^32. */
  nextInt(bound: number): number {
    return Math.floor(this.nextFloat() * bound)
  }

  /** A signed 64-bit integer over the whole int64 range. */
  nextInt64(): bigint {
    const high = BigInt(this.nextUint32() | 0)
    const low = BigInt(this.nextUint32())
    return (high << 32n) | low
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let index = items.length - 1; index > 0; index--) {
      const other = this.nextInt(index + 1)
      const held = items[index]!
      items[index] = items[other]!
      items[other] = held
    }
    return items
  }
}
