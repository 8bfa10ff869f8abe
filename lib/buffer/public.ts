/**
 * The two public buffers as users see them: `ReplayBuffer` and `PrioritizedReplayBuffer`,
 * the runtime classes under constructor types that infer the schema from the options
 * (a class's own constructor cannot: the shorthand form's schema is built from three type
 * parameters of its own). The `@class` tags make typedoc document each as a class.
 * @module
 */
import type { Dtype } from '../schema/dtypes';
import type { BufferOptions, FieldsOptions, FieldsSpec, TransitionFields, TransitionOptions, WithNext } from '../schema/types';
import type { PrioritizedOptions } from '../schema/prioritized';
import type { LoadOptions } from '../archive/load';
import { ReplayBuffer as UniformClass } from './replay-buffer';
import { PrioritizedReplayBuffer as PrioritizedClass } from './prioritized-replay-buffer';

/** The constructor of {@link ReplayBuffer}, typed so that batches follow the schema. */
export interface ReplayBufferConstructor {
  /**
   * A buffer with an explicit schema: any fields, any of `float32`, `float64`, `int32`,
   * `int64`, `uint8`, `bool`, any shape.
   * @example
   * ```ts
   * const rb = new ReplayBuffer({ capacity: 50_000, seed: 7, fields: {
   *   obs: { shape: [4, 84, 84], dtype: 'uint8' }, action: { shape: [], dtype: 'int32' } } });
   * ```
   * @throws {@link OutOfRangeError} for a capacity that is not an integer in [1, 2^40] or a bad seed;
   *   {@link ShapeError} / {@link DtypeError} for a bad schema.
   */
  new <const F extends FieldsSpec>(options: FieldsOptions<F>): ReplayBuffer<WithNext<F>>;
  /**
   * A buffer of the standard transition fields: `obs`, `action`, `reward` (float32),
   * `nextObs`, `terminated`, `truncated` (bool), plus any `extraFields`.
   * @example
   * ```ts
   * const rb = new ReplayBuffer({ capacity: 100_000, obsShape: [4], actionDtype: 'int32', seed: 1 });
   * ```
   * @throws as the explicit-schema form.
   */
  new <O extends Dtype = 'float32', A extends Dtype = 'float32', const X extends FieldsSpec = {}>(
    options: TransitionOptions<O, A, X>,
  ): ReplayBuffer<TransitionFields<O, A, X>>;
  readonly prototype: ReplayBuffer;
  /**
   * Loads an archive written by `save`: a buffer of the archived kind (uniform, or a
   * {@link PrioritizedReplayBuffer} for a prioritized archive), schema and options, whose next
   * batches are bit-identical to those the saved buffer would have drawn next. Every
   * checksum is verified first.
   * @param options `storage` for the loaded buffer; `ifMissing: 'empty'` with full
   *   constructor options to start an empty buffer when no file is at `path`.
   * @throws {@link ArchiveError} for a missing, truncated, corrupt or foreign file, or one
   *   whose buffer would not fit in memory.
   */
  load<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions>): Promise<ReplayBuffer<F>>;
  /** As `load`, synchronously. */
  loadSync<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions>): ReplayBuffer<F>;
}

/** A uniform replay buffer over the fields `F`. */
export type ReplayBuffer<F extends FieldsSpec = FieldsSpec> = UniformClass<F>;

/**
 * A fixed-capacity FIFO ring of transitions with uniform sampling, on a native C++ core.
 *
 * Fields, dtypes and shapes come from the options (the standard transition fields
 * from `obsShape`, or any explicit `fields`); sampled batches are typed accordingly.
 * Every method validates its whole input first: an error leaves the buffer exactly as
 * it was. Close it with `close()` (or `using`) to free its memory at once; garbage
 * collection frees it otherwise.
 *
 * The design follows TorchRL's composition of a storage, a writer and a sampler: a
 * {@link PrioritizedReplayBuffer} is the same buffer with the prioritized sampler, and
 * `instanceof ReplayBuffer` holds for it too.
 * @class
 */
export const ReplayBuffer = UniformClass as unknown as ReplayBufferConstructor;

/** The constructor of {@link PrioritizedReplayBuffer}, typed so that batches follow the schema. */
export interface PrioritizedReplayBufferConstructor {
  /**
   * A prioritized buffer with an explicit schema.
   * @throws {@link OutOfRangeError} for a bad capacity, seed, alpha, beta, betaFrames, epsilon
   *   or eviction; {@link ShapeError} / {@link DtypeError} for a bad schema.
   */
  new <const F extends FieldsSpec>(options: FieldsOptions<F> & PrioritizedOptions): PrioritizedReplayBuffer<WithNext<F>>;
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
  /**
   * Loads an archive of a prioritized buffer (see {@link ReplayBuffer.load}).
   * @throws {@link ArchiveError} also when the archive holds a uniform buffer.
   */
  load<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions & PrioritizedOptions>): Promise<PrioritizedReplayBuffer<F>>;
  /** As `load`, synchronously. */
  loadSync<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions & PrioritizedOptions>): PrioritizedReplayBuffer<F>;
}

/** A prioritized replay buffer over the fields `F`. */
export type PrioritizedReplayBuffer<F extends FieldsSpec = FieldsSpec> = PrioritizedClass<F>;

/**
 * A replay buffer that samples item i with probability P(i) = p_i^alpha / sum_k p_k^alpha
 * and returns importance-sampling weights (Schaul et al. 2016, proportional variant).
 *
 * The same buffer as {@link ReplayBuffer} with the prioritized sampler (as in TorchRL): a
 * sum-tree (float64, parents recomputed on every update, so no drift) and a min-tree live in
 * the C++ core. Sampling is stratified: one draw in each of `batchSize` equal segments of
 * the total mass. New items get the largest priority seen so far (1 at first) unless given
 * one. Seeded: the same seed and pushes give the same batches.
 * @class
 */
export const PrioritizedReplayBuffer = PrioritizedClass as unknown as PrioritizedReplayBufferConstructor;
