/**
 * Loading an archive into a new buffer: mapping the file, checking its structure and every
 * checksum, the options to rebuild the archived buffer with, and the restore itself.
 * Which kind of buffer to make is the caller's choice (a `make` function).
 * @module
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { ArchiveError } from '../errors';
import { DTYPES } from '../schema/dtypes';
import type { StorageOptions } from '../schema/storage';
import type { FieldSpec } from '../schema/types';
import type { RateLimiterOptions } from '../schema/rate-limiter';
import type { NStepOptions } from '../schema/episodes';
import type { FrameStackOptions } from '../schema/derived';
import type { HerOptions } from '../schema/her';
import type { ArchiveInfo, NativeArchiveMap } from '../native/contract';
import { openArchiveMap } from '../native/open';
import { checkPath, refuseStorageFile } from './files';
import { checkAgreement } from './agreement';

/** Bytes checksummed at a time: progress and yields to the event loop come between chunks. */
const VERIFY_CHUNK = 64 << 20;

/** Options of `load` and `loadSync`. */
export interface LoadOptions {
  /** Storage for the loaded buffer (e.g. to come back as a tiered buffer); default memory. */
  storage?: StorageOptions;
  /**
   * What to do when no file is at the path: `'error'` (default) throws an {@link ArchiveError};
   * `'empty'` makes a new, empty buffer from the other options, which must then be complete
   * constructor options (the first run of a training job).
   */
  ifMissing?: 'error' | 'empty';
  /** Called as checksums are verified. */
  onProgress?: (progress: { bytesVerified: number; totalBytes: number }) => void;
}

/**
 * The options every kind of buffer is rebuilt with: the archive's schema, capacity, seed and
 * rate limiter, and load's storage. @internal
 */
export interface ArchivedBufferOptions {
  capacity: number;
  fields: Record<string, FieldSpec>;
  seed: number;
  storage: StorageOptions;
  rateLimiter?: RateLimiterOptions;
  episodes?: boolean;
  nStep?: NStepOptions;
  /** Observations stored once: the field with `next` is in `fields`; these come with it. */
  frameStack?: FrameStackOptions;
  validateNext?: boolean;
  her?: HerOptions;
}

/** What a load needs from the buffer it fills. @internal */
export interface Restorable {
  /** Takes the archive's state: the core's from the mapping, the facade's from the header. */
  restoreFrom(map: NativeArchiveMap, info: ArchiveInfo): void;
  close(): void;
}

/** Makes the empty buffer a load fills: the public object, and its restorable state. @internal */
export type MakeBuffer<B> = (info: ArchiveInfo, options: ArchivedBufferOptions) => { buffer: B; state: Restorable };

/** The options to rebuild the archived buffer with, given load's own options. */
function archivedOptions(info: ArchiveInfo, load: LoadOptions): ArchivedBufferOptions {
  checkAgreement(info, load as Record<string, unknown>);
  const fields: Record<string, FieldSpec> = {};
  let rowBytes = 0; // what the storage holds a row: the stored fields (observations stored once: no next field, one frame)
  const d = info.derived;
  for (const f of info.fields) {
    // Every field declared in the archive's order, the next field too (same shape and dtype).
    fields[f.name] = d?.obs === f.name ? { shape: f.shape, dtype: f.dtype, next: d.next } : { shape: f.shape, dtype: f.dtype };
    if (f.storedShape) rowBytes += f.storedShape.reduce((a, b) => a * b, 1) * DTYPES[f.dtype].ctor.BYTES_PER_ELEMENT;
  }
  const storage = load.storage ?? { type: 'memory' };
  if (storage.type === 'memory' && info.capacity * rowBytes > os.totalmem())
    throw new ArchiveError(
      `the archive's buffer needs ${(info.capacity * rowBytes / 2 ** 30).toFixed(1)} GiB of memory (capacity ${info.capacity}), more than this machine has; load it with tiered or mmap storage`,
    );
  const options: ArchivedBufferOptions = { capacity: info.capacity, fields, seed: info.seed, storage };
  // The limiter is part of the buffer's state, like its priorities: it comes back with it
  // (counters included, restored by the core), and options that disagree were refused above.
  const rl = info.rateLimiter;
  if (rl) {
    options.rateLimiter = { minSize: rl.minSize };
    if (rl.samplesPerInsert !== undefined) options.rateLimiter.samplesPerInsert = rl.samplesPerInsert;
    if (rl.errorBuffer !== undefined) options.rateLimiter.errorBuffer = rl.errorBuffer;
  }
  // So are the episode index and the n-step option it was kept for.
  if (info.episodes) {
    options.episodes = true;
    const ns = info.episodes.nStep;
    if (ns) options.nStep = { n: ns.n, gamma: ns.gamma };
  }
  // And the frame stores of observations stored once (their state the core restores).
  if (d) {
    if (d.frames > 1) options.frameStack = { field: d.obs, frames: d.frames };
    if (d.validateNext) options.validateNext = true;
  }
  // HER is not archived (its computeReward is a function, and it changes batches, not state):
  // given to load, it applies to the loaded buffer, whose episode index the archive must hold.
  const her = (load as { her?: HerOptions }).her;
  if (her !== undefined) {
    if (!info.episodes) throw new ArchiveError('option her needs the episode index, and the archive holds a buffer saved without one (make it with episodes: true)');
    options.her = her;
  }
  return options;
}

/** Has the core verify every section's checksum, a chunk at a time, yielding between chunks so callers may await. */
function* verifySections(map: NativeArchiveMap, info: ArchiveInfo, onProgress?: LoadOptions['onProgress']): Generator<void, void, undefined> {
  for (;;) {
    const r = map.verifyChecksums(VERIFY_CHUNK);
    onProgress?.({ bytesVerified: r.bytesVerified, totalBytes: info.fileBytes });
    if (r.done) return;
    yield;
  }
}

/**
 * Refuses an archive whose file was truncated by another process while mapped: its pages
 * past the fault read zeros (the core's fault guard), so nothing read from it can be trusted.
 * @internal
 */
export function assertIntact(map: NativeArchiveMap, path: string): void {
  if (map.damaged()) throw new ArchiveError(`the archive '${path}' was truncated or damaged by another process while it was open`);
}

/**
 * Maps an archive; the core checks its structure and header checksum, in time independent
 * of its size (the ArrayBuffer over the whole file is made only when asked for). @internal
 */
export function openMap(path: string): { map: NativeArchiveMap; info: ArchiveInfo } {
  const map = openArchiveMap(nodePath.resolve(checkPath(path)));
  try {
    const info = map.info();
    assertIntact(map, path); // truncated while the core parsed it: what it read was zeros
    return { map, info };
  } catch (e) {
    map.close();
    throw e;
  }
}

/** Checks load's options that must hold before the archive is opened. */
function checkLoad(path: string, options: LoadOptions): void {
  const target = nodePath.resolve(checkPath(path));
  if (typeof options !== 'object' || options === null) throw new ArchiveError(`load options must be an object, got ${options === null ? 'null' : typeof options}`);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new ArchiveError(`onProgress must be a function, got ${typeof options.onProgress}`);
  refuseStorageFile(target, options.storage, 'load');
}

/** Loads an archive into a buffer made by `make`. @internal */
export function loadSync<B>(path: string, options: LoadOptions, make: MakeBuffer<B>): B {
  checkLoad(path, options);
  const { map, info } = openMap(path);
  try {
    for (const _ of verifySections(map, info, options.onProgress)) void _;
    assertIntact(map, path);
    return restoreInto(path, map, info, options, make);
  } finally {
    map.close();
  }
}

/** As {@link loadSync}, yielding to the event loop while it verifies checksums. @internal */
export async function load<B>(path: string, options: LoadOptions, make: MakeBuffer<B>): Promise<B> {
  checkLoad(path, options);
  const { map, info } = openMap(path);
  try {
    for (const _ of verifySections(map, info, options.onProgress)) {
      void _;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    assertIntact(map, path);
    return restoreInto(path, map, info, options, make);
  } finally {
    map.close();
  }
}

/** Makes the buffer and restores the archive into it; the file must still be intact once the core has copied it. */
function restoreInto<B>(path: string, map: NativeArchiveMap, info: ArchiveInfo, options: LoadOptions, make: MakeBuffer<B>): B {
  const { buffer, state } = make(info, archivedOptions(info, options));
  try {
    state.restoreFrom(map, info);
    assertIntact(map, path);
    return buffer;
  } catch (e) {
    state.close();
    throw e;
  }
}

/** True when `options` asks for an empty buffer and nothing is at `path`. @internal */
export function missingAndEmpty(path: string, options: LoadOptions | undefined): boolean {
  if (options?.ifMissing === undefined || options.ifMissing === 'error') return false;
  if (options.ifMissing !== 'empty') throw new ArchiveError(`ifMissing must be 'error' or 'empty', got ${String(options.ifMissing)}`);
  return !fs.existsSync(nodePath.resolve(checkPath(path)));
}
