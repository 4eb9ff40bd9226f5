/**
 * The systems the engine benchmark compares, behind one small interface: Stratum, better-sqlite3
 * and lmdb. Each uses its own idiomatic API: Stratum and every write are asynchronous; SQLite
 * reads and lmdb reads are synchronous calls, as their users would make them.
 *
 * Every write is one transaction, acknowledged according to the system's durability setting:
 *   - Stratum: syncMode 'always' (acknowledged after fdatasync; concurrent writes share one).
 *   - SQLite: WAL, synchronous=FULL (the WAL is synced at every commit), autocommit statements.
 *   - lmdb: its default, `overlappingSync` on Linux: the promise of a write resolves when its
 *     transaction is committed and visible, and the flush to disk follows, overlapped with the
 *     next transactions. lmdb's README calls this crash-proof (a crash cannot corrupt the store),
 *     but an acknowledged write may be lost by a crash before the flush. The `lmdb-sync` variant
 *     (`overlappingSync: false`) acknowledges only after the commit is synced, as the others do.
 *
 * Node values are stored by the peers in Stratum's own value encoding (`encodeValue`), so that
 * every system encodes and decodes the same bytes with the same code.
 */
import Database from 'better-sqlite3'
import { open, type Database as LmdbDatabase, type RootDatabase } from 'lmdb'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { openStore, type Store, type StoreOptions, type Value } from '../src/engine/index.ts'
import { decodeValue, encodeValue } from '../src/engine/values.ts'

export interface ChainNode {
  tcId: number
  value: Value
  output?: Value
}

export interface Chain {
  html: string
  meta: Record<string, string>
  testCases: ChainNode[]
}

export type MaybePromise<T> = T | Promise<T>

export interface Subject {
  readonly name: string
  createDocument(html: string, meta: Record<string, string>): Promise<number>
  addInput(docId: number, value: Value): Promise<number>
  setOutput(docId: number, tcId: number, value: Value): Promise<void>
  getInput(docId: number, tcId: number): MaybePromise<Value | undefined>
  getChain(docId: number): MaybePromise<Chain | undefined>
  updateInput(docId: number, tcId: number, value: Value): Promise<void>
  deleteDocument(docId: number): Promise<void>
  /** Bytes of the system's files on disk. */
  diskBytes(): Promise<number>
  close(): Promise<void>
}

function fileSizeBytes(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

function decoded(bytes: Buffer): Value {
  return decodeValue(bytes, 0, bytes.length)
}

// ---------------------------------------------------------------- Stratum

export class StratumSubject implements Subject {
  name = 'stratum'

  private constructor(
    readonly dir: string,
    public store: Store,
  ) {}

  /**
   * Opens with syncMode 'always' and the background compactor off (compactionIntervalMs 0), so
   * that only the benchmark's explicit `compactNow()` calls compact. `name` tells apart two
   * stores in one run; `cacheSizeBytes` sets the read cache (default: the engine's, 64 MiB).
   */
  static async open(dir: string, options: { name?: string; cacheSizeBytes?: number } = {}): Promise<StratumSubject> {
    const subject = new StratumSubject(dir, await openStore(StratumSubject.storeOptions(dir, options.cacheSizeBytes)))
    if (options.name !== undefined) subject.name = options.name
    return subject
  }

  private static storeOptions(dir: string, cacheSizeBytes: number | undefined): StoreOptions {
    return cacheSizeBytes === undefined
      ? { dir, syncMode: 'always', compactionIntervalMs: 0 }
      : { dir, syncMode: 'always', compactionIntervalMs: 0, cacheSizeBytes }
  }

  /** Closes and reopens the store (with another read cache size if given); resolves to the reopen time in ms. */
  async reopen(cacheSizeBytes?: number): Promise<number> {
    await this.store.close()
    const started = performance.now()
    this.store = await openStore(StratumSubject.storeOptions(this.dir, cacheSizeBytes))
    return performance.now() - started
  }

  createDocument(html: string, meta: Record<string, string>): Promise<number> {
    return this.store.createProblem(html, meta)
  }

  addInput(docId: number, value: Value): Promise<number> {
    return this.store.addTestCase(docId, value)
  }

  async setOutput(docId: number, tcId: number, value: Value): Promise<void> {
    await this.store.setExpectedOutput(docId, tcId, value)
  }

  getInput(docId: number, tcId: number): Promise<Value | undefined> {
    return this.store.getTestCase(docId, tcId)
  }

  async getChain(docId: number): Promise<Chain | undefined> {
    const html = await this.store.getProblemHtml(docId)
    const meta = await this.store.getProblemMeta(docId)
    const page = await this.store.getAllTestCases(docId, { includeOutputs: true })
    if (html === undefined || meta === undefined || page === undefined) return undefined
    return { html, meta, testCases: page.testCases }
  }

  async updateInput(docId: number, tcId: number, value: Value): Promise<void> {
    await this.store.updateTestCase(docId, tcId, value)
  }

  async deleteDocument(docId: number): Promise<void> {
    await this.store.deleteProblem(docId)
  }

  async diskBytes(): Promise<number> {
    return (await this.store.stats()).diskBytes
  }

  close(): Promise<void> {
    return this.store.close()
  }
}

// ---------------------------------------------------------------- better-sqlite3

interface DocumentRow {
  html: string
  title: string
  difficulty: string
  tags: string
}

interface ChainRow {
  id: number
  value: Buffer
  output: Buffer | null
}

/**
 * Schema: documents (blob + three metadata columns), inputs (id, doc_id, value) with an index on
 * (doc_id, id) for chain reads, outputs keyed by input id. Foreign keys with ON DELETE CASCADE do
 * what Stratum does: refuse a node of an unknown document, and delete a document's nodes with it.
 * Page cache: 64 MiB, enough to hold the whole benchmark data set.
 */
export class SqliteSubject implements Subject {
  readonly name = 'better-sqlite3'
  private readonly db: Database.Database
  private readonly insertDocument: Database.Statement<[string, string, string, string]>
  private readonly insertInput: Database.Statement<[number, Buffer]>
  private readonly insertOutput: Database.Statement<[Buffer, number, number]>
  private readonly selectInput: Database.Statement<[number, number], { value: Buffer }>
  private readonly selectDocument: Database.Statement<[number], DocumentRow>
  private readonly selectChain: Database.Statement<[number], ChainRow>
  private readonly updateInputStatement: Database.Statement<[Buffer, number, number]>
  private readonly deleteDocumentStatement: Database.Statement<[number]>

  constructor(readonly dir: string) {
    this.db = new Database(join(dir, 'bench.sqlite'))
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = FULL')
    this.db.pragma('foreign_keys = ON')
    this.db.pragma('cache_size = -65536')
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS documents (
        id INTEGER PRIMARY KEY,
        html TEXT NOT NULL,
        title TEXT NOT NULL,
        difficulty TEXT NOT NULL,
        tags TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS inputs (
        id INTEGER PRIMARY KEY,
        doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        value BLOB NOT NULL
      );
      CREATE INDEX IF NOT EXISTS inputs_by_document ON inputs(doc_id, id);
      CREATE TABLE IF NOT EXISTS outputs (
        input_id INTEGER PRIMARY KEY REFERENCES inputs(id) ON DELETE CASCADE,
        value BLOB NOT NULL
      );
    `)
    this.insertDocument = this.db.prepare('INSERT INTO documents (html, title, difficulty, tags) VALUES (?, ?, ?, ?)')
    this.insertInput = this.db.prepare('INSERT INTO inputs (doc_id, value) VALUES (?, ?)')
    // The SELECT makes the output refer to an input of this document, as Stratum checks.
    this.insertOutput = this.db.prepare('INSERT INTO outputs (input_id, value) SELECT id, ? FROM inputs WHERE id = ? AND doc_id = ?')
    this.selectInput = this.db.prepare('SELECT value FROM inputs WHERE id = ? AND doc_id = ?')
    this.selectDocument = this.db.prepare('SELECT html, title, difficulty, tags FROM documents WHERE id = ?')
    this.selectChain = this.db.prepare(
      'SELECT i.id AS id, i.value AS value, o.value AS output FROM inputs i LEFT JOIN outputs o ON o.input_id = i.id WHERE i.doc_id = ? ORDER BY i.id',
    )
    this.updateInputStatement = this.db.prepare('UPDATE inputs SET value = ? WHERE id = ? AND doc_id = ?')
    this.deleteDocumentStatement = this.db.prepare('DELETE FROM documents WHERE id = ?')
  }

  async createDocument(html: string, meta: Record<string, string>): Promise<number> {
    const result = this.insertDocument.run(html, meta.title ?? '', meta.difficulty ?? '', meta.tags ?? '')
    return Number(result.lastInsertRowid)
  }

  async addInput(docId: number, value: Value): Promise<number> {
    return Number(this.insertInput.run(docId, encodeValue(value)).lastInsertRowid)
  }

  async setOutput(docId: number, tcId: number, value: Value): Promise<void> {
    const result = this.insertOutput.run(encodeValue(value), tcId, docId)
    if (result.changes !== 1) throw new Error(`input ${tcId} of document ${docId} not found`)
  }

  getInput(docId: number, tcId: number): Value | undefined {
    const row = this.selectInput.get(tcId, docId)
    return row === undefined ? undefined : decoded(row.value)
  }

  getChain(docId: number): Chain | undefined {
    const document = this.selectDocument.get(docId)
    if (document === undefined) return undefined
    const testCases: ChainNode[] = []
    for (const row of this.selectChain.all(docId)) {
      const node: ChainNode = { tcId: row.id, value: decoded(row.value) }
      if (row.output !== null) node.output = decoded(row.output)
      testCases.push(node)
    }
    return {
      html: document.html,
      meta: { title: document.title, difficulty: document.difficulty, tags: document.tags },
      testCases,
    }
  }

  async updateInput(docId: number, tcId: number, value: Value): Promise<void> {
    const result = this.updateInputStatement.run(encodeValue(value), tcId, docId)
    if (result.changes !== 1) throw new Error(`input ${tcId} of document ${docId} not found`)
  }

  async deleteDocument(docId: number): Promise<void> {
    const result = this.deleteDocumentStatement.run(docId)
    if (result.changes !== 1) throw new Error(`document ${docId} not found`)
  }

  /** Opens a transaction: the writes that follow commit together at `commit()` (one WAL sync). */
  begin(): void {
    this.db.exec('BEGIN')
  }

  commit(): void {
    this.db.exec('COMMIT')
  }

  /** Sets the page cache (PRAGMA cache_size) to `kib` KiB; the constructor sets 64 MiB. */
  setCacheSizeKiB(kib: number): void {
    this.db.pragma(`cache_size = -${Math.floor(kib)}`)
  }

  async diskBytes(): Promise<number> {
    const base = join(this.dir, 'bench.sqlite')
    return fileSizeBytes(base) + fileSizeBytes(`${base}-wal`) + fileSizeBytes(`${base}-shm`)
  }

  async close(): Promise<void> {
    this.db.close()
  }
}

// ---------------------------------------------------------------- lmdb

interface LmdbDocument {
  html: string
  meta: Record<string, string>
}

type NodeKey = [number, number, number]

/**
 * Layout: a `docs` database (msgpack { html, meta }) keyed by document id, and a `nodes` database
 * (raw bytes) keyed by [docId, tcId, 0] for an input and [docId, tcId, 1] for its output, so that
 * one range scan from [docId] yields a document's chain in order with its outputs. Ids come from
 * one counter, as in Stratum. Each write is one lmdb transaction (a `put` or `transaction()`
 * awaited alone; concurrent writers' transactions are batched into one commit by lmdb-js).
 */
export class LmdbSubject implements Subject {
  private readonly root: RootDatabase
  private readonly docs: LmdbDatabase<LmdbDocument, number>
  private readonly nodes: LmdbDatabase<Buffer, NodeKey>
  private nextId = 1

  constructor(
    readonly dir: string,
    readonly name: string,
    overlappingSync: boolean,
  ) {
    this.root = open({ path: dir, overlappingSync })
    this.docs = this.root.openDB<LmdbDocument, number>('docs', {})
    this.nodes = this.root.openDB<Buffer, NodeKey>('nodes', { encoding: 'binary' })
  }

  async createDocument(html: string, meta: Record<string, string>): Promise<number> {
    const id = this.nextId++
    await this.docs.put(id, { html, meta })
    return id
  }

  async addInput(docId: number, value: Value): Promise<number> {
    const bytes = encodeValue(value)
    if (!this.docs.doesExist(docId)) throw new Error(`document ${docId} not found`)
    const id = this.nextId++
    await this.nodes.put([docId, id, 0], bytes)
    return id
  }

  async setOutput(docId: number, tcId: number, value: Value): Promise<void> {
    const bytes = encodeValue(value)
    if (!this.nodes.doesExist([docId, tcId, 0])) throw new Error(`input ${tcId} of document ${docId} not found`)
    await this.nodes.put([docId, tcId, 1], bytes)
  }

  getInput(docId: number, tcId: number): Value | undefined {
    const bytes = this.nodes.get([docId, tcId, 0])
    return bytes === undefined ? undefined : decoded(bytes)
  }

  getChain(docId: number): Chain | undefined {
    const document = this.docs.get(docId)
    if (document === undefined) return undefined
    const testCases: ChainNode[] = []
    for (const { key, value } of this.nodes.getRange({ start: [docId] as unknown as NodeKey, end: [docId + 1] as unknown as NodeKey })) {
      if (key[2] === 0) testCases.push({ tcId: key[1], value: decoded(value) })
      else testCases[testCases.length - 1]!.output = decoded(value)
    }
    return { html: document.html, meta: document.meta, testCases }
  }

  async updateInput(docId: number, tcId: number, value: Value): Promise<void> {
    const bytes = encodeValue(value)
    if (!this.nodes.doesExist([docId, tcId, 0])) throw new Error(`input ${tcId} of document ${docId} not found`)
    await this.nodes.put([docId, tcId, 0], bytes)
  }

  async deleteDocument(docId: number): Promise<void> {
    const removed = await this.root.transaction(() => {
      if (!this.docs.doesExist(docId)) return false
      void this.docs.remove(docId)
      const keys = [...this.nodes.getKeys({ start: [docId] as unknown as NodeKey, end: [docId + 1] as unknown as NodeKey })]
      for (const key of keys) void this.nodes.remove(key)
      return true
    })
    if (!removed) throw new Error(`document ${docId} not found`)
  }

  async diskBytes(): Promise<number> {
    return fileSizeBytes(join(this.dir, 'data.mdb'))
  }

  async close(): Promise<void> {
    await this.root.close()
  }
}
