/**
 * The prioritized replay buffer: the shared base with the prioritized sampler, plus the
 * calls only prioritized replay has (priorities at push, `updatePriorities`, `top`, beta
 * and the trees' statistics), each forwarding to the sampler. Its public constructor type
 * is in ./public.
 * @module
 */
import { ArchiveError } from '../errors';
import type { BufferOptions, Columns, FieldsSpec, Transition } from '../schema/types';
import type {
  Eviction,
  PrioritizedBatch,
  PrioritizedOptions,
  PrioritizedPushBatchOptions,
  PrioritizedPushOptions,
  PrioritizedSampleOptions,
  TopBatch,
} from '../schema/prioritized';
import { load, loadSync, LoadOptions, MakeBuffer, missingAndEmpty } from '../archive/load';
import { loadOptions, withoutLoadKeys } from '../schema/options';
import { bufferState, ReplayBufferBase } from './base';
import { archivedPrioritizedOptions, PrioritizedSampler, prioritizedKind } from './samplers';
import type { RateWaitOptions } from '../schema/rate-limiter';

/** The runtime class behind the public `PrioritizedReplayBuffer` (./public documents it). */
export class PrioritizedReplayBuffer<F extends FieldsSpec = FieldsSpec> extends ReplayBufferBase<F, PrioritizedBatch<F>, PrioritizedSampleOptions<F>> {
  readonly #sampler: PrioritizedSampler;

  /** Validates the prioritized options first, then the schema and the rest. */
  constructor(options: BufferOptions & PrioritizedOptions) {
    super(options, prioritizedKind);
    this.#sampler = bufferState(this).sampler as PrioritizedSampler;
  }

  /** The priority exponent. */
  get alpha(): number {
    return this.#sampler.alpha;
  }

  /** Beta at the first sample. */
  get betaStart(): number {
    return this.#sampler.betaStart;
  }

  /** Beta after `betaFrames` samples. */
  get betaEnd(): number {
    return this.#sampler.betaEnd;
  }

  /** Sample calls over which beta anneals. */
  get betaFrames(): number {
    return this.#sampler.betaFrames;
  }

  /** Added to |TD error| by `updatePriorities`. */
  get epsilon(): number {
    return this.#sampler.epsilon;
  }

  /** Which item a full buffer replaces. */
  get eviction(): Eviction {
    return this.#sampler.eviction;
  }

  /** The beta the next `sample` uses: betaStart + (betaEnd - betaStart) * min(1, samples so far / betaFrames). */
  get beta(): number {
    return this.#open().beta;
  }

  /** The sum of p^alpha over the stored items (the sum-tree's total). */
  get totalPriority(): number {
    return this.#open().stats().totalPriority;
  }

  /** The largest priority p seen so far, which new items get by default; 1 at first and after `clear()`. */
  get maxPriority(): number {
    return this.#open().stats().maxPriority;
  }

  /** The smallest priority p among the stored items; `Infinity` when empty. */
  get minPriority(): number {
    return this.#open().stats().minPriority;
  }

  /**
   * Appends one transition at the given priority, or at `maxPriority`; when the buffer is
   * full, it replaces the oldest item (or, with `'lowest-priority'` eviction, the item of
   * smallest priority).
   * @param transition as for a uniform buffer's `push`.
   * @returns the new item's index (its key, as in a batch's `indices`).
   * @throws as a uniform buffer's `push`, and {@link OutOfRangeError} for a priority that is
   *   NaN, infinite or not > 0.
   */
  override push(transition: Transition<F>, options?: PrioritizedPushOptions): number {
    return bufferState(this).push(transition, options?.priority, options?.env);
  }

  /**
   * Appends `n` transitions given as columns, at the given priorities or at `maxPriority`;
   * with `'lowest-priority'` eviction each row evicts in turn, as a loop of `push` would.
   * @param columns as for a uniform buffer's `pushBatch`.
   * @throws as a uniform buffer's `pushBatch`; {@link ShapeError} when `priorities` is
   *   not of length n; {@link OutOfRangeError} for a priority that is NaN, infinite or not > 0.
   */
  override pushBatch(columns: Columns<F>, options?: PrioritizedPushBatchOptions): void {
    bufferState(this).pushBatch(columns, options?.priorities, options?.env);
  }

  /**
   * `push` at a priority, once the rate limiter admits it (see `ReplayBuffer.pushAsync`).
   * @param options `priority` as for `push`, `signal`, `timeoutMs` (milliseconds).
   * @throws (rejects with) as `ReplayBuffer.pushAsync`, and as `push` for the priority.
   */
  override pushAsync(transition: Transition<F>, options?: PrioritizedPushOptions & RateWaitOptions): Promise<number> {
    return bufferState(this).pushAsync(transition, options);
  }

  /**
   * `pushBatch` at priorities, once the rate limiter admits its rows (see `ReplayBuffer.pushBatchAsync`).
   * @param options `priorities` as for `pushBatch`, `signal`, `timeoutMs` (milliseconds).
   * @throws (rejects with) as `ReplayBuffer.pushBatchAsync`, and as `pushBatch` for the priorities.
   */
  override pushBatchAsync(columns: Columns<F>, options?: PrioritizedPushBatchOptions & RateWaitOptions): Promise<void> {
    return bufferState(this).pushBatchAsync(columns, options);
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
    const state = bufferState(this);
    state.assertMutable();
    state.busy = true; // the arrays' elements may be getters: they must not reach this buffer
    try {
      return this.#sampler.updatePriorities(indices, tdErrors);
    } finally {
      state.busy = false;
    }
  }

  /**
   * The `k` items of highest priority, highest first (among equals, the older slot first).
   * No randomness, no weights, and the beta schedule does not move.
   * @returns the fields and `indices` as `sample`, plus `priorities: Float64Array(k)`.
   * @throws {@link OutOfRangeError} when `k` is not a non-negative integer or exceeds `length`.
   */
  top(k: number): TopBatch<F> {
    const state = bufferState(this);
    state.assertOpen();
    const { keys, priorities } = this.#sampler.top(k);
    const batch = state.read(keys) as unknown as TopBatch<F>;
    batch.priorities = priorities;
    return batch;
  }

  /**
   * Loads an archive of a prioritized buffer (see `ReplayBuffer.load`).
   * @throws {@link ArchiveError} also when the archive holds a uniform buffer.
   */
  static async load<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions & PrioritizedOptions>): Promise<PrioritizedReplayBuffer<F>> {
    const o = loadOptions(options);
    if (missingAndEmpty(path, o)) return new PrioritizedReplayBuffer<F>(withoutLoadKeys(o) as BufferOptions);
    return (await load(path, o, makePrioritized)) as PrioritizedReplayBuffer<F>;
  }

  /** As {@link load}, synchronously. */
  static loadSync<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions & PrioritizedOptions>): PrioritizedReplayBuffer<F> {
    const o = loadOptions(options);
    if (missingAndEmpty(path, o)) return new PrioritizedReplayBuffer<F>(withoutLoadKeys(o) as BufferOptions);
    return loadSync(path, o, makePrioritized) as PrioritizedReplayBuffer<F>;
  }

  /** The sampler, once the buffer is known to be open. */
  #open(): PrioritizedSampler {
    bufferState(this).assertOpen();
    return this.#sampler;
  }
}

/** Makes the prioritized buffer an archive describes; ArchiveError for an archive of a uniform buffer. @internal */
export const makePrioritized: MakeBuffer<PrioritizedReplayBuffer> = (info, base) => {
  const prioritized = archivedPrioritizedOptions(info);
  if (prioritized === null) throw new ArchiveError('the archive holds a uniform buffer: load it with ReplayBuffer.load');
  const buffer = new PrioritizedReplayBuffer({ ...base, ...prioritized });
  return { buffer, state: bufferState(buffer) };
};

