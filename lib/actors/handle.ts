/**
 * Writer handles: how a buffer is named to a worker thread. A handle is a plain object
 * (structured-cloneable: it goes through `postMessage` or `workerData`) with the buffer's id
 * in this process's registry of shared buffers and this process's token.
 * @module
 */
import { describe } from '../schema/dtypes';
import { ShapeError } from '../errors';

/**
 * What {@link ReplayBufferBase.writerHandle} returns and {@link ReplayWriter.attach} takes: a
 * plain, structured-cloneable object naming a buffer of this process. It grants writing to
 * the buffer to whoever holds it; it is meaningless in another process.
 */
export interface WriterHandle {
  /** Always `'replaykit.writer'`: what the object is. */
  readonly kind: 'replaykit.writer';
  /** The handle's format: 1. */
  readonly version: 1;
  /** The buffer's id in this process's registry of shared buffers. */
  readonly buffer: number;
  /** A random number drawn once per process: a handle from another process is refused. */
  readonly process: number;
}

/** Checks that `h` is a writer handle; returns it. @internal */
export function checkHandle(h: unknown): WriterHandle {
  const o = h as Partial<WriterHandle> | null;
  if (typeof h !== 'object' || h === null || o!.kind !== 'replaykit.writer')
    throw new ShapeError(`ReplayWriter.attach needs the object a buffer's writerHandle() returns, got ${describe(h)}`);
  if (o!.version !== 1 || typeof o!.buffer !== 'number' || typeof o!.process !== 'number')
    throw new ShapeError(`this writer handle is of another version of replaykit (version ${describe(o!.version)}; this one reads version 1)`);
  return o as WriterHandle;
}
