/**
 * The facade's two doors to the addon: a native buffer made from a resolved schema and
 * options in the facade's terms (the binding takes the same names), and a read-only
 * mapping of an archive file.
 * @module
 */
import { addon } from './addon';
import type { NativeArchiveMap, NativeBuffer, NativeSpec } from './contract';
import type { ResolvedField } from '../schema/fields';
import type { StorageOptions } from '../schema/storage';

/** What a native buffer is made from, in the facade's terms. @internal */
export interface NativeBufferSpec {
  capacity: number;
  fields: readonly ResolvedField[];
  storage: StorageOptions;
  /** Prioritized replay's settings, all held by the core's sampler; null for a uniform buffer. */
  prioritized: NativeSpec['prioritized'];
}

/** A native buffer (throws the errors the binding raises: StorageError for a file it cannot make, ...). @internal */
export function openNativeBuffer(spec: NativeBufferSpec): NativeBuffer {
  return new addon.NativeBuffer({
    capacity: spec.capacity,
    fields: spec.fields.map((f) => ({ name: f.name, dtype: f.dtype, shape: f.shape })),
    prioritized: spec.prioritized,
    storage: spec.storage,
  });
}

/** Maps an archive file read-only; the binding checks its structure and header checksum (ArchiveError when it is not an archive). @internal */
export function openArchiveMap(path: string): NativeArchiveMap {
  return new addon.ArchiveMap(path);
}
