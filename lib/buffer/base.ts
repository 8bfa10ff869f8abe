/**
 * The shared base of both public buffers: every method a uniform and a prioritized buffer
 * have in common, with their documentation, forwarding to the buffer's internal state
 * (`BufferCore`). Over 300 lines because it carries the TSDoc of every public method; the
 * code of each is a line or two. It is parametrised by the sampler the state holds, and in its types by
 * the batches that sampler returns, so that no subclass overrides a method only to change
 * its return type.
 * @module
 */
import { inspect, InspectOptionsStylized } from 'node:util';
import type { Batch, BufferOptions, Columns, FieldSpec, FieldsSpec, PushBatchOptions, PushOptions, SampleOptions, SequenceBatch, Transition } from '../schema/types';
import type { SequenceOptions } from '../schema/episodes';
import type { HerOptions } from '../schema/her';
import { checkKeys } from '../schema/options';
import type { StorageOptions } from '../schema/storage';
import type { EpochIterator, EpochOptions } from '../epochs/iterator';
import { checkInteger } from '../schema/checks';
import { describe } from '../schema/dtypes';
import { OutOfRangeError } from '../errors';
import { save, saveSync, SaveOptions } from '../archive/save';
import type { WriterHandle } from '../actors/handle';
import { BufferCore } from './core';
import { BatchesOptions, checkBatchesOptions, prefetchBatches } from './prefetch';
import type { SamplerKind } from './samplers';
import type { RateLimiter } from './rate-limiter';
import type { RateWaitOptions } from '../schema/rate-limiter';

// Set once, by the class's static block: how the subclasses and the load functions of this
// package reach a buffer's state, which is a #private field and so no one else's.
let stateOf: (b: ReplayBufferBase<FieldsSpec, Batch<FieldsSpec>, SampleOptions<FieldsSpec>>) => BufferCore;

/** The value of every buffer's `notCloneable` property: its source is what a DataCloneError shows. */
const NOT_CLONEABLE = function replaykit_buffers_cannot_be_cloned_or_posted__post_buffer_writerHandle_to_a_worker() {};

/** A uniform buffer's push takes no priority. */
function refuseOptions(core: BufferCore, method: string, option: string, given: unknown): never {
  core.assertOpen();
  throw new OutOfRangeError(`a uniform ReplayBuffer's ${method} takes no ${option} (${option} is for PrioritizedReplayBuffer), got ${describe(given)}`);
}

/** A uniform push's options: `env` only; a priority given to it is a mistake, not something to ignore. */
function envOption(core: BufferCore, method: string, priorityKey: string, options: unknown): unknown {
  core.assertOpen(); // a closed buffer is a StateError whatever the options
  if (typeof options !== 'object' || options === null || priorityKey in options) refuseOptions(core, method, priorityKey, options);
  checkKeys(options, ['env'], `${method} option`);
  return (options as { env?: unknown }).env;
}

/** The internal state of a buffer made by this package. @internal */
export function bufferState(b: object): BufferCore {
  // `object`: a buffer of any schema (a schema's batch types are not assignable to the widest one's).
  return stateOf(b as ReplayBufferBase<FieldsSpec, Batch<FieldsSpec>, SampleOptions<FieldsSpec>>);
}

/**
 * What {@link ReplayBuffer} and {@link PrioritizedReplayBuffer} share. `F` is the schema, `B`
 * the batch `sample` returns, `O` the options `sample` takes.
 */
export abstract class ReplayBufferBase<F extends FieldsSpec, B extends Batch<F>, O extends SampleOptions<F>> {
  /** How many transitions the buffer holds at most. */
  readonly capacity: number;
  /** The seed of the buffer's random generator (given, or drawn when omitted). */
  readonly seed: number;
  /** Where the transitions live (paths made absolute). */
  readonly storage: StorageOptions;
  readonly #core: BufferCore;

  static {
    stateOf = (b) => b.#core;
  }

  /** @internal */
  protected constructor(options: BufferOptions, kind: SamplerKind) {
    this.#core = new BufferCore(options, kind);
    this.capacity = this.#core.capacity;
    this.seed = this.#core.seed;
    this.storage = this.#core.storage;
    // A buffer lives in this thread's native memory: posted to a worker or structuredClone'd it
    // would arrive as a hollow object. An own enumerable function makes both throw a
    // DataCloneError whose message names the reason, and what to post instead (a writer handle).
    Object.defineProperty(this, 'notCloneable', { value: NOT_CLONEABLE, enumerable: true });
  }

  /** What `console.log` and `util.inspect` show: the class name and the options that made the buffer. */
  [inspect.custom](_depth: number, options: InspectOptionsStylized, show: typeof inspect): string {
    const shown = { capacity: this.capacity, seed: this.seed, storage: this.storage };
    return `${this.constructor.name} ${show(shown, options)}`;
  }

  /** The number of transitions stored, from 0 to `capacity`. @throws {@link StateError} after `close()`. */
  get length(): number {
    const core = this.#core;
    core.assertOpen();
    return core.length;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /** The schema: each field's shape and dtype. */
  get schema(): { readonly [K in keyof F]: FieldSpec<F[K]['dtype']> } {
    const out: Record<string, FieldSpec> = {};
    for (const f of this.#core.fields) out[f.name] = { shape: f.shape, dtype: f.dtype };
    return out as { [K in keyof F]: FieldSpec<F[K]['dtype']> };
  }

  /**
   * Batches of `batchSize`, gathered ahead on a native thread of the iterator's own while
   * the learner trains on the current one: `prefetch` batches (default 2) are always being
   * gathered or ready.
   *
   * ```ts
   * for await (const batch of rb.batches({ batchSize: 256, prefetch: 2, signal })) train(batch);
   * ```
   *
   * Each batch is a fresh batch as `sample(batchSize)` returns, except that consecutive
   * batches may be views of one ArrayBuffer (up to 8 batches, 512 KiB; never sharing a byte):
   * one allocation for several, which is a third of what a batch costs the learner's thread.
   * Copy an array (`slice()`) before transferring its `buffer` to another thread. Their random words come from
   * the buffer's generator, taken in order when each batch is asked for: with nothing pushed
   * meanwhile, a uniform buffer's batches are exactly those that `sample(batchSize)` calls
   * would give from the same generator state. A prioritized batch is drawn from the
   * priorities of the moment it is gathered (updates made while it was prefetched apply from
   * the next one), and each advances the beta schedule as `sample` does. Batches still being
   * gathered when the loop ends (`break`, `count`, `signal`) are dropped, having taken their
   * words. Pushes from this thread and from writers go on meanwhile (the core's threads design).
   * Batches already gathered are delivered as they were gathered: after a `clear()`, up to
   * `prefetch` batches of the rows from before it may still come (start a new iterator after
   * a clear to be rid of them).
   * With `her`, the prefetch thread chooses the relabelled goals and `computeReward` runs when
   * a batch is delivered (its errors reject the pending `next()`).
   *
   * @param options `batchSize` (integer >= 1), `prefetch` (integer in [1, 64]), `count`
   *   (stop after this many), `signal` (an AbortSignal: the pending `next()` rejects with its
   *   reason), `beta` (prioritized buffers, as `sample`'s).
   * @throws {@link OutOfRangeError} for bad options (at the call); the iterator rejects with
   *   {@link OutOfRangeError} when fewer than `batchSize` transitions are stored, and
   *   {@link StateError} once the buffer is closed.
   */
  batches(options: BatchesOptions): AsyncGenerator<B, void, undefined> {
    const core = this.#core;
    core.assertOpen();
    const checked = checkBatchesOptions(options, core.sampler.weighted);
    return prefetchBatches(core, checked) as AsyncGenerator<B, void, undefined>;
  }

  /**
   * A handle on this buffer for writers in other threads: a plain, structured-cloneable
   * object to send to a worker through `postMessage` or `workerData`, where
   * `ReplayWriter.attach(handle)` gives a writer pushing into this same buffer while this
   * thread samples. Any number of handles and writers; the buffer keeps every method it has.
   * Closing the buffer makes every writer's calls throw {@link StateError}.
   * @throws {@link StateError} after `close()`.
   */
  writerHandle(): WriterHandle {
    const core = this.#core;
    core.assertOpen();
    const { buffer, process } = core.native.share();
    return { kind: 'replaykit.writer', version: 1, buffer, process };
  }

  /**
   * Whether at least `batchSize` transitions are stored, so `sample(batchSize)` will not throw.
   * @throws {@link OutOfRangeError} when `batchSize` is not a non-negative integer; {@link StateError} after `close()`.
   */
  isReady(batchSize: number): boolean {
    return this.length >= checkInteger(batchSize, 'batchSize', 0);
  }

  /**
   * Appends one transition; when the buffer is full, it replaces the oldest.
   *
   * @param transition every field of the schema, no others: a scalar field as a number
   *   (bool: boolean or 0/1; int64: bigint or safe integer), any field as a typed array of
   *   its dtype or a plain array of its elements (row-major, length = product of its shape).
   * @param options `env`: the transition's environment stream, for buffers made with
   *   `nStep` (an integer in [0, 2^20); default 0): each stream keeps its own episodes.
   * @returns the new item's index (its key, as in a batch's `indices`).
   * @throws {@link ShapeError} for a missing or unknown field or a wrong length;
   *   {@link DtypeError} for a typed array of another dtype;
   *   {@link OutOfRangeError} for an integer outside its dtype's range;
   *   {@link StateError} after `close()`.
   */
  push(transition: Transition<F>, options?: PushOptions): number {
    if (options === undefined) return this.#core.push(transition);
    return this.#core.push(transition, undefined, envOption(this.#core, 'push', 'priority', options));
  }

  /**
   * Appends `n` transitions given as columns, as a loop of `push` would (only the last
   * `capacity` stay when `n > capacity`). Typed arrays of the field's dtype are read in
   * place; plain arrays are converted.
   *
   * @param columns one array per field, each holding `n * elements` values, row-major:
   *   e.g. `obs: Float32Array(n * 4)`, `action: Int32Array(n)`, `terminated: Uint8Array(n)`.
   * @param options `env`: the rows' environment stream (a number) or streams (one integer per
   *   row), for buffers made with `nStep`; see `push`.
   * @throws {@link ShapeError} for a missing or unknown field or columns of unequal row counts;
   *   {@link DtypeError}, {@link OutOfRangeError}, {@link StateError} as for `push`.
   *   A rejected batch stores none of its rows.
   */
  pushBatch(columns: Columns<F>, options?: PushBatchOptions): void {
    if (options === undefined) return this.#core.pushBatch(columns);
    this.#core.pushBatch(columns, undefined, envOption(this.#core, 'pushBatch', 'priorities', options));
  }

  /**
   * Draws `batchSize` transitions at random, with replacement, from those stored: uniformly
   * ({@link ReplayBuffer}), or with probability P(i) = p_i^alpha / sum_k p_k^alpha, stratified,
   * advancing the beta schedule by one ({@link PrioritizedReplayBuffer}).
   *
   * @returns a batch: each field as a fresh typed array of `batchSize * elements` values,
   *   row-major (e.g. `obs: Float32Array(batchSize * obsDim)`, `terminated: Uint8Array(batchSize)`
   *   of 0/1), and `indices: Float64Array(batchSize)`, the items' keys. The arrays of a fresh
   *   batch are views of one ArrayBuffer that only this batch uses (one allocation per call).
   *   A prioritized buffer's batch adds `weights: Float32Array(batchSize)`,
   *   w_i = (N * P(i))^-beta / max_j w_j, in (0, 1]. A buffer made with `her` relabels
   *   floor(batchSize * k / (k + 1)) rows (their `goal` and `reward`; see {@link HerOptions})
   *   and adds `relabelled: Uint8Array(batchSize)`, 1 on those rows.
   * @throws {@link OutOfRangeError} when `batchSize` is not a positive integer or exceeds `length`,
   *   or for a negative or non-finite `beta`;
   *   {@link ShapeError} / {@link DtypeError} for an `out` array of the wrong length or type;
   *   with `her`, {@link DtypeError} / {@link ShapeError} / {@link OutOfRangeError} when
   *   `computeReward` returns anything but a Float32Array of one finite reward per relabelled
   *   row (nothing stored changes);
   *   {@link StateError} after `close()`.
   */
  sample(batchSize: number, options?: O): B {
    return this.#core.sample(batchSize, options) as unknown as B;
  }

  /**
   * Draws `batchSize` sequences of `options.length` consecutive steps of one episode each
   * (TorchRL's SliceSampler; on a prioritized buffer its PrioritizedSliceSampler), for
   * recurrent, model-based and transformer agents. The start item of each sequence is drawn
   * as `sample` draws items: uniformly, or by its priority (P(i) = p_i^alpha / sum p^alpha,
   * with an importance-sampling weight per sequence, advancing the beta schedule by one);
   * `updatePriorities(batch.indices, tdErrors)` then updates the starts. A window follows the
   * episode index from its start (kept as rows are pushed, per `env` stream: the cost is the
   * batch's, not the buffer's); where the episode ends first (terminated or truncated, its
   * newest stored item, or an item overwritten or evicted since) the rest is zero-padded and
   * masked, or, with `pad: 'none'`, such starts are not drawn (each start that fits keeps its
   * probability, conditioned on fitting). With `stride: k` starts are steps 0, k, 2k, ... of
   * their episode. With `crossEpisodes` a window runs on into the next episode of the same env
   * stream. Deterministic under the buffer's seed, as `sample` is. Sequences are one-step
   * transitions: `nStep` does not apply to them (as TorchRL's slices). Needs the episode index
   * (option `episodes: true`, or `nStep`). The rate limiter counts a sequence as one sample.
   *
   * @param batchSize sequences, an integer in [1, length].
   * @param options see {@link SequenceOptions}: `length` (required), `stride`, `burnIn`,
   *   `crossEpisodes`, `pad`, `out` (arrays to sample into, e.g. the previous batch: no
   *   allocation a call), and `beta` on a prioritized buffer.
   * @returns `options.out` filled, or each field as a fresh typed array of `batchSize * length * elements` values,
   *   row-major `[batchSize, length, ...shape]` (e.g. `obs: Float32Array(batchSize * length *
   *   obsDim)`); `mask: Uint8Array(batchSize * length)`, 1 where a step is real;
   *   `indices: Float64Array(batchSize)`, the start items' keys; `weights:
   *   Float32Array(batchSize)` on a prioritized buffer; with `burnIn: B`, `burnIn`: the B steps
   *   before each sequence as `[batchSize, B, ...shape]` per field, with their own `mask`
   *   (padded at the front where the episode has no earlier stored step).
   * @throws {@link OutOfRangeError} for a bad `batchSize` or option, or more sequences than items
   *   stored, or (`pad: 'none'`, `stride`) no fitting start found in 64 draws a sequence on
   *   average; {@link ShapeError} / {@link DtypeError} for an `out` array of the wrong length /
   *   dtype (or an `out` that is not an object), before anything is written or set on it;
   *   {@link StateError} for a buffer without the episode index, or after `close()`.
   */
  sampleSequences(batchSize: number, options: SequenceOptions<F>): SequenceBatch<F> {
    return this.#core.sampleSequences(batchSize, options) as unknown as SequenceBatch<F>;
  }

  /**
   * The buffer's rate limiter (its options and `stats`), or null for a buffer made without the
   * `rateLimiter` option. Source: Reverb's rate limiters (reverb/rate_limiters.py).
   */
  get rateLimiter(): RateLimiter | null {
    return this.#core.rateLimiter;
  }

  /**
   * `sample`, once the rate limiter admits it: resolves when at least `minSize` items have been
   * inserted and, with `samplesPerInsert`, when sampling `batchSize` more keeps the ratio of
   * samples to inserts within `samplesPerInsert ± errorBuffer` (the call's first item decides;
   * all `batchSize` are counted). Without a rate limiter it samples at once. Calls wait in
   * order (first come, first served) without blocking the event loop; inserts from this thread
   * (`push`, `pushAsync`) or from others release them. The batch is drawn when the call is
   * admitted, from the buffer's generator, as `sample` would draw it then.
   *
   * Choose `minSize >= batchSize`: a call admitted while fewer than `batchSize` items are
   * stored rejects as `sample` would ({@link OutOfRangeError}), and is not counted.
   *
   * @param options `sample`'s own (`out`, and `beta` for a prioritized buffer), plus `signal`
   *   (an AbortSignal) and `timeoutMs` (milliseconds; default: no limit) to stop waiting.
   * @returns the batch `sample` returns.
   * @throws (rejects with) {@link RateLimitError} when `timeoutMs` passes or `signal` aborts
   *   first: nothing was sampled or counted; {@link StateError} when the buffer is closed, also
   *   while the call waits; {@link OutOfRangeError} for a `batchSize` that is not a positive
   *   integer or exceeds the capacity, bad waiting options, and as `sample` does.
   */
  sampleAsync(batchSize: number, options?: O & RateWaitOptions): Promise<B> {
    return this.#core.sampleAsync(batchSize, options) as unknown as Promise<B>;
  }

  /**
   * `push`, once the rate limiter admits the insert: with `samplesPerInsert`, inserts wait while
   * one more would take the ratio of samples to inserts past `samplesPerInsert - errorBuffer`
   * (the actors ran ahead of the learner); before `minSize` items, and with a `{ minSize }`
   * limiter, they never wait. Without a rate limiter it pushes at once. The transition is
   * checked (and copied, if the call has to wait) when called, and stored when admitted.
   * @param options `signal` (an AbortSignal) and `timeoutMs` (milliseconds; default: no limit).
   * @returns the new item's index.
   * @throws (rejects with) {@link RateLimitError} when `timeoutMs` passes or `signal` aborts
   *   first: nothing was stored or counted; {@link StateError} when the buffer is closed (also
   *   while waiting) or a save is in progress when the call is admitted; as `push` for the transition.
   */
  pushAsync(transition: Transition<F>, options?: RateWaitOptions & PushOptions): Promise<number> {
    return this.#core.pushAsync(transition, options);
  }

  /**
   * `pushBatch`, once the rate limiter admits its rows: as {@link pushAsync}, the batch's first
   * row decides and all its rows are counted. Its columns are checked (and copied, if the call
   * has to wait) when called; a rejected call stores none of its rows.
   * @param options `signal` and `timeoutMs`, as {@link pushAsync}.
   * @throws (rejects with) as {@link pushAsync}, and as `pushBatch` for the columns.
   */
  pushBatchAsync(columns: Columns<F>, options?: RateWaitOptions & PushBatchOptions): Promise<void> {
    return this.#core.pushBatchAsync(columns, options);
  }

  /**
   * Sweeps the buffer in epochs, sampling without replacement: within one epoch every
   * stored item appears exactly once, in a fresh seeded permutation (or oldest first with
   * `shuffle: false`); the last, smaller batch is kept unless `dropLast`.
   *
   * Pushing during an epoch is allowed: the epoch covers the items stored when it began;
   * items pushed meanwhile join from the next epoch, and items overwritten meanwhile are
   * skipped, so a row is never anything but the item it stands for.
   *
   * @example
   * ```ts
   * for (const batch of rb.epochs({ batchSize: 64, epochs: 5, shuffle: true, dropLast: false })) train(batch);
   * ```
   * @returns an iterator of batches shaped as `sample`'s (prioritized buffers: weights of 1).
   * @throws {@link OutOfRangeError} for a batch size that is not a positive integer or a bad
   *   epoch count; {@link StateError} after `close()`.
   */
  epochs(options: EpochOptions & { epochs?: number }): EpochIterator<B> {
    return this.#core.epochs(options) as unknown as EpochIterator<B>;
  }

  /**
   * Prepares the buffer's own epoch iterator, for {@link getNextBatch} (the ObjectRL and
   * TorchRL style); also returns it, to iterate directly.
   * @param options `batchSize`, `nEpochs` (default 1), and `shuffle` / `dropLast` as in {@link epochs}.
   * @throws as {@link epochs}.
   */
  createEpochIterator(options: EpochOptions & { nEpochs?: number }): EpochIterator<B> {
    return this.#core.steps.createEpochIterator(options) as unknown as EpochIterator<B>;
  }

  /**
   * The next batch of the iterator made by {@link createEpochIterator} or
   * {@link getStepsAndIterator}; after `getStepsAndIterator({ nEpochs: 0, ... })`, a random
   * batch drawn as `sample(batchSize)` does (prioritized buffers: epoch batches have weights
   * of 1, random ones are drawn by priority).
   * @throws {@link StateError} when no iterator was prepared or it is exhausted (the step count
   *   from `getStepsAndIterator` says how many batches there are); {@link StateError} after `close()`.
   */
  getNextBatch(): B {
    return this.#core.steps.getNextBatch() as unknown as B;
  }

  /**
   * How many full batches of `batchSize` one epoch gives now: floor(length / batchSize).
   * (An epoch without `dropLast` yields one more, smaller batch when the division has a remainder.)
   * @throws {@link OutOfRangeError} for a batch size that is not a positive integer.
   */
  calculateNumBatches(batchSize: number): number {
    return Math.floor(this.length / checkInteger(batchSize, 'batchSize', 1));
  }

  /**
   * Prepares {@link getNextBatch} and returns how many update steps to run (ObjectRL's
   * `get_steps_and_iterator`). With `nEpochs > 0` it makes an epoch iterator and returns
   * the number of batches it yields: nEpochs * ceil(length / batchSize), or
   * nEpochs * floor(length / batchSize) with `dropLast` (as long as nothing is pushed meanwhile).
   * With `nEpochs: 0` it makes no iterator: `getNextBatch()` samples at random, and it returns `maxIter`.
   * @throws {@link OutOfRangeError} for a bad batch size, nEpochs or maxIter.
   */
  getStepsAndIterator(options: { nEpochs: number; maxIter: number; batchSize: number; shuffle?: boolean; dropLast?: boolean }): number {
    return this.#core.steps.getStepsAndIterator(options);
  }


  /**
   * Reads the items at the given positions: 0 is the oldest stored item, `length - 1` the newest.
   * @param indices positions, as a `Float64Array` or number[]; repeats allowed.
   * @returns a batch shaped as `sample`'s, whose `indices` are the items' keys (usable with
   *   `updatePriorities`); prioritized buffers add weights of 1.
   * @throws {@link OutOfRangeError} for a position that is not an integer in [0, length);
   *   {@link DtypeError} for another array type; {@link StateError} after `close()`.
   */
  sampleByIndex(indices: Float64Array | readonly number[]): B {
    return this.#core.readPositions(indices, null) as unknown as B;
  }

  /**
   * As {@link sampleByIndex}, but only the named fields (and `indices`) come back.
   * @throws as {@link sampleByIndex}; {@link ShapeError} for a field the schema does not have.
   */
  sampleByIndexFields<K extends keyof F & string>(indices: Float64Array | readonly number[], fields: readonly K[]): Pick<Batch<F>, K | 'indices'> {
    const core = this.#core;
    return core.readPositions(indices, core.fieldSet(fields)) as unknown as Pick<Batch<F>, K | 'indices'>;
  }

  /** Every stored item, oldest first: {@link sampleByIndex} of 0 .. length-1. @throws {@link StateError} after `close()`. */
  sampleAll(): B {
    return this.#core.readAll() as unknown as B;
  }

  /**
   * Writes an archive of the buffer to `path`: everything needed to resume exactly (data of
   * every storage tier, keys, priorities, beta's progress, the random generator, the epoch
   * iterator). The file is written to a temporary file in the same directory, flushed to
   * disk and renamed over `path`, so a crash at any moment leaves either the previous
   * archive or the new one, never a broken one. A worker thread checksums and writes the
   * file chunk by chunk while the main thread only gathers the next chunk (a copy into a
   * shared buffer); pushes, updates, `clear` and `close` are refused with {@link StateError} until
   * it ends (sampling is allowed: the archive holds the state from when the save began).
   * @param options `onProgress({ bytesWritten, totalBytes })`, `signal` (an AbortSignal: the
   *   target is left untouched and the promise rejects with the signal's reason), `chunkBytes`.
   * @throws {@link ArchiveError} when the file cannot be written; {@link StateError} when the
   *   buffer is closed or already saving.
   */
  save(path: string, options?: SaveOptions): Promise<void> {
    return save(this.#core, path, options);
  }

  /** As {@link save}, synchronously, on the calling thread. */
  saveSync(path: string, options?: Omit<SaveOptions, 'signal'>): void {
    saveSync(this.#core, path, options);
  }

  /** Removes every transition. Indices handed out before stay stale. @throws {@link StateError} after `close()`. */
  clear(): void {
    this.#core.clear();
  }

  /** Frees the buffer's memory now. Idempotent; any later call except `close` throws {@link StateError}. */
  close(): void {
    this.#core.close();
  }

  /** Same as `close()`, for `using rb = new ReplayBuffer(...)`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The random generator's state (four 32-bit integers): with {@link setRngState}, resumes the exact sample sequence. */
  getRngState(): number[] {
    return this.#core.getRngState();
  }

  /** Restores a state from {@link getRngState}. @throws {@link ShapeError} for anything else. */
  setRngState(state: readonly number[]): void {
    this.#core.setRngState(state);
  }
}
