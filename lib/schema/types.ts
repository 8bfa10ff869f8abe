/**
 * The public types of schemas and buffer options, and of what goes in and comes out:
 * transitions, columns, batches, sample options.
 * @module
 */
import type { Dtype, DtypeArrayMap } from './dtypes';
import type { StorageOptions } from './storage';
import type { NStepOptions } from './episodes';
import type { HerOptions } from './her';
import type { RateLimiterOptions } from './rate-limiter';
import type { FrameStackOptions } from './derived';

/** One field of a transition: its dtype and its shape (`[]` is a scalar). */
export interface FieldSpec<D extends Dtype = Dtype> {
  /** Dimensions of one row of this field, e.g. `[4, 84, 84]`; `[]` for a scalar. */
  readonly shape: readonly number[];
  /** Element type; sampled batches carry it as the matching typed array ({@link DtypeArrayMap}). */
  readonly dtype: D;
  /**
   * Store this observation once: the named field (e.g. `'nextObs'`, made with the same shape and
   * dtype if the schema leaves it out) is not stored but rebuilt at sample time from this field
   * of the next item of the same episode and environment stream; an episode's last item keeps
   * its own final next observation. Pushes still give it (checked for shape and dtype; its
   * values only with `validateNext`); batches come back exactly as without `next`. Needs
   * `terminated` and `truncated` bool scalars. One field of a schema. See also `frameStack`.
   */
  readonly next?: string;
}

/** A schema: field name to {@link FieldSpec}. `indices`, `weights` and `priorities` are reserved names. */
export type FieldsSpec = { readonly [name: string]: FieldSpec };

/**
 * A schema with the fields its `next` options make: `{ obs: { shape, dtype, next: 'nextObs' } }`
 * types `nextObs` too (same shape and dtype), in pushes and in batches.
 */
export type WithNext<F extends FieldsSpec> = F & {
  readonly [K in keyof F as F[K] extends { readonly next: infer N extends string } ? N : never]: FieldSpec<F[K]['dtype']>;
};

/**
 * The standard transition fields built by the shorthand options:
 * `obs` and `nextObs` of `obsShape`/`obsDtype`, `action` of `actionShape`/`actionDtype`,
 * `reward` float32, `terminated` and `truncated` bool, plus any `extraFields`.
 */
export type TransitionFields<O extends Dtype = 'float32', A extends Dtype = 'float32', X extends FieldsSpec = {}> = {
  readonly obs: FieldSpec<O>;
  readonly action: FieldSpec<A>;
  readonly reward: FieldSpec<'float32'>;
  readonly nextObs: FieldSpec<O>;
  readonly terminated: FieldSpec<'bool'>;
  readonly truncated: FieldSpec<'bool'>;
} & X;

/** Options every buffer takes. */
export interface CommonOptions {
  /** Where the transitions live; default `{ type: 'memory' }`. See {@link StorageOptions}. */
  storage?: StorageOptions;
  /** How many transitions the buffer holds; a positive integer. When full, the oldest is overwritten. */
  capacity: number;
  /**
   * Seed of the buffer's random generator (pure-rand's xoroshiro128+); any safe integer.
   * The same seed and the same pushes give the same batches on every platform. When
   * omitted, a random seed is drawn (readable afterwards as `buffer.seed`).
   */
  seed?: number;
  /**
   * A rate limiter between inserts and samples (Reverb's `MinSize` / `SampleToInsertRatio`):
   * `sampleAsync`, `pushAsync` and `pushBatchAsync` wait for its admission; `sample`, `push`
   * and `pushBatch` never wait and are only counted. See {@link RateLimiterOptions}. Default: none.
   */
  rateLimiter?: RateLimiterOptions;
  /**
   * n-step returns: sampled items come back as n-step items with a `discount` array; the
   * buffer keeps an index of episodes (per `env` stream of the pushes). See {@link NStepOptions}.
   * Default: none (one-step transitions).
   */
  nStep?: NStepOptions;
  /**
   * Hindsight experience replay (stable-baselines3's `HerReplayBuffer` semantics): a share
   * k / (k + 1) of each sampled batch gets goals achieved later in the same episode, rewards
   * from `computeReward`, and `batch.relabelled` says which rows. Implies the episode index;
   * not with `nStep`. See {@link HerOptions}. Default: none.
   */
  her?: HerOptions;
  /**
   * Keep the episode index without n-step returns: what `sampleSequences` reads (and pushes
   * take an `env`). Maintained as rows are pushed, O(1) a row (per stored item its episode,
   * step, env stream and links; about 37 bytes an item), from the `terminated` and `truncated`
   * fields (bool scalars). `nStep` implies it. Default: false.
   */
  episodes?: boolean;
  /**
   * Frame stacking, with the stacked field stored once (`next`): pushes give full stacks, only
   * each stack's newest frame is stored, and stacks are rebuilt at sample time with zeros before
   * an episode's first frame (Dopamine). See {@link FrameStackOptions}. Default: none.
   */
  frameStack?: FrameStackOptions;
  /**
   * Buffers with a `next` field: check that each pushed next observation of an item that does
   * not end its episode equals the next item's observation (OutOfRangeError naming the rows,
   * nothing stored). Default false: not checked (it costs a comparison of every row), the pushed
   * value is trusted, and batches give the next item's observation.
   */
  validateNext?: boolean;
}

/** Shorthand options: the standard transition fields from observation and action shapes. */
export interface TransitionOptions<O extends Dtype = 'float32', A extends Dtype = 'float32', X extends FieldsSpec = {}>
  extends CommonOptions {
  /** Shape of one observation, e.g. `[4]` or `[4, 84, 84]`. */
  obsShape: readonly number[];
  /** Dtype of `obs` and `nextObs`; default `'float32'`. */
  obsDtype?: O;
  /** Shape of one action; default `[]` (a scalar, e.g. a discrete action index). */
  actionShape?: readonly number[];
  /** Dtype of `action`; default `'float32'` (use `'int32'` for discrete actions). */
  actionDtype?: A;
  /** More fields stored beside the standard ones (e.g. `{ logProb: { shape: [], dtype: 'float32' } }`). */
  extraFields?: X;
  /** Store each observation once: `nextObs` is rebuilt from the next item's `obs` (the shorthand for `obs`'s `next: 'nextObs'`). Default false. */
  nextObsFromNext?: boolean;
}

/** Explicit-schema options: any fields, any dtypes, any shapes. */
export interface FieldsOptions<F extends FieldsSpec> extends CommonOptions {
  /** The schema; at least one field. */
  fields: F;
}

/** Options of either form. */
export type BufferOptions = TransitionOptions<Dtype, Dtype, FieldsSpec> | FieldsOptions<FieldsSpec>;

/**
 * A batch of sequences (`sampleSequences`): each field as a typed array of
 * `batchSize * length * elements` values, row-major `[batchSize, length, ...shape]`.
 */
export type SequenceBatch<F extends FieldsSpec> = { -readonly [K in keyof F]: DtypeArrayMap[F[K]['dtype']] } & {
  /** `Uint8Array(batchSize * length)`: 1 where a step is real, 0 where it is padding (every field zero there). */
  mask: Uint8Array;
  /** `Float64Array(batchSize)`: the key of each sequence's start item (for `updatePriorities`). */
  indices: Float64Array;
  /** Prioritized buffers: `Float32Array(batchSize)`, the importance-sampling weight of each sequence (its start's). */
  weights?: Float32Array;
  /**
   * With `burnIn: B`: the B steps before each sequence, oldest first, each field as
   * `[batchSize, B, ...shape]`, and their `mask` (`Uint8Array(batchSize * B)`, 0 where the
   * episode, or with `crossEpisodes` the stream, has no earlier stored item: padded at the front).
   */
  burnIn?: { -readonly [K in keyof F]: DtypeArrayMap[F[K]['dtype']] } & { mask: Uint8Array };
};

/** A sampled batch: each field as a fresh typed array of `batchSize * elements` values, row-major, plus `indices`. */
export type Batch<F extends FieldsSpec> = { -readonly [K in keyof F]: DtypeArrayMap[F[K]['dtype']] } & {
  /**
   * `Float64Array(batchSize)`: the key of each sampled item, an integer that names that item
   * for `updatePriorities` (stale once the item is overwritten).
   */
  indices: Float64Array;
  /** Buffers made with `nStep`: `Float32Array(batchSize)`, gamma^m of each item, 0 when it terminated. */
  discount?: Float32Array;
  /** Buffers made with `her`: `Uint8Array(batchSize)`, 1 where the row's goal and reward were relabelled. */
  relabelled?: Uint8Array;
};

/** What one field of a single transition may be given as in `push`. */
export type FieldValue<D extends Dtype> = D extends 'int64'
  ? bigint | number | BigInt64Array | ArrayLike<bigint | number>
  : D extends 'bool'
    ? boolean | number | Uint8Array | ArrayLike<boolean | number>
    : number | DtypeArrayMap[D] | ArrayLike<number>;

/** One transition for `push`: every field of the schema, no others. */
export type Transition<F extends FieldsSpec> = { readonly [K in keyof F]: FieldValue<F[K]['dtype']> };

/** What one field may be given as in `pushBatch`: `n * elements` values, row-major. */
export type ColumnValue<D extends Dtype> = D extends 'int64'
  ? BigInt64Array | ArrayLike<bigint | number>
  : D extends 'bool'
    ? Uint8Array | ArrayLike<boolean | number>
    : DtypeArrayMap[D] | ArrayLike<number>;

/** Columns for `pushBatch`: one array per field, all with the same number of rows. */
export type Columns<F extends FieldsSpec> = { readonly [K in keyof F]: ColumnValue<F[K]['dtype']> };

/** Options of `sample`. */
export interface SampleOptions<F extends FieldsSpec> {
  /**
   * Preallocated arrays to sample into (hot loops): any of the batch's arrays, each of
   * exactly the length `sample` would allocate. Missing ones are allocated and set on
   * this object, which is returned, so `b = rb.sample(n, { out: b })` allocates nothing
   * after the first call. Tensors made from these arrays without a copy (tfjs `tf.tensor`,
   * onnxruntime's `Tensor`) alias them: the next `sample` into the same `out` changes them.
   */
  out?: Partial<Batch<F>>;
}

/** Options of `push`. */
export interface PushOptions {
  /**
   * The environment stream of the transition (buffers made with `nStep`): an integer in
   * [0, 2^20). Vectorised environments interleave their episodes; each stream keeps its own
   * episode, so an n-step item never mixes two environments. Default 0.
   */
  env?: number;
}

/** Options of `pushBatch`. */
export interface PushBatchOptions {
  /** The environment stream of every row (a number), or of each row (one integer per row); see {@link PushOptions.env}. */
  env?: number | Uint32Array | readonly number[];
}
