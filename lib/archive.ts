/**
 * Archives: checkpoint files that restore a buffer exactly (data, priorities, keys, the
 * random generator, beta's progress, an epoch in progress), open in place without a
 * parse step, and survive crashes.
 *
 * The layout (native/core/archive.h) is fixed, little-endian, versioned and 64-byte
 * aligned, in the spirit of rkyv: a typed array can view any field where it lies in the
 * mapped file. Every section carries a CRC-32, computed by the core as it exports the
 * sections; `load` verifies all of them through the core, `openArchive` checks the
 * structure and the header's checksum in time that does not grow with the data.
 * @module
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { AnyTypedArray, DtypeArrayMap, DTYPES } from './dtypes';
import { ArchiveError, ShapeError, StateError } from './errors';
import { ArchiveInfo, ArchiveMapCtor, NativeArchiveMap, NativeBuffer } from './native';
import type { ArchiveMetaJs, ArchivePlanJs } from './native';
import type { FieldSpec, FieldsSpec, StorageOptions } from './schema';

/** Progress of a save, given to `onProgress`. */
export interface SaveProgress {
  /** Bytes written so far. */
  bytesWritten: number;
  /** Bytes to write in all (the file's size less the padding that aligns its sections). */
  totalBytes: number;
}

/** Options of `save` and `saveSync`. */
export interface SaveOptions {
  /** Called after each chunk is written (about every `chunkBytes`). */
  onProgress?: (progress: SaveProgress) => void;
  /** Cancels the save (`save` only): the target is left as it was and the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Bytes gathered and written at a time; default 16 MiB. */
  chunkBytes?: number;
}

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

const VERIFY_CHUNK = 64 << 20; // bytes checksummed between two yields of `load`

/** What save needs from a buffer. @internal */
export interface Saveable {
  readonly _native: NativeBuffer;
  _saving: boolean;
  _archiveMeta(): ArchiveMetaJs;
  readonly closed: boolean;
}

/** Starts the core's export of `b` as it is now. */
function plan(b: Saveable): ArchivePlanJs {
  return b._native.planArchive(b._archiveMeta());
}

/** One write of a save: `bytes` at `position`. */
interface Write {
  bytes: Uint8Array;
  position: number;
}

/**
 * The writes of an archive's sections, in order, each exported by the core into `chunk`
 * (which the core checksums on the way): each must be consumed before the next is asked for.
 */
function* archiveWrites(b: Saveable, chunk: Uint8Array): Generator<Write, void, undefined> {
  for (let c = b._native.exportChunk(chunk); c !== null; c = b._native.exportChunk(chunk)) yield { bytes: chunk.subarray(0, c[1]), position: c[0] };
}

/**
 * Reads back the head (header and section table) of the written temporary file and has the
 * core check it against what it computed: a save never renames an archive that would not load.
 */
function checkWritten(b: Saveable, tmp: string, headBytes: number): void {
  const head = new Uint8Array(headBytes);
  const fd = fs.openSync(tmp, 'r');
  try {
    fs.readSync(fd, head, 0, headBytes, 0);
  } finally {
    fs.closeSync(fd);
  }
  b._native.checkArchiveHead(head);
}

/** Temporary files of saves in flight: removed if the process exits in the middle of one. */
const inFlight = new Set<string>();
let exitHookInstalled = false;

/** A fresh temporary path beside `target`, registered for removal at exit until released. */
function tempPathFor(target: string): string {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const tmp of inFlight) fs.rmSync(tmp, { force: true });
    });
  }
  const tmp = nodePath.join(nodePath.dirname(target), `.${nodePath.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  inFlight.add(tmp);
  return tmp;
}

function beginSave(b: Saveable): void {
  if (b.closed) throw new StateError('the buffer is closed');
  if (b._saving) throw new StateError('a save of this buffer is already in progress');
  b._saving = true;
}

function syncDirectory(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  }
}

/** Writes an archive of `b` to `path` atomically (temporary file, fsync, rename). @internal */
export function saveSync(b: Saveable, path: string, options: SaveOptions = {}): void {
  const target = nodePath.resolve(checkPath(path));
  beginSave(b);
  const tmp = tempPathFor(target);
  let fd = -1;
  try {
    const p = plan(b);
    fd = fs.openSync(tmp, 'wx', 0o644);
    fs.ftruncateSync(fd, p.fileBytes);
    let written = 0;
    for (const w of archiveWrites(b, new Uint8Array(chunkSize(options)))) {
      fs.writeSync(fd, w.bytes, 0, w.bytes.length, w.position);
      written += w.bytes.length;
      options.onProgress?.({ bytesWritten: written, totalBytes: p.writeBytes });
    }
    const head = b._native.archiveHead();
    fs.writeSync(fd, head, 0, head.length, 0);
    options.onProgress?.({ bytesWritten: written + head.length, totalBytes: p.writeBytes });
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    checkWritten(b, tmp, p.headBytes);
    fs.renameSync(tmp, target);
    syncDirectory(nodePath.dirname(target));
  } catch (e) {
    if (fd >= 0) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw wrapFsError(e, target);
  } finally {
    inFlight.delete(tmp);
    b._saving = false;
  }
}

/**
 * The worker thread that writes a save's chunks: the main thread only has the core export
 * each chunk into one of two shared buffers (a copy, checksummed on the way), so it stays
 * free while the file is written.
 */
const WRITER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { tmp, fileBytes, slots } = workerData;
let fd = -1;
const fail = (e) => {
  try { if (fd >= 0) fs.closeSync(fd); } catch {}
  fd = -1;
  try { fs.rmSync(tmp, { force: true }); } catch {}
  parentPort.postMessage({ type: 'error', message: String(e && e.message), code: e && e.code, syscall: e && e.syscall });
};
try {
  fd = fs.openSync(tmp, 'wx', 0o644);
  fs.ftruncateSync(fd, fileBytes);
  parentPort.postMessage({ type: 'ready' });
} catch (e) { fail(e); }
parentPort.on('message', (m) => {
  try {
    if (m.type === 'chunk') {
      const view = new Uint8Array(slots[m.slot], 0, m.length);
      fs.writeSync(fd, view, 0, m.length, m.position);
      parentPort.postMessage({ type: 'free', slot: m.slot, length: m.length });
    } else if (m.type === 'header') {
      fs.writeSync(fd, m.bytes, 0, m.bytes.length, 0);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fd = -1;
      parentPort.postMessage({ type: 'closed' });
    } else if (m.type === 'abort') {
      if (fd >= 0) fs.closeSync(fd);
      fd = -1;
      fs.rmSync(tmp, { force: true });
      parentPort.postMessage({ type: 'closed' });
    }
  } catch (e) { fail(e); }
});
`;

type WriterMessage =
  | { type: 'ready' | 'closed' }
  | { type: 'free'; slot: number; length: number }
  | { type: 'error'; message: string; code?: string; syscall?: string };

/** The main thread's end of the writer thread: messages in order, errors as exceptions. */
class WriterThread {
  readonly slots: SharedArrayBuffer[];
  #worker: Worker;
  #queue: WriterMessage[] = [];
  #waiting: ((m: WriterMessage) => void) | null = null;
  #failure: Error | null = null;

  constructor(tmp: string, fileBytes: number, slotBytes: number) {
    this.slots = [new SharedArrayBuffer(slotBytes), new SharedArrayBuffer(slotBytes)];
    this.#worker = new Worker(WRITER_SOURCE, { eval: true, workerData: { tmp, fileBytes, slots: this.slots } });
    this.#worker.on('message', (m: WriterMessage) => this.#deliver(m));
    this.#worker.on('error', (e: Error) => this.#deliver({ type: 'error', message: e.message }));
    this.#worker.on('exit', (code) => {
      if (code !== 0) this.#deliver({ type: 'error', message: `the archive writer thread exited with code ${code}` });
    });
  }

  #deliver(m: WriterMessage): void {
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = null;
      w(m);
    } else this.#queue.push(m);
  }

  /** The next message; throws the writer's error. */
  async receive(): Promise<WriterMessage> {
    if (this.#failure) throw this.#failure;
    const m = this.#queue.shift() ?? (await new Promise<WriterMessage>((resolve) => (this.#waiting = resolve)));
    if (m.type === 'error') {
      const e = Object.assign(new Error(m.message), { code: m.code, syscall: m.syscall });
      this.#failure = e;
      throw e;
    }
    return m;
  }

  post(m: object): void {
    this.#worker.postMessage(m);
  }

  /** Closes and removes the temporary file after an abort (best effort), then ends the thread. */
  async abort(): Promise<void> {
    if (!this.#failure) {
      this.post({ type: 'abort' });
      try {
        for (let m = await this.receive(); m.type !== 'closed'; m = await this.receive());
      } catch {
        // already failed: the writer removed the file
      }
    }
    await this.stop();
  }

  async stop(): Promise<void> {
    await this.#worker.terminate();
  }
}

/**
 * As {@link saveSync}, off the main thread: the main thread has the core gather each chunk
 * into a shared buffer (checksumming it); a worker thread writes it, while the main thread
 * gathers the next. Progress and cancellation between chunks. @internal
 */
export async function save(b: Saveable, path: string, options: SaveOptions = {}): Promise<void> {
  const target = nodePath.resolve(checkPath(path));
  options.signal?.throwIfAborted();
  beginSave(b);
  const tmp = tempPathFor(target);
  let writer: WriterThread | undefined;
  let finished = false;
  try {
    const p = plan(b);
    const slotBytes = chunkSize(options);
    writer = new WriterThread(tmp, p.fileBytes, slotBytes);
    const views = writer.slots.map((slot) => new Uint8Array(slot));
    await writer.receive(); // ready
    const free = [1, 0];
    let written = 0;
    const reclaim = async () => {
      const m = (await (writer as WriterThread).receive()) as { slot: number; length: number };
      free.push(m.slot);
      written += m.length;
      options.onProgress?.({ bytesWritten: written, totalBytes: p.writeBytes });
    };
    for (;;) {
      while (free.length === 0) await reclaim();
      options.signal?.throwIfAborted();
      const slot = free.pop() as number;
      const chunk = b._native.exportChunk(views[slot]); // straight into the shared buffer
      if (chunk === null) {
        free.push(slot);
        break;
      }
      writer.post({ type: 'chunk', slot, length: chunk[1], position: chunk[0] });
    }
    while (free.length < 2) await reclaim();
    options.signal?.throwIfAborted();
    const header = b._native.archiveHead();
    writer.post({ type: 'header', bytes: header });
    await writer.receive(); // closed: written, flushed, closed
    checkWritten(b, tmp, p.headBytes);
    finished = true;
    options.onProgress?.({ bytesWritten: written + header.length, totalBytes: p.writeBytes });
    await fs.promises.rename(tmp, target);
    syncDirectory(nodePath.dirname(target));
  } catch (e) {
    if (!finished) await writer?.abort();
    await fs.promises.rm(tmp, { force: true });
    if (options.signal?.aborted && e === options.signal.reason) throw e;
    throw wrapFsError(e, target);
  } finally {
    await writer?.stop();
    inFlight.delete(tmp);
    b._saving = false;
  }
}

function checkPath(path: unknown): string {
  if (typeof path !== 'string' || path.length === 0) throw new ArchiveError(`an archive path must be a non-empty string, got ${typeof path}`);
  return path;
}

function chunkSize(options: SaveOptions): number {
  const c = options.chunkBytes ?? 16 << 20;
  if (!Number.isInteger(c) || c < 4096) throw new ArchiveError(`chunkBytes must be an integer >= 4096, got ${String(c)}`);
  return c;
}

function wrapFsError(e: unknown, target: string): unknown {
  // Duck-typed: errors made in another realm (a vm context, jest) fail `instanceof Error`.
  const err = e as NodeJS.ErrnoException | null;
  if (typeof err === 'object' && err !== null && typeof err.code === 'string' && typeof err.syscall === 'string')
    return new ArchiveError(`cannot save the archive '${target}': ${err.message}`);
  return e;
}

// ---- reading ----

/** The buffer options an archive describes. @internal */
export interface ArchivedOptions {
  prioritized: boolean;
  options: Record<string, unknown>;
}

/** The options to rebuild the archived buffer with, given load's own options. @internal */
export function archivedOptions(info: ArchiveInfo, load: LoadOptions): ArchivedOptions {
  const fields: Record<string, FieldSpec> = {};
  let rowBytes = 0;
  for (const f of info.fields) {
    fields[f.name] = { shape: f.shape, dtype: f.dtype };
    rowBytes += f.shape.reduce((a, b) => a * b, 1) * DTYPES[f.dtype].ctor.BYTES_PER_ELEMENT;
  }
  const storage = load.storage ?? { type: 'memory' };
  if (storage.type === 'memory' && info.capacity * rowBytes > os.totalmem())
    throw new ArchiveError(
      `the archive's buffer needs ${(info.capacity * rowBytes / 2 ** 30).toFixed(1)} GiB of memory (capacity ${info.capacity}), more than this machine has; load it with tiered or mmap storage`,
    );
  const prioritized = info.kind === 'prioritized';
  const options: Record<string, unknown> = { capacity: info.capacity, fields, seed: info.seed, storage };
  if (prioritized)
    Object.assign(options, { alpha: info.alpha, betaStart: info.betaStart, betaEnd: info.betaEnd, betaFrames: info.betaFrames, epsilon: info.epsilon, eviction: info.eviction });
  return { prioritized, options };
}

/** Has the core verify every section's checksum, yielding after each chunk so callers may await between them. */
function* verifySections(map: NativeArchiveMap, info: ArchiveInfo, onProgress?: LoadOptions['onProgress']): Generator<void, void, undefined> {
  for (;;) {
    const { done, bytesVerified } = map.verifyChecksums(VERIFY_CHUNK);
    onProgress?.({ bytesVerified, totalBytes: info.fileBytes });
    if (done) return;
    yield;
  }
}

/**
 * Maps an archive; the core checks its structure and header checksum, in time independent
 * of its size: the ArrayBuffer over the whole file is made only when asked for.
 */
function openMap(path: string): { map: NativeArchiveMap; info: ArchiveInfo } {
  const map = new ArchiveMapCtor(nodePath.resolve(checkPath(path)));
  try {
    return { map, info: map.info() };
  } catch (e) {
    map.close();
    throw e;
  }
}

/** A buffer kind that can be rebuilt from an archive. @internal */
export interface Restorable {
  readonly _native: NativeBuffer;
  _restoreFacade(info: ArchiveInfo): void;
  close(): void;
}

/** Loads an archive into a buffer made by `make`. @internal */
export function loadSync<B extends Restorable>(path: string, options: LoadOptions, make: (a: ArchivedOptions) => B): B {
  const { map, info } = openMap(path);
  try {
    for (const _ of verifySections(map, info, options.onProgress)) void _;
    return restoreInto(map, info, options, make);
  } finally {
    map.close();
  }
}

/** As {@link loadSync}, yielding to the event loop while it verifies checksums. @internal */
export async function load<B extends Restorable>(path: string, options: LoadOptions, make: (a: ArchivedOptions) => B): Promise<B> {
  const { map, info } = openMap(path);
  try {
    for (const _ of verifySections(map, info, options.onProgress)) {
      void _;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return restoreInto(map, info, options, make);
  } finally {
    map.close();
  }
}

function restoreInto<B extends Restorable>(map: NativeArchiveMap, info: ArchiveInfo, options: LoadOptions, make: (a: ArchivedOptions) => B): B {
  const b = make(archivedOptions(info, options));
  try {
    b._native.restore(map);
    b._restoreFacade(info);
    return b;
  } catch (e) {
    b.close();
    throw e;
  }
}

/** True when `options` asks for an empty buffer and nothing is at `path`. @internal */
export function missingAndEmpty(path: string, options: LoadOptions | undefined): boolean {
  if (options?.ifMissing === undefined || options.ifMissing === 'error') return false;
  if (options.ifMissing !== 'empty') throw new ArchiveError(`ifMissing must be 'error' or 'empty', got ${String(options.ifMissing)}`);
  return !fs.existsSync(nodePath.resolve(checkPath(path)));
}

/**
 * A read-only archive opened in place: fields are typed arrays viewing the mapped file,
 * with no copy and no parse. Close it to unmap the file; views made before become empty.
 */
export class Archive<F extends FieldsSpec = FieldsSpec> {
  /** The file's absolute path. */
  readonly path: string;
  /** Archive format version. */
  readonly version: number;
  /** `'uniform'` or `'prioritized'`. */
  readonly kind: 'uniform' | 'prioritized';
  /** The archived buffer's capacity. */
  readonly capacity: number;
  /** Items stored. */
  readonly length: number;
  /** File size in bytes. */
  readonly fileBytes: number;
  /** The schema: each field's shape and dtype. */
  readonly schema: { readonly [K in keyof F]: FieldSpec<F[K]['dtype']> };
  #map: NativeArchiveMap | null;
  #info: ArchiveInfo;
  #bytes: ArrayBuffer | null = null;

  /** @internal Use {@link openArchive}. */
  constructor(path: string) {
    const { map, info } = openMap(path);
    this.#map = map;
    this.#info = info;
    this.path = nodePath.resolve(path);
    this.version = info.version;
    this.kind = info.kind;
    this.capacity = info.capacity;
    this.length = info.length;
    this.fileBytes = info.fileBytes;
    const schema: Record<string, FieldSpec> = {};
    for (const f of info.fields) schema[f.name] = Object.freeze({ shape: Object.freeze([...f.shape]), dtype: f.dtype });
    this.schema = Object.freeze(schema) as Archive<F>['schema'];
  }

  /**
   * Field `name` of every stored item, oldest first: a typed array of the field's dtype and
   * `length * elements` values, row-major, viewing the file in place (no copy).
   * @throws {@link ShapeError} for a field the archive does not have; {@link StateError} after `close()`.
   */
  field<K extends keyof F & string>(name: K): DtypeArrayMap[F[K]['dtype']] {
    this.#assertOpen();
    const f = this.#info.fields.find((x) => x.name === name);
    if (!f) throw new ShapeError(`the archive has no field '${String(name)}'; it has ${this.#info.fields.map((x) => `'${x.name}'`).join(', ')}`);
    const ctor = DTYPES[f.dtype].ctor as unknown as new (b: ArrayBuffer, o: number, n: number) => AnyTypedArray;
    return new ctor(this.#buffer(), f.offset, f.bytes / ctor.prototype.BYTES_PER_ELEMENT) as never;
  }

  /** Each item's priority p, oldest first (`Float64Array(length)`, in place); undefined for a uniform buffer's archive. */
  priorities(): Float64Array | undefined {
    this.#assertOpen();
    const s = this.#info.priorities;
    if (s === undefined) return undefined;
    return new Float64Array(this.#buffer(), s.offset, s.bytes / 8);
  }

  /** Verifies every section's checksum (reads the whole file). */
  verify(): { ok: boolean; sections: { name: string; bytes: number; ok: boolean }[] } {
    this.#assertOpen();
    const sections = (this.#map as NativeArchiveMap).checkSections();
    return { ok: sections.every((s) => s.ok), sections };
  }

  /** Unmaps the file. Idempotent; views from `field()` become empty. */
  close(): void {
    this.#map?.close();
    this.#map = null;
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(): void {
    if (this.#map === null) throw new StateError('the archive is closed');
  }

  /** The ArrayBuffer over the mapped file, made on first use (zero-copy where the runtime allows). */
  #buffer(): ArrayBuffer {
    this.#bytes ??= (this.#map as NativeArchiveMap).buffer();
    return this.#bytes;
  }
}

/**
 * Opens an archive read-only and in place: maps the file and checks its structure (magic,
 * version, bounds, no overlaps, sizes consistent with the schema) and its header checksum,
 * in time that does not grow with the data. Use `verify()` to check every checksum.
 * @throws {@link ArchiveError} for a missing file or one that is not a valid archive.
 */
export function openArchive<F extends FieldsSpec = FieldsSpec>(path: string): Archive<F> {
  return new Archive<F>(path);
}
