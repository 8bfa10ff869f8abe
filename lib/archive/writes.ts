/**
 * An archive's bytes in the order a save writes them. The core owns the format: it plans
 * the file, exports its sections chunk by chunk (checksumming them on the way) and makes the
 * header with every checksum; this module only asks for them and reads back what was written.
 * @module
 */
import * as fs from 'node:fs';
import type { StorageOptions } from '../schema/storage';
import type { ArchiveMetaJs, ArchivePlanJs, NativeBuffer } from '../native/contract';

/** What a save needs from a buffer. @internal */
export interface Saveable {
  readonly native: NativeBuffer;
  readonly closed: boolean;
  /** True while a save runs: the buffer refuses changes. */
  saving: boolean;
  /** True during one of the buffer's calls: a save started from inside it is refused. */
  readonly busy?: boolean;
  /** The buffer's storage (a save must not replace its file). */
  readonly storage?: StorageOptions;
  /** The facade's state for the archive (the core reads its own). */
  archiveMeta(): ArchiveMetaJs;
  /** Called once the archive planned last is in place (renamed, directory synced). */
  archiveSaved?(): void;
}

/** Starts the core's export of `b` as it is now. @internal */
export function plan(b: Saveable): ArchivePlanJs {
  return b.native.planArchive(b.archiveMeta());
}

/** One write of a save: `bytes` at `position`. @internal */
export interface Write {
  bytes: Uint8Array;
  position: number;
}

/**
 * The writes of an archive's sections, in order, each exported by the core into `chunk`
 * (which it checksums on the way): each must be consumed before the next is asked for.
 * @internal
 */
export function* archiveWrites(b: Saveable, chunk: Uint8Array): Generator<Write, void, undefined> {
  for (let c = b.native.exportChunk(chunk); c !== null; c = b.native.exportChunk(chunk)) yield { bytes: chunk.subarray(0, c[1]), position: c[0] };
}

/**
 * Reads back the head (header and section table) of the written temporary file and has the
 * core check it against what it computed: a save never renames an archive that would not load.
 * @internal
 */
export function checkWritten(b: Saveable, tmp: string, headBytes: number): void {
  const head = new Uint8Array(headBytes);
  const fd = fs.openSync(tmp, 'r');
  try {
    fs.readSync(fd, head, 0, headBytes, 0);
  } finally {
    fs.closeSync(fd);
  }
  b.native.checkArchiveHead(head);
}
