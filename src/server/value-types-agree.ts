/**
 * A compile-time check that the client's value types (src/protocol/values.ts) are the engine's
 * (src/engine/values.ts): the client declares them itself so as not to import the engine, and
 * this file fails to type-check the day the two drift apart.
 */
import type { Value as EngineValue } from '../engine/index.ts'
import type { Value as ProtocolValue } from '../protocol/values.ts'

type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false

export const valueTypesAgree: Same<EngineValue, ProtocolValue> = true
