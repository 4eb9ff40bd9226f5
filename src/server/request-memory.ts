/**
 * A bound on the memory that the requests in flight hold all together.
 *
 * Each request is bounded on its own (its method's size limit, requestItemsMax), but many at once
 * could still hold gigabytes: a request is held from its first bytes until its handler answers.
 * Its bytes are charged as they arrive (request-receipt.ts); once it is whole, that charge is
 * returned and the request is charged before it is decoded, with an estimate of what it will hold.
 * Either charge refuses it (RESOURCE_EXHAUSTED, "retry later") when the requests already in
 * flight hold `requestsInFlightMaxBytes`. A request arriving when nothing else is held is always
 * taken, so a budget smaller than the largest request only serialises large requests.
 *
 * Answers their clients have not read yet are charged too (response-delivery.ts), but they never
 * keep a request out: before refusing one, the budget asks its reclaimer to drop such answers,
 * those that have waited longest first, so that a client that does not read cannot lock the
 * others out for as long as its answers may wait.
 *
 *   const held = budget.tryReserve(requestMemoryBytes(bytes.length, items))   // before decoding
 *   budget.attach(request, held)                                             // once decoded
 *   budget.release(request)                                                  // when answered
 */

/**
 * The memory of one decoded list item, map entry or column, as an estimate: a JavaScript string or
 * object and its slot in an array. Measured (test/server/request-item-cost.test.ts, figures in
 * docs/benchmarks.md): 5 to 42 bytes kept for numbers and strings, 66 for an empty map entry or
 * column, up to 123 (with three times its 10 wire bytes) for a map entry of two short strings,
 * the costliest item there is: this covers it.
 */
export const requestItemCostBytes = 104

/**
 * What a request of `wireBytes` with `items` repeated items holds while it runs: the bytes as
 * received, their canonical copy, the decoded strings, and an object per item.
 */
export function requestMemoryBytes(wireBytes: number, items: number): number {
  return 3 * wireBytes + requestItemCostBytes * items
}

export class RequestMemoryBudget {
  private heldBytes = 0
  private readonly holds = new WeakMap<object, number>()
  // A call that ends before its handler runs (cancelled once decoded) is never released; its
  // request is then garbage, and its bytes return to the budget when it is collected.
  private readonly collected = new FinalizationRegistry<number>((bytes) => {
    this.heldBytes -= bytes
  })

  /** Frees at least `bytes` of what is charged, if it can (see `setReclaimer`). */
  private reclaim: ((bytes: number) => void) | undefined

  constructor(readonly maxBytes: number) {}

  /** Sets what `tryReserve` asks to free memory before it refuses a request. */
  setReclaimer(reclaim: (bytes: number) => void): void {
    this.reclaim = reclaim
  }

  /** Bytes held by requests in flight. */
  get held(): number {
    return this.heldBytes
  }

  /**
   * Charges `bytes` for a request; false, charging nothing, when that would go over maxBytes while
   * other requests hold some. `ownBytes`: what this request holds already (its bytes received so
   * far), which does not count as held by others.
   */
  tryReserve(bytes: number, ownBytes = 0): boolean {
    if (this.wouldRefuse(bytes, ownBytes) && this.reclaim !== undefined) this.reclaim(this.heldBytes + bytes - this.maxBytes)
    if (this.wouldRefuse(bytes, ownBytes)) return false
    this.heldBytes += bytes
    return true
  }

  private wouldRefuse(bytes: number, ownBytes: number): boolean {
    return this.heldBytes - ownBytes > 0 && this.heldBytes + bytes > this.maxBytes
  }

  /**
   * Charges `bytes` whatever is held: memory already taken, such as an answer its client has not
   * read yet (response-delivery.ts), which new requests must then wait for. Negative returns some.
   */
  charge(bytes: number): void {
    this.heldBytes += bytes
  }

  /** Returns a reservation whose request could not be decoded. */
  cancel(bytes: number): void {
    this.heldBytes -= bytes
  }

  /** Ties a reservation to the decoded request that holds it. */
  attach(request: object, bytes: number): void {
    this.holds.set(request, bytes)
    this.collected.register(request, bytes, request)
  }

  /** The request was answered: its bytes return to the budget. A request never charged is ignored. */
  release(request: object): void {
    const bytes = this.holds.get(request)
    if (bytes === undefined) return
    this.holds.delete(request)
    this.collected.unregister(request)
    this.heldBytes -= bytes
  }
}
