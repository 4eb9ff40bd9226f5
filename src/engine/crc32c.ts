/**
 * CRC-32C (Castagnoli), the checksum of every record and file header.
 * Backed by @node-rs/crc32, which uses the CPU's CRC instructions where it has them.
 */
import { crc32c as nativeCrc32c } from '@node-rs/crc32'

/** CRC-32C of `bytes`, continuing from `previous` (the CRC of the bytes before them) if given. */
export function crc32c(bytes: Buffer, previous?: number): number {
  return nativeCrc32c(bytes, previous)
}
