/**
 * Ids: `shard * 2^localIdBits + localId`, below 2^53 so that a JavaScript number holds them.
 * The shard part is fixed per store (0 for a lone server); the local part indexes the keydir.
 */
import { localIdBits, localIdMax, shardMax } from './limits.ts'

const localIdSpan = 2 ** localIdBits

export function makeId(shard: number, localId: number): number {
  return shard * localIdSpan + localId
}

export function shardOf(id: number): number {
  return Math.floor(id / localIdSpan)
}

export function localIdOf(id: number): number {
  return id % localIdSpan
}

/** True for a number that can be an id at all (an integer in [1, 2^53)). */
export function isWellFormedId(id: unknown): id is number {
  return typeof id === 'number' && Number.isSafeInteger(id) && id > 0
}

export function isValidShard(shard: unknown): shard is number {
  return typeof shard === 'number' && Number.isInteger(shard) && shard >= 0 && shard <= shardMax
}

export { localIdMax }
