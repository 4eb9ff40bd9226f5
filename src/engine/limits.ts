/**
 * Every limit of the engine, with its unit, and the relations between them.
 *
 * A limit exists so that one request can never make the store unreadable or the process run out
 * of memory: each is checked at the edge of the public API with an error that names the limit.
 * The relations at the bottom are asserted when this module loads, standing in for compile-time
 * checks; breaking one is a programming error, not a user error.
 */
import assert from 'node:assert/strict'

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

/** Largest document text/HTML blob, in UTF-8 bytes. Sixteen MiB holds any realistic problem statement. */
export const blobMaxBytes = 16 * MiB

/** Largest encoded node value, in bytes (see docs/format.md#values for the encoding). */
export const valueMaxBytes = 4 * MiB

/** Most items in a list value. An int64 list meets `valueMaxBytes` first (8 bytes an item). */
export const listMaxItems = 1 * MiB

/** Most entries in a map value. */
export const mapMaxEntries = 64 * KiB

/** Longest metadata column name, in UTF-8 bytes. Column names are identifiers, not data. */
export const columnNameMaxBytes = 256

/** Most metadata columns on one document. */
export const metaMaxColumns = 1024

/**
 * Largest encoded metadata of one document, in bytes. Metadata is held in memory for every
 * document (GetProblemMeta needs no disk read), so it is kept far smaller than a blob.
 */
export const metaMaxBytes = 256 * KiB

/** Most input nodes in one document's chain, live ones counted. */
export const chainMaxNodes = 1 * MiB

/** Most items one page of `listProblems` or `getAllTestCases` may ask for. */
export const pageMaxItems = 100_000

/**
 * Most record bytes one page of `getAllTestCases` reads: a page ends early (with `nextAfterId`)
 * once its values reach this, so that a page of large values cannot take gigabytes of memory.
 * A page always holds at least one node.
 */
export const pageMaxBytes = 32 * MiB

/** Default page size of `listProblems` when the caller gives no limit. */
export const listProblemsDefaultLimit = 1000

/**
 * Most operations in one atomic batch (`store.batch()`). A problem with 20,000 test cases and
 * their outputs fits; more belongs in several batches.
 */
export const batchMaxOperations = 100_000

/**
 * Most bytes of records one batch writes (its text, values and metadata, and 40 bytes a record of
 * headers). A batch is one unit of the log, written and synced at once, and held in memory until
 * then; a larger one goes in several batches.
 */
export const batchMaxBytes = 64 * MiB

/** Default segment size, in bytes: large enough that rotation is rare, small enough to compact. */
export const segmentSizeDefaultBytes = 64 * MiB
/** Smallest segment size allowed. Tiny segments are useful in tests, and 4 KiB is one page. */
export const segmentSizeMinBytes = 4 * KiB
/** Largest segment size allowed: record offsets are stored as uint32 in the index. */
export const segmentSizeMaxBytes = 1 * GiB

/** Default read cache: holds the hot part of a typical store for a fraction of the index's memory. */
export const cacheSizeDefaultBytes = 64 * MiB
export const cacheSizeMaxBytes = 16 * GiB

/** Default number of changes kept for watchers (`watchHistoryMaxChanges`, store-options.ts). */
export const watchHistoryDefaultChanges = 100_000
/** Upper bound of `watchHistoryMaxChanges`: about 3 GiB of history. */
export const watchHistoryMaxChangesMax = 10_000_000
/** Default of `watchLogRetainChanges`: background compaction leaves the newest this many changes in the log. */
export const watchLogRetainDefaultChanges = 100_000

/** Default period of the background compactor's check, in ms (see store-options.ts). */
export const compactionIntervalDefaultMs = 30_000
/** Longest period of the background compactor's check: 24 hours, in ms. */
export const compactionIntervalMaxMs = 24 * 60 * 60 * 1000
/** Default share of dead bytes in sealed segments that starts a compaction. */
export const compactionDeadRatioDefault = 0.5
/** Default amount of dead bytes in sealed segments that starts a compaction, whatever their share. */
export const compactionDeadBytesDefault = 1 * GiB
/**
 * A background compaction merges the sealed segments with at least this share of dead bytes
 * (most garbage first), and the small ones, so that it copies little to reclaim much.
 */
export const compactionSegmentDeadShareMin = 0.25
/** A sealed segment smaller than this share of `segmentSizeBytes` is merged by any compaction. */
export const compactionSmallSegmentShare = 0.25
/** Most bytes of input segments one background compaction takes; the next wake takes more. */
export const compactionInputMaxBytes = 4 * GiB

export const syncIntervalDefaultMs = 100
export const syncIntervalMinMs = 1
export const syncIntervalMaxMs = 60_000

/**
 * Ids are `shard * 2^localIdBits + localId`. The local part indexes the in-memory table as a
 * uint32, and the shard part lets a proxy route any request by id alone. Both parts together stay
 * below 2^53 so that a JavaScript number holds every id exactly.
 */
export const localIdBits = 32
export const shardBits = 53 - localIdBits
export const shardMax = 2 ** shardBits - 1
/** Local id 0 is never issued: 0 means "no node" in the index's pointer columns. */
export const localIdMax = 2 ** localIdBits - 1

/** Record header size in bytes; see record.ts and docs/format.md#record. */
export const recordHeaderBytes = 40
/**
 * Segment file header size in bytes (format 3: magic, version, checksum, then the record seeds
 * twice); see docs/format.md#segment. Segments of formats 1 and 2 have a 16-byte header.
 */
export const segmentHeaderBytes = 40
export const legacySegmentHeaderBytes = 16

/**
 * Largest record payload: a blob, a value, or a document's metadata.
 * The header stores the payload length as uint32.
 */
export const recordPayloadMaxBytes = Math.max(blobMaxBytes, valueMaxBytes, metaMaxBytes)

// Relations between limits, checked once when the module loads.
assert(recordPayloadMaxBytes + recordHeaderBytes < 2 ** 32, 'payload length must fit a uint32')
// A batch may exceed the segment size (it then gets a segment of its own), and its offsets too
// must fit a uint32.
assert(segmentSizeMaxBytes + batchMaxBytes < 2 ** 32)
assert(batchMaxBytes >= blobMaxBytes + metaMaxBytes + 2 * recordHeaderBytes, 'a batch holds any one write')
// A segment may exceed its size by one record (an oversized record gets a segment of its own),
// and every offset in a segment must still fit a uint32.
assert(segmentSizeMaxBytes + recordHeaderBytes + recordPayloadMaxBytes < 2 ** 32)
assert(segmentSizeMinBytes >= segmentHeaderBytes + recordHeaderBytes)
assert(shardBits + localIdBits === 53)
assert(chainMaxNodes <= localIdMax)
assert(pageMaxItems <= chainMaxNodes)
assert(pageMaxBytes >= 2 * (recordHeaderBytes + valueMaxBytes), 'a page holds a node and its output at least')
assert(listMaxItems * 8 >= valueMaxBytes, 'an int64 list meets the byte limit before the item limit')
assert(columnNameMaxBytes * 2 < metaMaxBytes)
