/**
 * The typed contract with the native addon (native/binding/*_object.cpp): the objects it
 * makes and what their methods take and return. Types only. Enums cross the boundary by
 * name; the archive format (layout, section names, checksums) is the core's alone.
 * @module
 */
import type { AnyTypedArray, Dtype } from '../schema/dtypes';
import type { Eviction } from '../schema/prioritized';

/** Waiting on the rate limiter from this thread: a NativeBuffer's, or a NativeWriter's in a worker. @internal */
export interface NativeRateWaits {
  /**
   * Asks the rate limiter to admit n items: 0 when granted at once (counted), -1 when the buffer
   * is closed, else the id of a queued wait; `done` is then called once, from the event loop,
   * with 'granted' (counted) or 'closed', unless `rateCancel(id)` returns true first.
   * StateError without a limiter.
   */
  rateWait(side: RateSide, n: number, done: (result: 'granted' | 'closed') => void): number;
  /** True: the wait was still queued and is gone, nothing counted, `done` never called. False: decided; `done` is coming. */
  rateCancel(id: number): boolean;
  /** Gives back a grant whose call then failed (never below 0). */
  rateRefund(side: RateSide, n: number): void;
}

/** The native buffer's interface (native/binding/buffer_object.cpp). @internal */
export interface NativeBuffer extends NativeRateWaits {
  readonly length: number;
  /** The beta the next prioritized `sample` uses (the core's schedule); StateError for a uniform buffer. */
  readonly beta: number;
  /** The rate limiter counts the n rows unless `admitted` (a grant of `rateWait` counted them). */
  push(columns: AnyTypedArray[], n: number, priorities?: Float64Array, admitted?: boolean, envs?: Uint32Array): number;
  /**
   * `beta` undefined: the schedule's. A prioritized draw advances the schedule by one. The rate
   * limiter counts the n items unless `admitted`.
   */
  sample(n: number, words: Uint32Array, outs: (AnyTypedArray | null)[], keys: Float64Array, weights: Float32Array | null, beta?: number, admitted?: boolean, discount?: Float32Array, relabelled?: Uint8Array): void;
  /** Sequence windows (native/core/sequences.h): words 2n + 2; outs n * length rows a field; burn-in n * burnIn rows. */
  sampleSequences(
    n: number,
    spec: { length: number; stride: number; burnIn: number; crossEpisodes: boolean; pad: boolean },
    words: Uint32Array,
    outs: (AnyTypedArray | null)[],
    mask: Uint8Array,
    burnOuts: (AnyTypedArray | null)[] | null,
    burnMask: Uint8Array | null,
    keys: Float64Array,
    weights: Float32Array | null,
    beta: number | undefined,
  ): void;
  /** p = |tdErrors[i]| + the buffer's epsilon. */
  updatePriorities(keys: Float64Array, tdErrors: Float32Array | Float64Array): number;
  top(k: number, keys: Float64Array, priorities: Float64Array): void;
  /** discount: n-step buffers' gamma^m of each item (reads give n-step items, as sample does). */
  read(keys: Float64Array, outs: (AnyTypedArray | null)[], discount?: Float32Array): void;
  keysInOrder(out: Float64Array): void;
  shuffle(values: Float64Array, words: Uint32Array): void;
  readPositions(positions: Float64Array, outs: (AnyTypedArray | null)[], keys: Float64Array, discount?: Float32Array): void;
  readLive(keys: Float64Array, start: number, want: number, outs: (AnyTypedArray | null)[], keysOut: Float64Array, discount?: Float32Array): [number, number];
  clear(): void;
  close(): void;
  stats(): { totalPriority: number; minPriority: number; maxPriority: number; bytes: number; fileBytes: number; sideBytes: number };
  /** Starts an export of the buffer as it is now. */
  planArchive(meta: ArchiveMetaJs): ArchivePlanJs;
  /** The next bytes of the export copied into `dst` (the core checksums them): where they go, and how many; null when done. */
  exportChunk(dst: Uint8Array): [position: number, length: number] | null;
  /** The header and section table with every checksum, once every chunk is exported. */
  archiveHead(): Uint8Array;
  /** Checks the head read back from the written file; ArchiveError unless it is archiveHead(). */
  checkArchiveHead(bytes: Uint8Array): void;
  /** Ends the export (written or failed): other threads' pushes, held while it lasts, go on. */
  endArchive(): void;
  restore(map: NativeArchiveMap): void;
  /** The limiter's configuration and counters; null without a limiter. */
  rateInfo(): RateInfoJs | null;
  rateSetEnabled(enabled: boolean): void;
  /** Registers the buffer for writers in other threads of this process (once); what a writer handle names it by. */
  share(): { buffer: number; process: number };
}

/**
 * The thread that gathers the batches of one `batches()` iterator ahead
 * (native/binding/prefetcher.cpp). @internal
 */
export interface NativePrefetcher {
  /**
   * Queues a `sample` of the layout's rows from `words` (2 a row) into the batch at byte
   * `offset` of `hold` (kept alive meanwhile), its arrays where the layout says; `beta`:
   * prioritized buffers' exponent (undefined: the schedule's). `statuses[slot]` (the
   * constructor's array) turns 1 (Atomics.load) once the batch is final, 2 if it failed.
   */
  submit(words: Uint32Array, hold: ArrayBuffer, offset: number, beta: number | undefined, slot: number): void;
  /** True: the wake function will be called once a batch completes (this one was unfinished); false: it is finished already. */
  arm(statuses: Int32Array, slot: number): boolean;
  /** Throws the error of the failed batch of this status. */
  error(statuses: Int32Array, slot: number): never;
  /** Stops the thread after the batch it is gathering; idempotent. */
  close(): void;
}

/**
 * A writer on a buffer of another thread of this process (native/binding/writer_object.cpp):
 * pushes as NativeBuffer's; StateError once the buffer is closed. @internal
 */
export interface NativeWriter extends NativeRateWaits {
  readonly length: number;
  /** The buffer's schema, in schema order. */
  readonly fields: { name: string; dtype: Dtype; shape: number[] }[];
  readonly prioritized: boolean;
  /** Whether the buffer has a rate limiter (its waits are this writer's rateWait). */
  readonly limited: boolean;
  /** Whether the buffer keeps episodes (pushes take env ids). */
  readonly episodes: boolean;
  /** The rate limiter counts the n rows unless `admitted` (a grant of `rateWait` counted them). */
  push(columns: AnyTypedArray[], n: number, priorities?: Float64Array, admitted?: boolean, envs?: Uint32Array): number;
  /** Lets go of the buffer (never closes it). */
  close(): void;
}

/** A side of the rate limiter. @internal */
export type RateSide = 'insert' | 'sample';

/** A rate limiter's configuration, as the core resolved the options (native/binding/rate_limiter_js.h). @internal */
export interface RateConfigJs {
  minSize: number;
  /** undefined for MinSize. */
  samplesPerInsert: number | undefined;
  /** undefined for MinSize. */
  errorBuffer: number | undefined;
  minDiff: number;
  maxDiff: number;
}

/** A rate limiter's configuration and counters as saved (times in nanoseconds). @internal */
export interface RateRecordJs extends RateConfigJs {
  enabled: boolean;
  inserts: number;
  samples: number;
  insertWaits: number;
  sampleWaits: number;
  insertWaitNs: number;
  sampleWaitNs: number;
}

/** A live rate limiter: its record, the waits queued now, and diff. @internal */
export interface RateInfoJs extends RateRecordJs {
  pendingInserts: number;
  pendingSamples: number;
  diff: number;
}

/** The facade's part of an archive (see native/core/archive.h, ArchiveMeta). @internal */
export interface ArchiveMetaJs {
  rngState: number[];
  seed: number;
  epoch?: EpochRecordJs;
  /** Named blobs of the facade's (Extension sections); the core checks names (unique, 1..256 bytes) and sizes. */
  extensions?: ArchiveExtensionJs[];
}

/** An archive's extension: a name and opaque bytes the facade owns (native/core/archive.h, ArchiveExtension). @internal */
export interface ArchiveExtensionJs {
  name: string;
  data: Uint8Array;
}

/** The epoch record of an archive (native/core/archive.h, EpochRecord and its keys), enums as booleans. @internal */
export interface EpochRecordJs {
  nEpochs: number;
  epoch: number;
  cursor: number;
  batchSize: number;
  randomBatchSize: number;
  shuffle: boolean;
  dropLast: boolean;
  /** An epoch iterator is set (else getNextBatch draws random batches of randomBatchSize). */
  iterator: boolean;
  /** The keys of the epoch in progress (ArchiveMap.info() gives a copy); null before the first epoch begins. */
  keys: Float64Array | null;
}

/** What planArchive returns. @internal */
export interface ArchivePlanJs {
  fileBytes: number;
  /** The header and section table. */
  headBytes: number;
  /** What the writes add up to: the file less the padding that aligns its sections. */
  writeBytes: number;
}

/** What ArchiveMap.info() returns. @internal */
export interface ArchiveInfo {
  version: number;
  kind: 'uniform' | 'prioritized';
  eviction: Eviction;
  fileBytes: number;
  capacity: number;
  length: number;
  /** Prioritized options (0 in a uniform buffer's archive). */
  alpha: number;
  betaStart: number;
  betaEnd: number;
  epsilon: number;
  betaFrames: number;
  rngState: number[];
  seed: number;
  /**
   * Each field of the user schema, with where its stored rows lie in the file and their shape
   * there (a frame-stacked field stores each item's newest frame); a next field rebuilt from the
   * next item (observations stored once) has no rows in the file: no offset, bytes or storedShape.
   */
  fields: { name: string; dtype: Dtype; shape: number[]; offset?: number; bytes?: number; storedShape?: number[] }[];
  /** Observations stored once (native/core/derived.h): the fields by name, the stack, the Derived section's bytes. */
  derived?: { obs: string; next: string; frames: number; validateNext: boolean; bytes: number };
  /** Where the priorities lie (prioritized archives). */
  priorities?: { offset: number; bytes: number };
  epoch?: EpochRecordJs;
  /** The rate limiter's configuration and counters, for archives of buffers made with one. */
  rateLimiter?: RateRecordJs;
  /** The episode index's options, for archives of buffers that keep episodes (its streams: env ids seen). */
  episodes?: { streams: number; nStep: { n: number; gamma: number } | null };
  /** The archive's extensions, in the order saved (copies). */
  extensions: ArchiveExtensionJs[];
}

/** A read-only mapping of an archive file (native/binding/archive_object.cpp). @internal */
export interface NativeArchiveMap {
  info(): ArchiveInfo;
  buffer(): ArrayBuffer;
  /** Verifies up to `maxBytes` more of the sections' checksums; ArchiveError naming a section that does not match. */
  verifyChecksums(maxBytes: number): { done: boolean; bytesVerified: number };
  /** Every section's checksum, as a report. */
  checkSections(): { name: string; bytes: number; ok: boolean }[];
  /** Whether the file was truncated under the mapping since it was opened (reads past the fault see zeros). */
  damaged(): boolean;
  close(): void;
}

/** What the NativeBuffer constructor takes; enums by name. @internal */
export interface NativeSpec {
  capacity: number;
  fields: { name: string; dtype: Dtype; shape: readonly number[] }[];
  prioritized: { alpha: number; eviction: Eviction; epsilon: number; betaStart: number; betaEnd: number; betaFrames: number } | null;
  storage: { type: 'memory' } | { type: 'mmap'; path: string } | { type: 'tiered'; path: string; hotCapacity: number };
  /** The rate limiter's options (the core resolves them again); null for none. */
  rateLimiter: { minSize: number; samplesPerInsert?: number; errorBuffer?: number } | null;
  /** Episodes (the index the core keeps) with n-step returns: the fields' indexes; null for none. */
  episodes: {
    terminated: number;
    truncated: number;
    reward?: number;
    nextObs?: number;
    nStep: { n: number; gamma: number } | null;
    her?: { goal: number; achievedGoal: number; nextAchievedGoal: number; strategy: string; k: number };
  } | null;
  /** Observations stored once (native/core/derived.h): field indexes of obs and its next, stack depth. */
  derived?: { obs: number; next: number; frames: number; validateNext: boolean } | null;
}

/** Limits every buffer respects (the core refuses a buffer beyond them). @internal */
export interface NativeLimits {
  /** Fields of a schema. */
  readonly maxFields: number;
  /** Dimensions of a field's shape. */
  readonly maxDims: number;
  /** UTF-8 bytes of a field name. */
  readonly maxNameBytes: number;
  /** Items of a buffer. */
  readonly maxCapacity: number;
  /** Env stream ids of a buffer with episodes are below this. */
  readonly maxEnvStreams: number;
}

/** What the addon exports. @internal */
export interface Addon {
  NativeBuffer: new (spec: NativeSpec) => NativeBuffer;
  /** On the buffer a handle's ids name; `wake` is called (on this thread) after arm() when a batch completes. */
  /** layout: [rows, bytes, indices, weights, discount, relabelled, ...fields] byte offsets (-1: absent), as Batches.layout gives them. */
  NativePrefetcher: new (buffer: number, process: number, wake: () => void, layout: Float64Array, statuses: Int32Array) => NativePrefetcher;
  /** StateError for a handle of another process or of a closed buffer. */
  NativeWriter: new (buffer: number, process: number) => NativeWriter;
  ArchiveMap: new (path: string) => NativeArchiveMap;
  setErrorClasses(classes: Record<string, unknown>): void;
  /** The limits the core enforces when a buffer is made (frozen). */
  limits: NativeLimits;
  /** The core's CRC-32 (bit-compatible with zlib.crc32), continuing `running`. */
  crc32(bytes: Uint8Array, running?: number): number;
  /** The core's configuration for rate limiter options (RateLimiter::from_options); OutOfRangeError naming the option. */
  rateLimiterConfig(options: { minSize: number; samplesPerInsert?: number; errorBuffer?: number }): RateConfigJs;
}
