/**
 * The prioritized replay buffer (Schaul et al. 2016, "Prioritized Experience Replay",
 * the proportional variant).
 * @module
 */
import { describe, Dtype, typedArrayTag } from './dtypes';
import { float64 } from './convert';
import { DtypeError, OutOfRangeError, ShapeError } from './errors';
import type { EpochIterator, EpochOptions } from './epochs';
import { registerPrioritizedKind, ReplayBufferImpl, SampleOptions } from './replay-buffer';
import * as archive from './archive';
import type { LoadOptions } from './archive';
import { ArchiveError } from './errors';
import {
  Batch,
  BufferOptions,
  checkInteger,
  checkNumber,
  Columns,
  FieldsOptions,
  FieldsSpec,
  Transition,
  TransitionFields,
  TransitionOptions,
} from './schema';

/** Which item a full prioritized buffer replaces. */
export type Eviction = 'fifo' | 'lowest-priority';
const EVICTIONS: readonly Eviction[] = ['fifo', 'lowest-priority'];

/** Options of prioritized replay, beside those of the schema. */
export interface PrioritizedOptions {
  /** Priority exponent: P(i) = p_i^alpha / sum_k p_k^alpha. 0 is uniform; default 0.6. */
  alpha?: number;
  /** Importance-sampling exponent at the first `sample`; default 0.4. */
  betaStart?: number;
  /** Importance-sampling exponent once annealed; default 1.0. */
  betaEnd?: number;
  /** Number of `sample` calls over which beta anneals linearly from betaStart to betaEnd; default 100,000. */
  betaFrames?: number;
  /** Added to |TD error| in `updatePriorities`, so no priority is 0; a number > 0, default 1e-6. */
  epsilon?: number;
  /**
   * When full: `'fifo'` (default) replaces the oldest item; `'lowest-priority'` replaces the
   * item of smallest priority (the leftmost slot among equals).
   */
  eviction?: Eviction;
}

/** A prioritized batch: the fields, `indices`, and the importance-sampling weights. */
export type PrioritizedBatch<F extends FieldsSpec> = Batch<F> & {
  /**
   * `Float32Array(batchSize)`: w_i = (N * P(i))^-beta / max_j w_j, the max over the whole buffer; each in (0, 1]
   * (a weight below the smallest positive float32, 2^-149, is raised to it rather than rounded to 0).
   */
  weights: Float32Array;
};

/** The items of highest priority: the fields, `indices`, and their `priorities`. */
export type TopBatch<F extends FieldsSpec> = Batch<F> & {
  /** `Float64Array(k)`: each item's priority p (not p^alpha), highest first. */
  priorities: Float64Array;
};

/** Options of {@link PrioritizedReplayBufferImpl.sample}. */
export interface PrioritizedSampleOptions<F extends FieldsSpec> extends SampleOptions<F> {
  out?: Partial<PrioritizedBatch<F>>;
  /** Use this beta for this call instead of the annealed one (the schedule still advances). */
  beta?: number;
}

/** Options of a single prioritized push. */
export interface PrioritizedPushOptions {
  /** The item's priority p (finite, > 0); default: the largest priority seen so far (`maxPriority`). */
  priority?: number;
}

/** Options of a prioritized `pushBatch`. */
export interface PrioritizedPushBatchOptions {
  /** One priority per row (finite, > 0); default: `maxPriority` for every row. */
  priorities?: Float64Array | Float32Array | readonly number[];
}

/**
 * A replay buffer that samples item i with probability P(i) = p_i^alpha / sum_k p_k^alpha
 * and returns importance-sampling weights (Schaul et al. 2016, proportional variant).
 *
 * A sum-tree (float64, parents recomputed on every update, so no drift) and a min-tree
 * live in the C++ core. Sampling is stratified: one draw in each of `batchSize` equal
 * segments of the total mass. New items get the largest priority seen so far (1 at
 * first) unless given one. Seeded: the same seed and pushes give the same batches.
 */
export class PrioritizedReplayBufferImpl<F extends FieldsSpec = FieldsSpec> extends ReplayBufferImpl<F> {
  /** The priority exponent. */
  readonly alpha: number;
  /** Beta at the first sample. */
  readonly betaStart: number;
  /** Beta after `betaFrames` samples. */
  readonly betaEnd: number;
  /** Sample calls over which beta anneals. */
  readonly betaFrames: number;
  /** Added to |TD error| by `updatePriorities`. */
  readonly epsilon: number;
  /** Which item a full buffer replaces. */
  readonly eviction: Eviction;
  readonly #one = new Float64Array(1);

  /** @internal Use `new PrioritizedReplayBuffer(options)`. */
  constructor(options: BufferOptions & PrioritizedOptions) {
    const o = options ?? ({} as BufferOptions & PrioritizedOptions);
    const alpha = checkNumber(o.alpha ?? 0.6, 'alpha', 0);
    const eviction = o.eviction ?? 'fifo';
    if (!EVICTIONS.includes(eviction))
      throw new OutOfRangeError(`eviction must be 'fifo' or 'lowest-priority', got ${describe(eviction)}`);
    const betaStart = checkNumber(o.betaStart ?? 0.4, 'betaStart', 0);
    const betaEnd = checkNumber(o.betaEnd ?? 1.0, 'betaEnd', 0);
    const betaFrames = checkInteger(o.betaFrames ?? 100_000, 'betaFrames', 1);
    const epsilon = checkNumber(o.epsilon ?? 1e-6, 'epsilon', 0, true);
    super(options, { alpha, eviction, epsilon, betaStart, betaEnd, betaFrames });
    this.alpha = alpha;
    this.betaStart = betaStart;
    this.betaEnd = betaEnd;
    this.betaFrames = betaFrames;
    this.epsilon = epsilon;
    this.eviction = eviction;
  }

  /** The beta the next `sample` uses: betaStart + (betaEnd - betaStart) * min(1, samples so far / betaFrames). */
  get beta(): number {
    this._assertOpen();
    return this._native.beta;
  }

  /** The sum of p^alpha over the stored items (the sum-tree's total). */
  get totalPriority(): number {
    this._assertOpen();
    return this._native.stats().totalPriority;
  }

  /** The largest priority p seen so far, which new items get by default; 1 at first and after `clear()`. */
  get maxPriority(): number {
    this._assertOpen();
    return this._native.stats().maxPriority;
  }

  /** The smallest priority p among the stored items; `Infinity` when empty. */
  get minPriority(): number {
    this._assertOpen();
    return this._native.stats().minPriority;
  }

  /**
   * Appends one transition at the given priority, or at `maxPriority`.
   * @returns the new item's index.
   * @throws as {@link ReplayBufferImpl.push}, and {@link OutOfRangeError} for a priority that is
   *   NaN, infinite or not > 0.
   */
  override push(transition: Transition<F>, options?: PrioritizedPushOptions): number {
    const row = this._stage(transition);
    const p = options?.priority;
    if (p === undefined) return this._native.push(row, 1);
    this.#one[0] = checkNumber(p, 'priority', 0, true);
    return this._native.push(row, 1, this.#one);
  }

  /**
   * Appends `n` transitions given as columns, at the given priorities or at `maxPriority`;
   * with `'lowest-priority'` eviction each row evicts in turn, as a loop of `push` would.
   * @throws as {@link ReplayBufferImpl.pushBatch}; {@link ShapeError} when `priorities` is
   *   not of length n; {@link OutOfRangeError} for a priority that is NaN, infinite or not > 0.
   */
  override pushBatch(columns: Columns<F>, options?: PrioritizedPushBatchOptions): void {
    const cols = this._columns(columns);
    const p = options?.priorities;
    const priorities = p === undefined ? undefined : float64(p, 'priorities', cols ? cols.rows : 0);
    if (cols) this._native.push(cols.arrays, cols.rows, priorities);
  }

  /**
   * Draws `batchSize` items with probability P(i) = p_i^alpha / sum_k p_k^alpha, stratified,
   * and advances the beta schedule by one.
   * @returns the fields and `indices` as {@link ReplayBufferImpl.sample}, plus
   *   `weights: Float32Array(batchSize)`, w_i = (N * P(i))^-beta / max_j w_j, in (0, 1].
   * @throws as {@link ReplayBufferImpl.sample}; {@link OutOfRangeError} for a negative or non-finite `beta`.
   */
  override sample(batchSize: number, options?: PrioritizedSampleOptions<F>): PrioritizedBatch<F> {
    const beta = options?.beta === undefined ? undefined : checkNumber(options.beta, 'beta', 0);
    return this._draw(batchSize, options?.out, true, beta) as PrioritizedBatch<F>;
  }

  /** As {@link ReplayBufferImpl.epochs}; priorities are ignored and every weight is 1. */
  override epochs(options: EpochOptions & { epochs?: number }): EpochIterator<PrioritizedBatch<F>> {
    return super.epochs(options) as EpochIterator<PrioritizedBatch<F>>;
  }

  /** As {@link ReplayBufferImpl.createEpochIterator}; priorities are ignored and every weight is 1. */
  override createEpochIterator(options: EpochOptions & { nEpochs?: number }): EpochIterator<PrioritizedBatch<F>> {
    return super.createEpochIterator(options) as EpochIterator<PrioritizedBatch<F>>;
  }

  /** As {@link ReplayBufferImpl.getNextBatch}: epoch batches have weights of 1; random ones are drawn by priority. */
  override getNextBatch(): PrioritizedBatch<F> {
    return super.getNextBatch() as PrioritizedBatch<F>;
  }

  /** As {@link ReplayBufferImpl.sampleByIndex}, with weights of 1; the `indices` work with `updatePriorities`. */
  override sampleByIndex(indices: Float64Array | readonly number[]): PrioritizedBatch<F> {
    return super.sampleByIndex(indices) as PrioritizedBatch<F>;
  }

  /** As {@link ReplayBufferImpl.sampleAll}, with weights of 1. */
  override sampleAll(): PrioritizedBatch<F> {
    return super.sampleAll() as PrioritizedBatch<F>;
  }

  /**
   * Loads an archive of a prioritized buffer (see {@link ReplayBufferImpl.load}).
   * @throws {@link ArchiveError} also when the archive holds a uniform buffer.
   */
  static override load<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions & PrioritizedOptions>): Promise<PrioritizedReplayBufferImpl<F>> {
    if (archive.missingAndEmpty(path, options)) return Promise.resolve(new PrioritizedReplayBufferImpl<F>(options as BufferOptions));
    return archive.load(path, options ?? {}, makePrioritized) as Promise<PrioritizedReplayBufferImpl<F>>;
  }

  /** As {@link load}, synchronously. */
  static override loadSync<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions & PrioritizedOptions>): PrioritizedReplayBufferImpl<F> {
    if (archive.missingAndEmpty(path, options)) return new PrioritizedReplayBufferImpl<F>(options as BufferOptions);
    return archive.loadSync(path, options ?? {}, makePrioritized) as PrioritizedReplayBufferImpl<F>;
  }

  /** @internal Batches read without sampling ignore priorities: weights of 1. */
  protected override _decorate(batch: Batch<F>, rows: number): Batch<F> {
    (batch as PrioritizedBatch<F>).weights = new Float32Array(rows).fill(1);
    return batch;
  }

  /**
   * Sets p_i = |tdErrors[i]| + epsilon for each item named in `indices`. An item that has
   * been overwritten since it was sampled is skipped (its newcomer keeps its priority);
   * when an index repeats, the last value wins.
   * @param indices `Float64Array` or number[] of item indices, as in a batch's `indices`.
   * @param tdErrors `Float32Array`, `Float64Array` or number[] of the same length: TD errors (signed or not).
   * @returns how many updates were applied (not skipped).
   * @throws {@link ShapeError} when the lengths differ; {@link OutOfRangeError} for a NaN or
   *   infinite TD error or an index this buffer never handed out (then nothing is applied);
   *   {@link DtypeError} for arrays of another type; {@link StateError} after `close()`.
   */
  updatePriorities(indices: Float64Array | readonly number[], tdErrors: Float32Array | Float64Array | readonly number[]): number {
    this._assertMutable();
    const keys = float64(indices, 'indices', -1);
    const tag = typedArrayTag(tdErrors);
    const deltas = tag === 'Float32Array' || tag === 'Float64Array' ? (tdErrors as Float32Array | Float64Array) : float64(tdErrors, 'tdErrors', -1);
    if (deltas.length !== keys.length)
      throw new ShapeError(`tdErrors must have one value per index: ${keys.length} indices, ${deltas.length} tdErrors`);
    for (let i = 0; i < deltas.length; i++) if (!Number.isFinite(deltas[i])) throw new OutOfRangeError(`tdErrors[${i}] must be finite, got ${deltas[i]}`);
    return this._native.updatePriorities(keys, deltas);
  }

  /**
   * The `k` items of highest priority, highest first (among equals, the older slot first).
   * No randomness, no weights, and the beta schedule does not move.
   * @returns the fields and `indices` as {@link ReplayBufferImpl.sample}, plus `priorities: Float64Array(k)`.
   * @throws {@link OutOfRangeError} when `k` is not a non-negative integer or exceeds `length`.
   */
  top(k: number): TopBatch<F> {
    this._assertOpen();
    checkInteger(k, 'k', 0);
    if (k > this._native.length) throw new OutOfRangeError(`cannot take the top ${k} items: only ${this._native.length} are stored`);
    const keys = new Float64Array(k);
    const priorities = new Float64Array(k);
    this._native.top(k, keys, priorities);
    const batch = this._read(keys) as TopBatch<F>;
    batch.priorities = priorities;
    return batch;
  }
}

registerPrioritizedKind(PrioritizedReplayBufferImpl as unknown as new (options: BufferOptions) => ReplayBufferImpl);

function makePrioritized(a: archive.ArchivedOptions): PrioritizedReplayBufferImpl {
  if (!a.prioritized) throw new ArchiveError('the archive holds a uniform buffer: load it with ReplayBuffer.load');
  return new PrioritizedReplayBufferImpl(a.options as unknown as BufferOptions);
}

/** The constructor of {@link PrioritizedReplayBuffer}, typed so that batches follow the schema. */
export interface PrioritizedReplayBufferConstructor {
  /**
   * A prioritized buffer with an explicit schema.
   * @throws {@link OutOfRangeError} for a bad capacity, seed, alpha, beta, betaFrames, epsilon
   *   or eviction; {@link ShapeError} / {@link DtypeError} for a bad schema.
   */
  new <const F extends FieldsSpec>(options: FieldsOptions<F> & PrioritizedOptions): PrioritizedReplayBuffer<F>;
  /**
   * A prioritized buffer of the standard transition fields.
   * @example
   * ```ts
   * const per = new PrioritizedReplayBuffer({ capacity: 100_000, obsShape: [4], actionDtype: 'int32',
   *   alpha: 0.6, betaStart: 0.4, betaEnd: 1.0, betaFrames: 100_000, epsilon: 1e-6, seed: 1 });
   * ```
   * @throws as the explicit-schema form.
   */
  new <O extends Dtype = 'float32', A extends Dtype = 'float32', const X extends FieldsSpec = {}>(
    options: TransitionOptions<O, A, X> & PrioritizedOptions,
  ): PrioritizedReplayBuffer<TransitionFields<O, A, X>>;
  readonly prototype: PrioritizedReplayBuffer;
  /** Loads an archive of a prioritized buffer (see {@link ReplayBufferImpl.load}). */
  load<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions & PrioritizedOptions>): Promise<PrioritizedReplayBuffer<F>>;
  /** As `load`, synchronously. */
  loadSync<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions & PrioritizedOptions>): PrioritizedReplayBuffer<F>;
}

/** A prioritized replay buffer over the fields `F`. See {@link PrioritizedReplayBufferImpl} for its methods. */
export type PrioritizedReplayBuffer<F extends FieldsSpec = FieldsSpec> = PrioritizedReplayBufferImpl<F>;
/** The prioritized replay buffer (Schaul et al. 2016, proportional). */
export const PrioritizedReplayBuffer = PrioritizedReplayBufferImpl as unknown as PrioritizedReplayBufferConstructor;
