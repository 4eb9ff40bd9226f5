/**
 * Power cuts, simulated: writes run through a file system that remembers what was synced, the
 * power is cut at a random moment (unsynced bytes partly dropped, partly torn), and the store is
 * reopened. Every acknowledged write must be there; a write in flight at the cut may or may not be.
 * Also: an I/O error fails the store closed, and a reopen recovers.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, it } from 'node:test'
import { openStore, type Store } from './store.ts'
import { FaultyFileSystem } from './testing/faulty-file-system.ts'
import { int64 } from './values.ts'
import { seededRandom } from './testing/seeded-random.ts'


/** What one writer's document should hold, as a canonical string for comparison. */
interface DocModel {
  docId: number
  html: string
  nodes: Map<number, { value: bigint; output?: bigint }>
}

function render(model: DocModel | undefined): string {
  if (model === undefined) return 'none'
  const nodes = [...model.nodes].map(([tcId, node]) => `${tcId}=${node.value}/${node.output ?? '-'}`)
  return `${model.html}|${nodes.join(',')}`
}

async function readBack(store: Store, docId: number): Promise<string> {
  const html = await store.getProblemHtml(docId)
  if (html === undefined) return 'none'
  const page = await store.getAllTestCases(docId, { includeOutputs: true })
  assert.ok(page !== undefined)
  const nodes = page.testCases.map(
    (node) => `${node.tcId}=${String(node.value.value)}/${node.output === undefined ? '-' : String(node.output.value)}`,
  )
  return `${html}|${nodes.join(',')}`
}

function clone(model: DocModel): DocModel {
  return { docId: model.docId, html: model.html, nodes: new Map([...model.nodes].map(([id, node]) => [id, { ...node }])) }
}

/**
 * What a writer has had acknowledged, and what a reopened store may show for its document:
 * the acknowledged state, or that state plus the one write in flight at the cut.
 */
interface WriterState {
  model: DocModel
  /** Renderings the store may show. */
  candidates: string[]
  /** When the write in flight is an add, the value of the node it adds (its id is not known). */
  addingValue: bigint | undefined
}

/** One writer: sequential writes to its own document, tracking the acknowledged state. */
async function writer(store: Store, random: () => number, state: WriterState): Promise<void> {
  let counter = 0n
  // Bounded: the loop ends when a write fails, which the power cut guarantees.
  for (let step = 0; step < 100_000; step++) {
    const next = clone(state.model)
    const nodeIds = [...next.nodes.keys()]
    const pick = nodeIds[Math.floor(random() * nodeIds.length)]
    const choice = random()
    const value = ++counter
    let write: () => Promise<unknown>
    state.addingValue = undefined
    if (pick === undefined || choice < 0.35) {
      state.addingValue = value
      write = async () => {
        const tcId = await store.addTestCase(next.docId, int64(value))
        next.nodes.set(tcId, { value })
      }
    } else if (choice < 0.55) {
      next.nodes.get(pick)!.value = value
      write = () => store.updateTestCase(next.docId, pick, int64(value))
    } else if (choice < 0.75) {
      const node = next.nodes.get(pick)!
      const had = node.output !== undefined
      node.output = value
      write = () =>
        had ? store.updateExpectedOutput(next.docId, pick, int64(value)) : store.setExpectedOutput(next.docId, pick, int64(value))
    } else if (choice < 0.85) {
      next.nodes.delete(pick)
      write = () => store.deleteTestCase(next.docId, pick)
    } else {
      next.html = `html ${value}`
      write = () => store.updateProblemHtml(next.docId, next.html)
    }
    state.candidates = state.addingValue === undefined ? [render(state.model), render(next)] : [render(state.model)]
    try {
      await write()
    } catch {
      return // The power is off.
    }
    state.model = next
    state.candidates = [render(next)]
    state.addingValue = undefined
  }
}

/** True when `found` is `base` plus one node at the end of the chain, valued `value`, no output. */
function isBasePlusAdd(base: string, value: bigint, found: string): boolean {
  const [baseHtml, baseNodes] = base.split('|') as [string, string]
  const [foundHtml, foundNodes] = found.split('|') as [string, string]
  if (baseHtml !== foundHtml) return false
  const baseList = baseNodes === '' ? [] : baseNodes.split(',')
  const foundList = foundNodes === '' ? [] : foundNodes.split(',')
  if (foundList.length !== baseList.length + 1) return false
  return foundList.slice(0, -1).join(',') === baseList.join(',') && foundList.at(-1)!.endsWith(`=${value}/-`)
}

const folders: string[] = []
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

function newFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'stratum-power-'))
  folders.push(folder)
  return folder
}

describe('power cut', () => {
  it('keeps every acknowledged write through a power cut at a random moment', async () => {
    const rounds = 40
    for (let round = 1; round <= rounds; round++) {
      const random = seededRandom(round)
      const dir = newFolder()
      const fileSystem = new FaultyFileSystem()
      const store = await openStore({ dir, fileSystem, segmentSizeBytes: 4096 })
      const writers: WriterState[] = []
      for (let index = 0; index < 6; index++) {
        const docId = await store.createProblem(`html 0`, { writer: String(index) })
        const model: DocModel = { docId, html: 'html 0', nodes: new Map() }
        writers.push({ model, candidates: [render(model)], addingValue: undefined })
      }
      const running = writers.map((state) => writer(store, random, state))
      // Cut after a random number of group commits.
      const cutAfterSyncs = 5 + Math.floor(random() * 60)
      while ((await store.stats()).syncCount < cutAfterSyncs) await new Promise((resolve) => setImmediate(resolve))
      fileSystem.powerCut(random)
      await Promise.all(running)
      fileSystem.closeAll()
      unlinkSync(join(dir, 'LOCK')) // The process that held it is "gone".

      const reopened = await openStore({ dir })
      for (const state of writers) {
        const found = await readBack(reopened, state.model.docId)
        const ok =
          state.candidates.includes(found) ||
          (state.addingValue !== undefined && isBasePlusAdd(render(state.model), state.addingValue, found))
        assert.ok(ok, `round ${round}: document ${state.model.docId} reads ${found}; acknowledged ${state.candidates.join(' or ')}`)
      }
      await reopened.close()
    }
  })

  it('fails the store closed after a failed fdatasync, and a reopen recovers the acknowledged state', async () => {
    const dir = newFolder()
    const fileSystem = new FaultyFileSystem()
    const store = await openStore({ dir, fileSystem })
    const docId = await store.createProblem('kept')
    fileSystem.failing.add('fdatasync')
    await assert.rejects(store.addTestCase(docId, int64(1)), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'UNAVAILABLE')
      assert.match(error.message, /failed after an I\/O error and must be reopened: EIO: injected fdatasync failure/)
      return true
    })
    fileSystem.failing.delete('fdatasync')
    // The failure is permanent: a later sync succeeding proves nothing about the lost pages.
    await assert.rejects(store.getProblemHtml(docId), { code: 'UNAVAILABLE' })
    await assert.rejects(store.createProblem('x'), { code: 'UNAVAILABLE' })
    await store.close().catch(() => undefined)
    const reopened = await openStore({ dir })
    assert.equal(await reopened.getProblemHtml(docId), 'kept')
    await reopened.close()
  })
})
