/**
 * The file-system side of saves: archive paths, temporary files beside the target (removed
 * if the process exits mid-save), directory syncs, and file-system errors as ArchiveErrors.
 * @module
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import { ArchiveError } from '../errors';

/** `path` if it is a non-empty string; ArchiveError otherwise. @internal */
export function checkPath(path: unknown): string {
  if (typeof path !== 'string' || path.length === 0) throw new ArchiveError(`an archive path must be a non-empty string, got ${typeof path}`);
  // Checked here so the file system's own message (naming a temporary file) never reaches the caller.
  if (path.includes('\0')) throw new ArchiveError('an archive path must not contain a NUL byte');
  return path;
}

/**
 * Refuses an archive path that names the same file as a buffer's storage file (by device and
 * inode, so a hard link or another spelling of the path is caught too): a save would replace
 * the mapped storage, a load would truncate the archive it maps. Paths that do not exist yet
 * cannot be the same file. @internal
 */
export function refuseStorageFile(archivePath: string, storage: unknown, doing: 'save' | 'load'): void {
  const sp = typeof storage === 'object' && storage !== null ? (storage as { path?: unknown }).path : undefined;
  if (typeof sp !== 'string' || sp.length === 0 || sp.includes('\0')) return;
  let a: fs.Stats, b: fs.Stats;
  try {
    a = fs.statSync(archivePath);
    b = fs.statSync(sp);
  } catch {
    return;
  }
  if (a.dev === b.dev && a.ino === b.ino)
    throw new ArchiveError(
      doing === 'save'
        ? `cannot save the archive '${archivePath}': it is the buffer's own storage file ('${sp}')`
        : `cannot load the archive '${archivePath}' with storage at '${sp}': they are the same file`,
    );
}

/** Temporary files of saves in flight: removed if the process exits in the middle of one. */
const inFlight = new Set<string>();
let exitHookInstalled = false;

/** A fresh temporary path beside `target`, registered for removal at exit until {@link releaseTempPath}. @internal */
export function tempPathFor(target: string): string {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const tmp of inFlight) fs.rmSync(tmp, { force: true });
    });
  }
  removeStaleTemps(target);
  const tmp = nodePath.join(nodePath.dirname(target), `.${nodePath.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  inFlight.add(tmp);
  return tmp;
}

/**
 * Removes temporaries of `target` left by saves whose process is gone (killed mid-save, so the
 * exit hook never ran). Only names of our own pattern are touched, and only when their writer pid
 * no longer exists (ESRCH): a live pid may be a save in flight elsewhere. Best-effort: a listing or
 * removal error leaves things as they are.
 */
function removeStaleTemps(target: string): void {
  const dir = nodePath.dirname(target);
  const prefix = `.${nodePath.basename(target)}.tmp-`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length));
    if (m === null) continue;
    const pid = Number(m[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // alive
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue; // EPERM: alive, another user's
    }
    try {
      fs.rmSync(nodePath.join(dir, name), { force: true });
    } catch {
      // best-effort
    }
  }
}

/** Ends the exit-time removal of a temporary path (renamed into place, or already removed). @internal */
export function releaseTempPath(tmp: string): void {
  inFlight.delete(tmp);
}

/** Flushes a directory's entries (the rename of a save) to disk, where the platform can. @internal */
export function syncDirectory(dir: string): void {
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

/** A file-system error of a save as an ArchiveError naming the target; anything else as is. @internal */
export function wrapFsError(e: unknown, target: string): unknown {
  // Duck-typed: errors made in another realm (a vm context, jest) fail `instanceof Error`.
  const err = e as NodeJS.ErrnoException | null;
  if (typeof err === 'object' && err !== null && typeof err.code === 'string' && typeof err.syscall === 'string')
    return new ArchiveError(`cannot save the archive '${target}': ${err.message}`);
  return e;
}
