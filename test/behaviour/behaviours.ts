/**
 * The behaviour suite: what the store does, checked through a `StoreSubject`, so that the
 * embedded engine and the client over gRPC are held to the same behaviour (see subject.ts).
 * Each test gets a fresh, empty store.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { int64, int64List, limits, string, stringList, stringMap, type TestCase, type Value } from '../../src/engine/index.ts'
import { canonical, edgeValues } from './edge-values.ts'
import { SubjectError, type StoreSubject, type SubjectFactory } from './subject.ts'

async function expectCode(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SubjectError, `expected a SubjectError, got ${String(error)}`)
    assert.equal(error.code, code, error.message)
    if (pattern !== undefined) assert.match(error.message, pattern)
    return true
  })
}

function canonicalCases(testCases: readonly TestCase[]): { tcId: number; value: string; output: string }[] {
  return testCases.map((testCase) => ({ tcId: testCase.tcId, value: canonical(testCase.value), output: canonical(testCase.output) }))
}

async function allTestCases(subject: StoreSubject, problemId: number, includeOutputs = true): Promise<TestCase[] | undefined> {
  return (await subject.testCasePages(problemId, { includeOutputs }))?.flat()
}

async function allProblems(subject: StoreSubject): Promise<number[]> {
  return (await subject.listProblemPages()).flat()
}

export function behaviourSuite(factory: SubjectFactory): void {
  describe(`behaviour: ${factory.name}`, () => {
    /** Runs `body` against a fresh subject, closed afterwards whatever happens. */
    const withSubject = (name: string, body: (subject: StoreSubject) => Promise<void>, timeoutMs = 60_000): void => {
      it(name, { timeout: timeoutMs }, async () => {
        const subject = await factory.open()
        try {
          await body(subject)
        } finally {
          await subject.close()
        }
      })
    }

    withSubject('a batch writes a problem with its test cases and outputs, later operations naming earlier ones', async (subject) => {
      const existing = await subject.createProblem('existing', { a: '1' })
      const ids = await subject.batch((batch) => {
        const problem = batch.createProblem('<p>A+B</p>', { title: 'A+B' })
        for (const [a, b] of [[1, 2], [20, 22]] as const) {
          const tc = batch.addTestCase(problem, int64List([BigInt(a), BigInt(b)]))
          batch.setExpectedOutput(problem, tc, int64(BigInt(a + b)))
        }
        batch.updateProblemColumn(existing, 'a', '2')
        batch.updateProblemHtml(problem, '<p>A plus B</p>')
      })
      assert.equal(ids.length, 3)
      const [problemId, first, second] = ids as [number, number, number]
      assert.equal(await subject.getProblemHtml(problemId), '<p>A plus B</p>')
      assert.deepEqual(await subject.getProblemMeta(problemId), { title: 'A+B' })
      assert.deepEqual(await subject.getProblemMeta(existing), { a: '2' })
      assert.deepEqual(canonicalCases((await allTestCases(subject, problemId))!), canonicalCases([
        { tcId: first, value: int64List([1n, 2n]), output: int64(3n) },
        { tcId: second, value: int64List([20n, 22n]), output: int64(42n) },
      ]))
      assert.deepEqual(await subject.counts(), { problems: 2, testCases: 2, expectedOutputs: 2 })
      // Survives a restart whole.
      await subject.restart()
      assert.equal((await allTestCases(subject, problemId))!.length, 2)
      assert.deepEqual(await subject.batch(() => undefined), [])
    })

    withSubject('a batch that is refused writes nothing and names the operation', async (subject) => {
      const problemId = await subject.createProblem('p')
      const tcId = await subject.addTestCase(problemId, int64(1n))
      await subject.setExpectedOutput(problemId, tcId, int64(1n))
      const before = { counts: await subject.counts(), meta: await subject.getProblemMeta(problemId) }
      const attempts: Array<[(batch: Parameters<Parameters<StoreSubject['batch']>[0]>[0]) => void, string, RegExp]> = [
        [(batch) => batch.addTestCase(problemId + 1000, int64(1n)), 'NOT_FOUND', /operation 4 of 4 \(addTestCase\)/],
        [(batch) => batch.setExpectedOutput(problemId, tcId, int64(2n)), 'ALREADY_EXISTS', /operation 4 of 4 \(setExpectedOutput\)/],
        [(batch) => { batch.deleteTestCase(problemId, tcId); batch.updateTestCase(problemId, tcId, int64(3n)) }, 'NOT_FOUND', /operation 5 of 5 \(updateTestCase\)/],
        [(batch) => batch.updateProblemColumn(problemId, '', 'x'), 'INVALID_ARGUMENT', /operation 4 of 4 \(updateProblemColumn\)/],
      ]
      for (const [rest, code, pattern] of attempts) {
        await expectCode(
          subject.batch((batch) => {
            const created = batch.createProblem('lost')
            batch.addTestCase(created, int64(9n))
            batch.updateProblemColumn(problemId, 'b', 'lost')
            rest(batch)
          }),
          code,
          pattern,
        )
        await subject.flush()
        assert.deepEqual({ counts: await subject.counts(), meta: await subject.getProblemMeta(problemId) }, before, `nothing written by a batch refused with ${code}`)
      }
    })

    withSubject('creates a problem and reads its text and metadata back', async (subject) => {
      const html = '<p>Add two numbers.</p>\u0000\u{1F600}'
      const id = await subject.createProblem(html, { title: 'A+B', difficulty: 'easy', empty: '' })
      assert.ok(Number.isSafeInteger(id) && id > 0)
      assert.equal(await subject.getProblemHtml(id), html)
      assert.deepEqual(await subject.getProblemMeta(id), { title: 'A+B', difficulty: 'easy', empty: '' })
      const bare = await subject.createProblem('')
      assert.equal(await subject.getProblemHtml(bare), '')
      assert.deepEqual(await subject.getProblemMeta(bare), {})
      const awkward = await subject.createProblem('x', new Map([['__proto__', 'a'], ['1', 'b'], ['\u{1F600}', 'c']]))
      const meta = await subject.getProblemMeta(awkward)
      assert.deepEqual(new Map(Object.entries(meta!)), new Map([['__proto__', 'a'], ['1', 'b'], ['\u{1F600}', 'c']]))
    })

    withSubject('stores a 1 MiB text exactly', async (subject) => {
      const html = '<p>'.padEnd(1024 * 1024, 'é\u{1F600}x')
      const id = await subject.createProblem(html)
      assert.equal(await subject.getProblemHtml(id), html)
    })

    withSubject('updates the text and single columns without touching the rest', async (subject) => {
      const id = await subject.createProblem('old', { title: 'T', keep: 'k' })
      const tcId = await subject.addTestCase(id, int64(1))
      await subject.updateProblemHtml(id, 'new')
      assert.equal(await subject.getProblemHtml(id), 'new')
      assert.deepEqual(await subject.getProblemMeta(id), { title: 'T', keep: 'k' })
      await subject.updateProblemColumn(id, 'title', 'T2')
      await subject.updateProblemColumn(id, 'added', '')
      assert.deepEqual(await subject.getProblemMeta(id), { title: 'T2', keep: 'k', added: '' })
      assert.equal(await subject.getProblemHtml(id), 'new')
      assert.equal(canonical(await subject.getTestCase(id, tcId)), canonical(int64(1)))
    })

    withSubject('deletes a problem with its test cases and never reuses its id', async (subject) => {
      const id = await subject.createProblem('doomed', { a: 'b' })
      const tcId = await subject.addTestCase(id, string('in'))
      await subject.setExpectedOutput(id, tcId, string('out'))
      await subject.deleteProblem(id)
      assert.equal(await subject.getProblemHtml(id), undefined)
      assert.equal(await subject.getProblemMeta(id), undefined)
      assert.equal(await subject.getTestCase(id, tcId), undefined)
      assert.equal(await subject.getExpectedOutput(id, tcId), undefined)
      assert.equal(await subject.testCasePages(id), undefined)
      await expectCode(subject.deleteProblem(id), 'NOT_FOUND')
      await expectCode(subject.updateProblemHtml(id, 'x'), 'NOT_FOUND')
      await expectCode(subject.updateProblemColumn(id, 'a', 'c'), 'NOT_FOUND')
      await expectCode(subject.addTestCase(id, int64(1)), 'NOT_FOUND')
      assert.deepEqual(await subject.counts(), { problems: 0, testCases: 0, expectedOutputs: 0 })
      const next = await subject.createProblem('next')
      assert.ok(next > tcId, `id ${next} must be above every id issued before`)
    })

    withSubject('lists live problems in increasing order, in pages of the size asked', async (subject) => {
      const ids: number[] = []
      for (let index = 0; index < 7; index++) ids.push(await subject.createProblem(`p${index}`))
      await subject.deleteProblem(ids[2]!)
      await subject.deleteProblem(ids[5]!)
      const live = ids.filter((_, index) => index !== 2 && index !== 5)
      assert.deepEqual(await allProblems(subject), live)
      for (const pageSize of [1, 2, 3, 5, 6]) {
        const pages = await subject.listProblemPages(pageSize)
        assert.deepEqual(pages.flat(), live, `page size ${pageSize}`)
        for (const page of pages.slice(0, -1)) assert.equal(page.length, pageSize)
        assert.ok(pages.at(-1)!.length >= 1 && pages.at(-1)!.length <= pageSize)
      }
      assert.deepEqual(await subject.listProblemPages(limits.pageMaxItems), [live])
      await expectCode(subject.listProblemPages(0), 'INVALID_ARGUMENT')
      await expectCode(subject.listProblemPages(limits.pageMaxItems + 1), 'INVALID_ARGUMENT')
    })

    withSubject('an empty store lists one empty page', async (subject) => {
      assert.deepEqual(await subject.listProblemPages(), [[]])
    })

    withSubject('round-trips values of every type at their edges', async (subject) => {
      const id = await subject.createProblem('values')
      const stored: { tcId: number; value: Value }[] = []
      for (const { label, value } of edgeValues) {
        const tcId = await subject.addTestCase(id, value)
        stored.push({ tcId, value })
        assert.equal(canonical(await subject.getTestCase(id, tcId)), canonical(value), label)
        await subject.setExpectedOutput(id, tcId, value)
        assert.equal(canonical(await subject.getExpectedOutput(id, tcId)), canonical(value), label)
      }
      const listed = await allTestCases(subject, id)
      assert.deepEqual(
        canonicalCases(listed!),
        stored.map(({ tcId, value }) => ({ tcId, value: canonical(value), output: canonical(value) })),
      )
      // Types stay apart: an int64 3 is not a double 3, an empty int64 list not an empty string list.
      const three = await subject.addTestCase(id, int64(3))
      assert.deepEqual(await subject.getTestCase(id, three), int64(3))
      const emptyList = await subject.addTestCase(id, stringList([]))
      assert.equal((await subject.getTestCase(id, emptyList))!.type, 'stringList')
    })

    withSubject('keeps the chain in the order test cases were added, with or without outputs', async (subject) => {
      const id = await subject.createProblem('chain')
      const tcIds: number[] = []
      for (let index = 0; index < 12; index++) tcIds.push(await subject.addTestCase(id, int64(index)))
      for (const index of [1, 4, 7]) await subject.setExpectedOutput(id, tcIds[index]!, int64(index * 10))
      const withOutputs = (await allTestCases(subject, id, true))!
      assert.deepEqual(withOutputs.map((testCase) => testCase.tcId), tcIds)
      assert.deepEqual(
        withOutputs.map((testCase) => canonical(testCase.output)),
        tcIds.map((_, index) => ([1, 4, 7].includes(index) ? canonical(int64(index * 10)) : 'undefined')),
      )
      const withoutOutputs = (await allTestCases(subject, id, false))!
      assert.ok(withoutOutputs.every((testCase) => testCase.output === undefined))
      for (const pageSize of [1, 5, 12, 13]) {
        const pages = (await subject.testCasePages(id, { pageSize, includeOutputs: true }))!
        assert.deepEqual(canonicalCases(pages.flat()), canonicalCases(withOutputs), `page size ${pageSize}`)
        for (const page of pages.slice(0, -1)) assert.equal(page.length, pageSize)
      }
      const empty = await subject.createProblem('no test cases')
      assert.deepEqual(await subject.testCasePages(empty), [[]])
      await expectCode(subject.testCasePages(id, { pageSize: 0 }), 'INVALID_ARGUMENT')
    })

    withSubject('updates and deletes test cases', async (subject) => {
      const id = await subject.createProblem('nodes')
      const first = await subject.addTestCase(id, int64List([1, 2]))
      const second = await subject.addTestCase(id, string('two'))
      await subject.setExpectedOutput(id, first, int64(3))
      await subject.updateTestCase(id, first, stringMap({ changed: 'yes' }))
      assert.deepEqual(await subject.getTestCase(id, first), stringMap({ changed: 'yes' }))
      assert.deepEqual(await subject.getExpectedOutput(id, first), int64(3), 'the output survives an update of its input')
      await subject.deleteTestCase(id, first)
      assert.equal(await subject.getTestCase(id, first), undefined)
      assert.equal(await subject.getExpectedOutput(id, first), undefined)
      await expectCode(subject.updateTestCase(id, first, int64(1)), 'NOT_FOUND')
      await expectCode(subject.deleteTestCase(id, first), 'NOT_FOUND')
      await expectCode(subject.setExpectedOutput(id, first, int64(1)), 'NOT_FOUND')
      assert.deepEqual((await allTestCases(subject, id))!.map((testCase) => testCase.tcId), [second])
      assert.deepEqual(await subject.counts(), { problems: 1, testCases: 1, expectedOutputs: 0 })
    })

    withSubject('sets, reads, replaces and deletes expected outputs', async (subject) => {
      const id = await subject.createProblem('outputs')
      const tcId = await subject.addTestCase(id, int64(2))
      assert.equal(await subject.getExpectedOutput(id, tcId), undefined)
      await expectCode(subject.updateExpectedOutput(id, tcId, int64(4)), 'NOT_FOUND')
      await expectCode(subject.deleteExpectedOutput(id, tcId), 'NOT_FOUND')
      await subject.setExpectedOutput(id, tcId, int64(4))
      await expectCode(subject.setExpectedOutput(id, tcId, int64(5)), 'ALREADY_EXISTS')
      assert.deepEqual(await subject.getExpectedOutput(id, tcId), int64(4))
      await subject.updateExpectedOutput(id, tcId, stringList(['four']))
      assert.deepEqual(await subject.getExpectedOutput(id, tcId), stringList(['four']))
      assert.deepEqual(await subject.counts(), { problems: 1, testCases: 1, expectedOutputs: 1 })
      await subject.deleteExpectedOutput(id, tcId)
      assert.equal(await subject.getExpectedOutput(id, tcId), undefined)
      assert.deepEqual(await subject.getTestCase(id, tcId), int64(2))
      await subject.setExpectedOutput(id, tcId, int64(6))
      assert.deepEqual(await subject.getExpectedOutput(id, tcId), int64(6))
    })

    withSubject('a test case named with another problem is unknown', async (subject) => {
      const mine = await subject.createProblem('mine')
      const other = await subject.createProblem('other')
      const tcId = await subject.addTestCase(other, int64(1))
      await subject.setExpectedOutput(other, tcId, int64(2))
      assert.equal(await subject.getTestCase(mine, tcId), undefined)
      assert.equal(await subject.getExpectedOutput(mine, tcId), undefined)
      await expectCode(subject.updateTestCase(mine, tcId, int64(9)), 'NOT_FOUND')
      await expectCode(subject.deleteTestCase(mine, tcId), 'NOT_FOUND')
      await expectCode(subject.setExpectedOutput(mine, tcId, int64(9)), 'NOT_FOUND')
      await expectCode(subject.updateExpectedOutput(mine, tcId, int64(9)), 'NOT_FOUND')
      await expectCode(subject.deleteExpectedOutput(mine, tcId), 'NOT_FOUND')
      // A problem id is not a test case id, nor the other way round.
      assert.equal(await subject.getTestCase(other, other), undefined)
      assert.equal(await subject.getProblemHtml(tcId), undefined)
      await expectCode(subject.addTestCase(tcId, int64(1)), 'NOT_FOUND')
      assert.deepEqual(await subject.getTestCase(other, tcId), int64(1))
      assert.deepEqual(await subject.getExpectedOutput(other, tcId), int64(2))
    })

    withSubject('reads of ids never issued are missing; writes are NOT_FOUND', async (subject) => {
      const unknown = 987_654_321
      assert.equal(await subject.getProblemHtml(unknown), undefined)
      assert.equal(await subject.getProblemMeta(unknown), undefined)
      assert.equal(await subject.getTestCase(unknown, unknown), undefined)
      assert.equal(await subject.getExpectedOutput(unknown, unknown), undefined)
      assert.equal(await subject.testCasePages(unknown), undefined)
      await expectCode(subject.updateProblemHtml(unknown, 'x'), 'NOT_FOUND')
      await expectCode(subject.deleteProblem(unknown), 'NOT_FOUND')
      await expectCode(subject.addTestCase(unknown, int64(1)), 'NOT_FOUND')
      await expectCode(subject.deleteExpectedOutput(unknown, unknown), 'NOT_FOUND')
    })

    withSubject('refuses malformed ids, values and names with INVALID_ARGUMENT', async (subject) => {
      const id = await subject.createProblem('args')
      const tcId = await subject.addTestCase(id, int64(1))
      for (const bad of [0, -1, 1.5, NaN, 2 ** 53, Number.MAX_VALUE]) {
        await expectCode(subject.getProblemHtml(bad), 'INVALID_ARGUMENT')
        await expectCode(subject.deleteProblem(bad), 'INVALID_ARGUMENT')
        await expectCode(subject.getTestCase(id, bad), 'INVALID_ARGUMENT')
        await expectCode(subject.updateTestCase(id, bad, int64(1)), 'INVALID_ARGUMENT')
      }
      const badValues: unknown[] = [
        { type: 'int64', value: 1 },
        { type: 'int64', value: 2n ** 63n },
        { type: 'int64', value: -(2n ** 63n) - 1n },
        { type: 'double', value: '1' },
        { type: 'string', value: 'lone \ud800 surrogate' },
        { type: 'int64List', value: [1n, 2] },
        { type: 'stringList', value: ['ok', 3] },
        { type: 'stringMap', value: { not: 'a Map' } },
        { type: 'float', value: 1 },
        { value: 1 },
        null,
      ]
      for (const bad of badValues) {
        await expectCode(subject.addTestCase(id, bad as Value), 'INVALID_ARGUMENT')
        await expectCode(subject.setExpectedOutput(id, tcId, bad as Value), 'INVALID_ARGUMENT')
      }
      await expectCode(subject.createProblem('lone \udc00'), 'INVALID_ARGUMENT')
      await expectCode(subject.createProblem('x', { '': 'empty name' }), 'INVALID_ARGUMENT')
      await expectCode(subject.updateProblemColumn(id, '', 'v'), 'INVALID_ARGUMENT')
      await expectCode(subject.updateProblemColumn(id, 'c', 'lone \ud800'), 'INVALID_ARGUMENT')
      assert.deepEqual(await subject.counts(), { problems: 1, testCases: 1, expectedOutputs: 0 })
    })

    withSubject('enforces the limits with LIMIT_EXCEEDED', async (subject) => {
      const id = await subject.createProblem('limits')
      await expectCode(subject.createProblem('x'.repeat(limits.blobMaxBytes + 1)), 'LIMIT_EXCEEDED', /blobMaxBytes/)
      await expectCode(subject.updateProblemHtml(id, 'x'.repeat(limits.blobMaxBytes + 1)), 'LIMIT_EXCEEDED', /blobMaxBytes/)
      await expectCode(subject.addTestCase(id, string('x'.repeat(limits.valueMaxBytes))), 'LIMIT_EXCEEDED', /valueMaxBytes/)
      await expectCode(subject.addTestCase(id, stringList(new Array<string>(limits.listMaxItems + 1).fill(''))), 'LIMIT_EXCEEDED')
      const bigMap = new Map<string, string>()
      for (let index = 0; index <= limits.mapMaxEntries; index++) bigMap.set(String(index), '')
      await expectCode(subject.addTestCase(id, stringMap(bigMap)), 'LIMIT_EXCEEDED', /mapMaxEntries/)
      await expectCode(subject.updateProblemColumn(id, 'c'.repeat(limits.columnNameMaxBytes + 1), 'v'), 'LIMIT_EXCEEDED', /columnNameMaxBytes/)
      const manyColumns = new Map<string, string>()
      for (let index = 0; index <= limits.metaMaxColumns; index++) manyColumns.set(`c${index}`, '')
      await expectCode(subject.createProblem('x', manyColumns), 'LIMIT_EXCEEDED', /metaMaxColumns/)
      await expectCode(subject.updateProblemColumn(id, 'big', 'v'.repeat(limits.metaMaxBytes)), 'LIMIT_EXCEEDED', /metaMaxBytes/)
      // Just under the limits is fine.
      const largest = string('x'.repeat(limits.valueMaxBytes - 5))
      const tcId = await subject.addTestCase(id, largest)
      assert.equal(canonical(await subject.getTestCase(id, tcId)), canonical(largest))
      const largestHtml = 'y'.repeat(limits.blobMaxBytes)
      await subject.updateProblemHtml(id, largestHtml)
      assert.equal(await subject.getProblemHtml(id), largestHtml)
      assert.deepEqual(await subject.counts(), { problems: 1, testCases: 1, expectedOutputs: 0 })
    })

    withSubject('concurrent appends to one chain all land, in id order', async (subject) => {
      const id = await subject.createProblem('concurrent')
      const tcIds = await Promise.all(Array.from({ length: 50 }, (_, index) => subject.addTestCase(id, int64(index))))
      assert.equal(new Set(tcIds).size, 50)
      const listed = (await allTestCases(subject, id))!
      assert.deepEqual(listed.map((testCase) => testCase.tcId), [...tcIds].sort((a, b) => a - b))
      for (const testCase of listed) assert.deepEqual(testCase.value, int64(tcIds.indexOf(testCase.tcId)))
    })

    withSubject('everything survives a restart, and ids keep increasing', async (subject) => {
      const first = await subject.createProblem('<h1>persist</h1>', { title: 'kept' })
      const doomed = await subject.createProblem('doomed')
      const tcIds: number[] = []
      for (const { value } of edgeValues) tcIds.push(await subject.addTestCase(first, value))
      await subject.setExpectedOutput(first, tcIds[0]!, string('output'))
      await subject.deleteTestCase(first, tcIds[1]!)
      await subject.updateProblemColumn(first, 'title', 'changed')
      await subject.deleteProblem(doomed)
      await subject.flush()
      const before = canonicalCases((await allTestCases(subject, first))!)
      await subject.restart()
      assert.equal(await subject.getProblemHtml(first), '<h1>persist</h1>')
      assert.deepEqual(await subject.getProblemMeta(first), { title: 'changed' })
      assert.equal(await subject.getProblemHtml(doomed), undefined)
      assert.deepEqual(canonicalCases((await allTestCases(subject, first))!), before)
      assert.deepEqual(await allProblems(subject), [first])
      assert.deepEqual(await subject.counts(), { problems: 1, testCases: edgeValues.length - 1, expectedOutputs: 1 })
      const after = await subject.createProblem('after restart')
      assert.ok(after > Math.max(...tcIds), 'no id is reused after a restart')
    })
  })
}
