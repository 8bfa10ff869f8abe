/**
 * The facade's two doors to the addon: a native buffer made from a resolved schema and
 * options in the facade's terms (names turned into the binding's codes here), and a
 * read-only mapping of an archive file.
 * @module
 */
import { addon } from './addon';
import { DTYPE_CODES, EVICTION_CODES, STORAGE_CODES } from './codes';
import type { NativeArchiveMap, NativeBuffer } from './contract';
import type { ResolvedField } from '../schema/fields';
import type { StorageOptions } from '../schema/storage';
import type { Eviction } from '../schema/prioritized';

/** What a native buffer is made from, in the facade's terms. @internal */
export interface NativeBufferSpec {
  capacity: number;
  fields: readonly ResolvedField[];
  storage: StorageOptions;
  /** The core's part of prioritized replay; null for a uniform buffer. */
  prioritized: { alpha: number; eviction: Eviction } | null;
}

/** A native buffer (throws the errors the binding raises: StorageError for a file it cannot make, ...). @internal */
export function openNativeBuffer(spec: NativeBufferSpec): NativeBuffer {
  const s = spec.storage;
  return new addon.NativeBuffer({
    capacity: spec.capacity,
    fields: spec.fields.map((f) => ({ name: f.name, dtype: DTYPE_CODES[f.dtype], shape: f.shape })),
    prioritized: spec.prioritized && { alpha: spec.prioritized.alpha, eviction: EVICTION_CODES[spec.prioritized.eviction] },
    storage:
      s.type === 'memory'
        ? { type: STORAGE_CODES.memory }
        : s.type === 'mmap'
          ? { type: STORAGE_CODES.mmap, path: s.path }
          : { type: STORAGE_CODES.tiered, path: s.path, hotCapacity: s.hotCapacity },
  });
}

/** Maps an archive file read-only; the binding checks its structure (ArchiveError when it is not an archive). @internal */
export function openArchiveMap(path: string): NativeArchiveMap {
  return new addon.ArchiveMap(path);
}
