/**
 * The typed contract with the native addon (native/binding/addon.cpp): the objects it
 * makes and what their methods take and return. Types only; the numbers some of them carry
 * (dtypes, storage types, eviction, archive kinds and flags) are named in ./codes.
 * @module
 */
import type { AnyTypedArray } from '../schema/dtypes';

/** The native buffer's interface (native/binding/addon.cpp). @internal */
export interface NativeBuffer {
  readonly length: number;
  push(columns: AnyTypedArray[], n: number, priorities?: Float64Array): number;
  sample(n: number, words: Uint32Array, outs: (AnyTypedArray | null)[], keys: Float64Array, weights: Float32Array | null, beta: number): void;
  updatePriorities(keys: Float64Array, tdErrors: Float32Array | Float64Array, epsilon: number): number;
  top(k: number, keys: Float64Array, priorities: Float64Array): void;
  read(keys: Float64Array, outs: (AnyTypedArray | null)[]): void;
  keysInOrder(out: Float64Array): void;
  shuffle(values: Float64Array, words: Uint32Array): void;
  readPositions(positions: Float64Array, outs: (AnyTypedArray | null)[], keys: Float64Array): void;
  readLive(keys: Float64Array, start: number, want: number, outs: (AnyTypedArray | null)[], keysOut: Float64Array): [number, number];
  clear(): void;
  close(): void;
  stats(): { totalPriority: number; minPriority: number; maxPriority: number; bytes: number; fileBytes: number };
  planArchive(meta: ArchiveMetaJs): { fileBytes: number; tableEnd: number; sections: PlannedSection[] };
  archiveBytes(what: 0 | 1 | 2, dst: Uint8Array, crcs?: Uint32Array): number;
  exportItems(section: number, first: number, count: number, dst: Uint8Array): void;
  restore(map: NativeArchiveMap): void;
}

/** The facade's part of an archive (see native/core/archive.h). @internal */
export interface ArchiveMetaJs {
  betaStart: number;
  betaEnd: number;
  epsilon: number;
  betaFrames: number;
  sampleCalls: number;
  rngState: number[];
  seed: number;
  epoch?: { nEpochs: number; epoch: number; cursor: number; batchSize: number; randomBatchSize: number; keyCount: number; flags: number };
  epochKeys?: Float64Array;
}

/** A planned section of an archive. @internal */
export interface PlannedSection {
  kind: number;
  index: number;
  offset: number;
  length: number;
  itemBytes: number;
}

/** What ArchiveMap.info() returns. @internal */
export interface ArchiveInfo {
  version: number;
  flags: number;
  fileBytes: number;
  tableEnd: number;
  capacity: number;
  length: number;
  cursor: number;
  alpha: number;
  betaStart: number;
  betaEnd: number;
  epsilon: number;
  maxPriority: number;
  betaFrames: number;
  sampleCalls: number;
  rngState: number[];
  seed: number;
  headerCrc: number;
  fields: { name: string; dtype: number; shape: number[]; section: number }[];
  sections: { kind: number; index: number; offset: number; length: number; crc: number }[];
  keysSection: number;
  prioritiesSection: number;
  epoch?: { nEpochs: number; epoch: number; cursor: number; batchSize: number; randomBatchSize: number; keyCount: number; flags: number; keysOffset: number };
}

/** A read-only mapping of an archive file (native/binding/addon.cpp). @internal */
export interface NativeArchiveMap {
  info(): ArchiveInfo;
  buffer(): ArrayBuffer;
  head(dst: Uint8Array): void;
  close(): void;
}

/** What the NativeBuffer constructor takes. @internal */
export interface NativeSpec {
  capacity: number;
  fields: { name: string; dtype: number; shape: readonly number[] }[];
  prioritized: { alpha: number; eviction: number } | null;
  /** type: 0 memory, 1 mmap, 2 tiered. */
  storage?: { type: number; path?: string; hotCapacity?: number };
}
