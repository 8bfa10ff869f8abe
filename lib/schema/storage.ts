/**
 * Storage options: where a buffer's transitions live, and their validation.
 * @module
 */
import * as nodePath from 'node:path';
import { describe } from './dtypes';
import { checkInteger } from './checks';
import { OutOfRangeError } from '../errors';
import { checkKeys } from './options';

/** The keys each type of storage takes. */
const STORAGE_KEYS = { memory: ['type'], mmap: ['type', 'path'], tiered: ['type', 'path', 'hotCapacity'] } as const;

/**
 * Where the transitions live.
 * - `{ type: 'memory' }` (the default): every item in RAM.
 * - `{ type: 'mmap', path }`: every item in a memory-mapped file at `path`.
 * - `{ type: 'tiered', hotCapacity, path }`: the newest `hotCapacity` items in RAM; older ones
 *   spill into a memory-mapped file at `path`, a ring of `capacity - hotCapacity` items.
 *
 * A file is created (its whole size reserved on disk up front), locked so that no other
 * buffer can use the same path, and deleted by `close()`, by garbage collection of an
 * unclosed buffer, and at process exit. Sampling, priorities and every other call behave
 * exactly as with memory storage.
 */
export type StorageOptions =
  | { readonly type: 'memory' }
  | { readonly type: 'mmap'; readonly path: string }
  | { readonly type: 'tiered'; readonly hotCapacity: number; readonly path: string };

/** Validates storage options for a buffer of `capacity`; paths become absolute. @internal */
export function resolveStorage(o: unknown, capacity: number): StorageOptions {
  if (o === undefined) return Object.freeze({ type: 'memory' });
  if (typeof o !== 'object' || o === null) throw new OutOfRangeError(`storage must be an object like { type: 'memory' }, got ${describe(o)}`);
  const s = o as { type?: unknown; path?: unknown; hotCapacity?: unknown };
  if (s.type !== 'memory' && s.type !== 'mmap' && s.type !== 'tiered') throw new OutOfRangeError(`storage.type must be 'memory', 'mmap' or 'tiered', got ${describe(s.type)}`);
  checkKeys(s, STORAGE_KEYS[s.type], `${s.type} storage option`);
  if (s.type === 'memory') return Object.freeze({ type: 'memory' });
  if (typeof s.path !== 'string' || s.path.length === 0 || s.path.includes('\0')) throw new OutOfRangeError(`storage.path must be a file path, got ${describe(s.path)}`);
  const path = nodePath.resolve(s.path);
  if (s.type === 'mmap') return Object.freeze({ type: 'mmap', path });
  if (capacity < 2) throw new OutOfRangeError(`tiered storage needs a capacity of at least 2 (capacity must exceed hotCapacity), got capacity ${capacity}`);
  if (typeof s.hotCapacity === 'number' && Number.isInteger(s.hotCapacity) && s.hotCapacity >= capacity)
    throw new OutOfRangeError(`storage.hotCapacity must be less than capacity: capacity must exceed hotCapacity (capacity ${capacity}, hotCapacity ${s.hotCapacity})`);
  const hotCapacity = checkInteger(s.hotCapacity, 'storage.hotCapacity', 1, capacity - 1);
  return Object.freeze({ type: 'tiered', hotCapacity, path });
}
