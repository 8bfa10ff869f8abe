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
import { dtypeOfCode, sectionMessageName } from '../native/codes';
import type { ArchiveInfo, NativeArchiveMap } from '../native/contract';
import { openArchiveMap } from '../native/open';
import { checkSection, verifyHeader } from './checksums';
import { checkPath } from './files';

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

/** The options every kind of buffer is rebuilt with: the archive's schema, capacity and seed, and load's storage. @internal */
export interface ArchivedBufferOptions {
  capacity: number;
  fields: Record<string, FieldSpec>;
  seed: number;
  storage: StorageOptions;
}

/** What a load needs from the buffer it fills. @internal */
export interface Restorable {
  /** Takes the archive's state: the core's from the mapping, the facade's from the header and the file's bytes. */
  restoreFrom(map: NativeArchiveMap, info: ArchiveInfo, bytes: ArrayBuffer): void;
  close(): void;
}

/** Makes the empty buffer a load fills: the public object, and its restorable state. @internal */
export type MakeBuffer<B> = (info: ArchiveInfo, options: ArchivedBufferOptions) => { buffer: B; state: Restorable };

/** The options to rebuild the archived buffer with, given load's own options. */
function archivedOptions(info: ArchiveInfo, load: LoadOptions): ArchivedBufferOptions {
  const fields: Record<string, FieldSpec> = {};
  let rowBytes = 0;
  for (const f of info.fields) {
    const dtype = dtypeOfCode(f.dtype);
    fields[f.name] = { shape: f.shape, dtype };
    rowBytes += f.shape.reduce((a, b) => a * b, 1) * DTYPES[dtype].ctor.BYTES_PER_ELEMENT;
  }
  const storage = load.storage ?? { type: 'memory' };
  if (storage.type === 'memory' && info.capacity * rowBytes > os.totalmem())
    throw new ArchiveError(
      `the archive's buffer needs ${(info.capacity * rowBytes / 2 ** 30).toFixed(1)} GiB of memory (capacity ${info.capacity}), more than this machine has; load it with tiered or mmap storage`,
    );
  return { capacity: info.capacity, fields, seed: info.seed, storage };
}

/** Verifies every section's checksum, yielding after each chunk so callers may await between them. */
function* verifySections(info: ArchiveInfo, bytes: ArrayBuffer, onProgress?: LoadOptions['onProgress']): Generator<void, void, undefined> {
  let done = 0;
  for (const s of info.sections) {
    const check = checkSection(bytes, s);
    let r = check.next();
    for (; !r.done; r = check.next()) {
      done += r.value;
      onProgress?.({ bytesVerified: done, totalBytes: info.fileBytes });
      yield;
    }
    if (!r.value) throw new ArchiveError(`the archive is corrupt: the checksum of its ${sectionMessageName(s.kind, info.fields[s.index]?.name)} does not match`);
  }
}

/**
 * Maps an archive and checks its structure and header checksum, in time independent of its
 * size: the ArrayBuffer over the whole file is made only when asked for (`map.buffer()`). @internal
 */
export function openMap(path: string): { map: NativeArchiveMap; info: ArchiveInfo } {
  const map = openArchiveMap(nodePath.resolve(checkPath(path)));
  try {
    const info = map.info();
    verifyHeader(info, map);
    return { map, info };
  } catch (e) {
    map.close();
    throw e;
  }
}

/** Loads an archive into a buffer made by `make`. @internal */
export function loadSync<B>(path: string, options: LoadOptions, make: MakeBuffer<B>): B {
  const { map, info } = openMap(path);
  try {
    const bytes = map.buffer();
    for (const _ of verifySections(info, bytes, options.onProgress)) void _;
    return restoreInto(map, info, bytes, options, make);
  } finally {
    map.close();
  }
}

/** As {@link loadSync}, yielding to the event loop while it verifies checksums. @internal */
export async function load<B>(path: string, options: LoadOptions, make: MakeBuffer<B>): Promise<B> {
  const { map, info } = openMap(path);
  try {
    const bytes = map.buffer();
    for (const _ of verifySections(info, bytes, options.onProgress)) {
      void _;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return restoreInto(map, info, bytes, options, make);
  } finally {
    map.close();
  }
}

function restoreInto<B>(map: NativeArchiveMap, info: ArchiveInfo, bytes: ArrayBuffer, options: LoadOptions, make: MakeBuffer<B>): B {
  const { buffer, state } = make(info, archivedOptions(info, options));
  try {
    state.restoreFrom(map, info, bytes);
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
