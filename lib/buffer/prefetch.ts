/**
 * Prefetched batches: the async iterator behind `batches()`. It keeps `prefetch` batches
 * being gathered on pool threads while the learner trains on the one it has.
 * @module
 */
import { checkInteger, checkNumber } from '../schema/checks';
import { checkKeys } from '../schema/options';
import { describe } from '../schema/dtypes';
import { OutOfRangeError } from '../errors';
import type { BatchObject } from './batches';
import type { BufferCore } from './core';

/** Options of `batches()`. */
export interface BatchesOptions {
  /** Transitions per batch: an integer >= 1. */
  batchSize: number;
  /** Batches being gathered ahead of the one the learner holds: an integer in [1, 64]; default 2. */
  prefetch?: number;
  /** Stops after this many batches (default: never; end the loop with `break` or `signal`). */
  count?: number;
  /** Aborts the iteration: the pending `next()` rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Prioritized buffers: the importance-sampling exponent of every batch (default: the schedule's). */
  beta?: number;
}

/** The options checked, with defaults. @internal */
export function checkBatchesOptions(options: unknown, weighted: boolean): Required<Omit<BatchesOptions, 'signal' | 'beta'>> & Pick<BatchesOptions, 'signal' | 'beta'> {
  if (typeof options !== 'object' || options === null) throw new OutOfRangeError(`batches options must be an object like { batchSize }, got ${describe(options)}`);
  checkKeys(options, weighted ? ['batchSize', 'prefetch', 'count', 'signal', 'beta'] : ['batchSize', 'prefetch', 'count', 'signal'], 'batches option');
  const o = options as BatchesOptions;
  const signal = o.signal;
  if (signal !== undefined && !(typeof signal === 'object' && signal !== null && typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function'))
    throw new OutOfRangeError(`signal must be an AbortSignal, got ${describe(signal)}`);
  return {
    batchSize: checkInteger(o.batchSize, 'batchSize', 1),
    prefetch: o.prefetch === undefined ? 2 : checkInteger(o.prefetch, 'prefetch', 1, 64),
    count: o.count === undefined ? Infinity : checkInteger(o.count, 'count', 0),
    signal,
    beta: o.beta === undefined ? undefined : checkNumber(o.beta, 'beta', 0),
  };
}

/** Rejects with the signal's reason as soon as it aborts, else settles as `p`. */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The iterator: batches in the order they were asked for (their random words in that order). @internal */
export async function* prefetchBatches(core: BufferCore, options: ReturnType<typeof checkBatchesOptions>): AsyncGenerator<BatchObject, void, undefined> {
  const { batchSize, prefetch, count, signal, beta } = options;
  const queue: Promise<BatchObject>[] = [];
  let asked = 0;
  try {
    for (let given = 0; given < count; given++) {
      signal?.throwIfAborted();
      while (queue.length < prefetch && asked < count) {
        const p = core.gatherAsync(batchSize, beta);
        p.catch(() => undefined); // observed below, or dropped on return: never an unhandled rejection
        queue.push(p);
        asked++;
      }
      yield await abortable(queue.shift() as Promise<BatchObject>, signal);
    }
  } finally {
    // Batches still being gathered finish on their threads and are dropped; their words were
    // taken from the generator, as samples that were drawn.
    queue.length = 0;
  }
}
