/**
 * The public types of prioritized replay: its options, and what its batches, pushes and
 * samples carry beyond a uniform buffer's.
 * @module
 */
import type { Batch, FieldsSpec, PushBatchOptions, PushOptions, SampleOptions } from './types';

/** Which item a full prioritized buffer replaces. */
export type Eviction = 'fifo' | 'lowest-priority';

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
  /** `Float32Array(batchSize)`: w_i = (N * P(i))^-beta / max_j w_j, the max over the whole buffer; each in (0, 1]. */
  weights: Float32Array;
};

/** The items of highest priority: the fields, `indices`, and their `priorities`. */
export type TopBatch<F extends FieldsSpec> = Batch<F> & {
  /** `Float64Array(k)`: each item's priority p (not p^alpha), highest first. */
  priorities: Float64Array;
};

/** Options of `sample` of a PrioritizedReplayBuffer. */
export interface PrioritizedSampleOptions<F extends FieldsSpec> extends SampleOptions<F> {
  out?: Partial<PrioritizedBatch<F>>;
  /** Use this beta for this call instead of the annealed one (the schedule still advances). */
  beta?: number;
}

/** Options of a single prioritized push. */
export interface PrioritizedPushOptions extends PushOptions {
  /** The item's priority p (finite, > 0); default: the largest priority seen so far (`maxPriority`). */
  priority?: number;
}

/** Options of a prioritized `pushBatch`. */
export interface PrioritizedPushBatchOptions extends PushBatchOptions {
  /** One priority per row (finite, > 0); default: `maxPriority` for every row. */
  priorities?: Float64Array | Float32Array | readonly number[];
}
