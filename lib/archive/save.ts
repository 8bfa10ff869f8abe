/**
 * Saving a buffer to an archive file atomically (temporary file, fsync, rename):
 * synchronously on the calling thread, or with a writer thread.
 * @module
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { ArchiveError, StateError } from '../errors';
import { checkPath, refuseStorageFile, releaseTempPath, syncDirectory, tempPathFor, wrapFsError } from './files';
import { archiveWrites, checkWritten, plan, Saveable } from './writes';
import { WriterThread } from './writer';

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

/**
 * Checks a save's arguments, the buffer's state first (a closed buffer is a StateError whatever
 * the arguments): the resolved target path and the options, each a named error.
 */
function checkSave(b: Saveable, path: unknown, options: unknown): { target: string; options: SaveOptions } {
  if (b.closed) throw new StateError('the buffer is closed');
  if (b.busy) throw new StateError('a save cannot start from inside another call on this buffer (a getter of its input)');
  const target = nodePath.resolve(checkPath(path));
  if (options === undefined) {
    refuseStorageFile(target, b.storage, 'save');
    return { target, options: {} };
  }
  if (typeof options !== 'object' || options === null) throw new ArchiveError(`save options must be an object, got ${options === null ? 'null' : typeof options}`);
  const o = options as Record<string, unknown>;
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new ArchiveError(`onProgress must be a function, got ${typeof o.onProgress}`);
  if (o.signal !== undefined) {
    // Duck-typed: an AbortSignal made in another realm (a vm context, jest) fails `instanceof`.
    const sig = o.signal as { aborted?: unknown; throwIfAborted?: unknown; addEventListener?: unknown } | null;
    if (typeof sig !== 'object' || sig === null || typeof sig.aborted !== 'boolean' || typeof sig.throwIfAborted !== 'function' || typeof sig.addEventListener !== 'function')
      throw new ArchiveError('signal must be an AbortSignal');
  }
  chunkSize(o as SaveOptions);
  refuseStorageFile(target, b.storage, 'save');
  return { target, options: o as SaveOptions };
}

/** Marks `b` as saving, refusing a closed buffer and a second save. */
function beginSave(b: Saveable): void {
  if (b.closed) throw new StateError('the buffer is closed');
  if (b.saving) throw new StateError('a save of this buffer is already in progress');
  b.saving = true;
}

/** Removes a temporary file, best-effort: its own failure must not hide the save's error. */
function removeTemp(tmp: string): void {
  try {
    fs.rmSync(tmp, { force: true });
  } catch {
    // e.g. ENOTDIR / ENAMETOOLONG: the temporary was never created.
  }
}

/** Writes an archive of `b` to `path` atomically (temporary file, fsync, rename). @internal */
export function saveSync(b: Saveable, path: string, opts?: SaveOptions): void {
  const { target, options } = checkSave(b, path, opts);
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
    const head = b.native.archiveHead();
    fs.writeSync(fd, head, 0, head.length, 0);
    options.onProgress?.({ bytesWritten: written + head.length, totalBytes: p.writeBytes });
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    checkWritten(b, tmp, p.headBytes);
    fs.renameSync(tmp, target);
    syncDirectory(nodePath.dirname(target));
    b.archiveSaved?.();
  } catch (e) {
    if (fd >= 0) fs.closeSync(fd);
    removeTemp(tmp);
    throw wrapFsError(e, target);
  } finally {
    b.native.endArchive();
    releaseTempPath(tmp);
    b.saving = false;
  }
}

/**
 * As {@link saveSync}, off the main thread: the main thread has the core export each chunk
 * into a shared buffer (a copy, checksummed on the way); a worker thread writes it while the
 * main thread exports the next. Progress and cancellation between chunks. @internal
 */
export async function save(b: Saveable, path: string, opts?: SaveOptions): Promise<void> {
  const { target, options } = checkSave(b, path, opts);
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
      const chunk = b.native.exportChunk(views[slot]); // straight into the shared buffer
      if (chunk === null) {
        free.push(slot);
        break;
      }
      writer.post({ type: 'chunk', slot, length: chunk[1], position: chunk[0] });
    }
    while (free.length < 2) await reclaim();
    options.signal?.throwIfAborted();
    const header = b.native.archiveHead();
    writer.post({ type: 'header', bytes: header });
    await writer.receive(); // closed: written, flushed, closed
    checkWritten(b, tmp, p.headBytes);
    finished = true;
    options.onProgress?.({ bytesWritten: written + header.length, totalBytes: p.writeBytes });
    await fs.promises.rename(tmp, target);
    syncDirectory(nodePath.dirname(target));
    b.archiveSaved?.();
  } catch (e) {
    if (!finished) await writer?.abort();
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined); // best-effort, as removeTemp
    if (options.signal?.aborted && e === options.signal.reason) throw e;
    throw wrapFsError(e, target);
  } finally {
    b.native.endArchive();
    await writer?.stop();
    releaseTempPath(tmp);
    b.saving = false;
  }
}

/** The chunk size a save gathers and writes at a time. */
function chunkSize(options: SaveOptions): number {
  const c = options.chunkBytes ?? 16 << 20;
  // Upper bound: one chunk is allocated whole (twice for `save`), so 1 GiB keeps it allocatable.
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 4096 || c > 2 ** 30)
    throw new ArchiveError(`chunkBytes must be an integer in [4096, 2^30], got ${String(c)}`);
  return c;
}
