/**
 * Prefetched batches: the async iterator behind `batches()`. It keeps `prefetch` batches
 * being gathered on pool threads while the learner trains on the one it has.
 * @module
 */
import { checkInteger, checkNumber } from '../schema/checks';
import { checkKeys } from '../schema/options';
import { describe } from '../schema/dtypes';
import { OutOfRangeError } from '../errors';
import { BatchArena, type BatchObject } from './batches';
import type { BufferCore, Gathering } from './core';
import type { NativePrefetcher } from '../native/contract';
import { openNativePrefetcher } from '../native/open';

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

/** Waits until the prefetch thread has finished `g` (or the signal aborts); returns its batch, or throws its error. */
async function finished(prefetcher: NativePrefetcher, g: Gathering, wakeUp: { resolve: (() => void) | null }, signal: AbortSignal | undefined): Promise<BatchObject> {
  while (Atomics.load(g.statuses, g.slot) === 0) {
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      if (!prefetcher.arm(g.statuses, g.slot)) return resolve();
      // The wake-up is unref'd in the binding: this timer keeps the process alive meanwhile.
      const alive = setInterval(() => undefined, 1 << 30);
      const onAbort = () => settle(() => reject(signal?.reason));
      const settle = (then: () => void) => {
        clearInterval(alive);
        signal?.removeEventListener('abort', onAbort);
        wakeUp.resolve = null;
        then();
      };
      wakeUp.resolve = () => settle(resolve);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  if (Atomics.load(g.statuses, g.slot) === 2) prefetcher.error(g.statuses, g.slot);
  return g.batch;
}

/**
 * The iterator: batches in the order they were asked for (their random words in that order).
 * While the learner holds a batch, `prefetch` more are being gathered by a native thread of
 * the iterator's own. A finished batch is taken at once (its status flag, Atomics.load), not
 * at a turn of the event loop: a learner back from a training step does not wait. @internal
 */
export async function* prefetchBatches(core: BufferCore, options: ReturnType<typeof checkBatchesOptions>): AsyncGenerator<BatchObject, void, undefined> {
  const { batchSize, prefetch, count, signal, beta } = options;
  const wakeUp: { resolve: (() => void) | null } = { resolve: null };
  const queue: Gathering[] = [];
  // One status a batch in flight, reused in turn: a slot comes round again only after its
  // batch was taken (at most prefetch + 1 are out at once).
  const statuses = new Int32Array(prefetch + 2);
  // Every batch has the same layout: the native prefetcher takes it once, and a submission is
  // then the words, the batch's ArrayBuffer and offset, and its status slot.
  const layout = core.prefetchLayout(batchSize);
  const prefetcher = openNativePrefetcher(core.native, () => wakeUp.resolve?.(), layout, statuses);
  const arena = new BatchArena();
  let asked = 0;
  const refill = () => {
    while (queue.length < prefetch && asked < count) {
      queue.push(core.gatherAsync(prefetcher, layout, beta, statuses, asked % statuses.length, arena));
      asked++;
    }
  };
  try {
    for (let given = 0; given < count; given++) {
      signal?.throwIfAborted();
      refill();
      const head = queue.shift() as Gathering;
      refill(); // `prefetch` batches in the making while the learner trains on this one
      // HER: the goals were chosen on the prefetch thread; the rewards are computed now (core.deliver).
      yield core.deliver(Atomics.load(statuses, head.slot) === 1 ? head.batch : await finished(prefetcher, head, wakeUp, signal));
    }
  } finally {
    // Batches still being gathered are dropped (their words were taken from the generator, as
    // samples that were drawn); the thread stops after the one it is gathering.
    prefetcher.close();
  }
}
