/**
 * The typed contract with the native addon (native/binding/*_object.cpp): the objects it
 * makes and what their methods take and return. Types only. Enums cross the boundary by
 * name; the archive format (layout, section names, checksums) is the core's alone.
 * @module
 */
import type { AnyTypedArray, Dtype } from '../schema/dtypes';
import type { Eviction } from '../schema/prioritized';

/** The native buffer's interface (native/binding/buffer_object.cpp). @internal */
export interface NativeBuffer {
  readonly length: number;
  /** The beta the next prioritized `sample` uses (the core's schedule); StateError for a uniform buffer. */
  readonly beta: number;
  push(columns: AnyTypedArray[], n: number, priorities?: Float64Array): number;
  /** `beta` undefined: the schedule's. A prioritized draw advances the schedule by one. */
  sample(n: number, words: Uint32Array, outs: (AnyTypedArray | null)[], keys: Float64Array, weights: Float32Array | null, beta?: number): void;
  /** p = |tdErrors[i]| + the buffer's epsilon. */
  updatePriorities(keys: Float64Array, tdErrors: Float32Array | Float64Array): number;
  top(k: number, keys: Float64Array, priorities: Float64Array): void;
  read(keys: Float64Array, outs: (AnyTypedArray | null)[]): void;
  keysInOrder(out: Float64Array): void;
  shuffle(values: Float64Array, words: Uint32Array): void;
  readPositions(positions: Float64Array, outs: (AnyTypedArray | null)[], keys: Float64Array): void;
  readLive(keys: Float64Array, start: number, want: number, outs: (AnyTypedArray | null)[], keysOut: Float64Array): [number, number];
  clear(): void;
  close(): void;
  stats(): { totalPriority: number; minPriority: number; maxPriority: number; bytes: number; fileBytes: number };
  /** Starts an export of the buffer as it is now. */
  planArchive(meta: ArchiveMetaJs): ArchivePlanJs;
  /** The next bytes of the export copied into `dst` (the core checksums them): where they go, and how many; null when done. */
  exportChunk(dst: Uint8Array): [position: number, length: number] | null;
  /** The header and section table with every checksum, once every chunk is exported. */
  archiveHead(): Uint8Array;
  /** Checks the head read back from the written file; ArchiveError unless it is archiveHead(). */
  checkArchiveHead(bytes: Uint8Array): void;
  restore(map: NativeArchiveMap): void;
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
  /** Each field, with where its rows lie in the file. */
  fields: { name: string; dtype: Dtype; shape: number[]; offset: number; bytes: number }[];
  /** Where the priorities lie (prioritized archives). */
  priorities?: { offset: number; bytes: number };
  epoch?: EpochRecordJs;
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
}

/** What the addon exports. @internal */
export interface Addon {
  NativeBuffer: new (spec: NativeSpec) => NativeBuffer;
  ArchiveMap: new (path: string) => NativeArchiveMap;
  setErrorClasses(classes: Record<string, unknown>): void;
  /** The limits the core enforces when a buffer is made (frozen). */
  limits: NativeLimits;
  /** The core's CRC-32 (bit-compatible with zlib.crc32), continuing `running`. */
  crc32(bytes: Uint8Array, running?: number): number;
}
