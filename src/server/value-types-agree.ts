/**
 * A compile-time check that the client's value and watch event types (src/protocol/values.ts,
 * watch-events.ts) are the engine's (src/engine/values.ts, change-events.ts): the client declares them itself so as not to import the engine, and
 * this file fails to type-check the day the two drift apart.
 */
import type { Value as EngineValue, WatchEvent as EngineWatchEvent } from '../engine/index.ts'
import type { Value as ProtocolValue } from '../protocol/values.ts'
import type { WatchEvent as ProtocolWatchEvent } from '../protocol/watch-events.ts'

type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false

export const valueTypesAgree: Same<EngineValue, ProtocolValue> = true
export const watchEventTypesAgree: Same<EngineWatchEvent, ProtocolWatchEvent> = true
