/**
 * Parsers of command-line values. Each throws commander's InvalidArgumentError with a short
 * reason, which commander turns into a one-line error naming the flag (or its variable).
 */
import { InvalidArgumentError } from 'commander'

/** An integer from `min` to `max`. */
export function integerIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = /^-?[0-9]+$/.test(text.trim()) ? Number(text) : NaN
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`)
    }
    return value
  }
}

/** A decimal number from `min` to `max`, e.g. "0.5" (no exponent, no sign). */
export function numberIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)$/.test(text.trim()) ? Number(text) : NaN
    if (!(value >= min && value <= max)) throw new InvalidArgumentError(`expected a number from ${min} to ${max}`)
    return value
  }
}

const byteUnits: Record<string, number> = { '': 1, B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }

/** A size in bytes: a plain integer, or one with a binary unit (KiB, MiB, GiB), e.g. "64MiB". */
export function bytesIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const match = /^([0-9]+)\s*(B|KiB|MiB|GiB)?$/.exec(text.trim())
    const value = match === null ? NaN : Number(match[1]) * byteUnits[match[2] ?? '']!
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${formatBytes(min)}` : `from ${formatBytes(min)} to ${formatBytes(max)}`
      throw new InvalidArgumentError(`expected a size in bytes ${range} (units: KiB, MiB, GiB)`)
    }
    return value
  }
}

/** `bytes` with the largest binary unit that divides it, for help texts. */
export function formatBytes(bytes: number): string {
  for (const unit of ['GiB', 'MiB', 'KiB']) {
    const size = byteUnits[unit]!
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`
  }
  return `${bytes}`
}

/** A `host:port` address for a client. */
export function address(text: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):[0-9]{1,5}$/.test(text)) throw new InvalidArgumentError('expected host:port')
  return text
}
