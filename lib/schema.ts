/**
 * Schemas: which fields a transition has, and their dtypes and shapes.
 * @module
 */
import { AnyTypedArray, checkDtype, Dtype, DTYPES, DtypeArrayMap, describe } from './dtypes';
import { OutOfRangeError, ShapeError } from './errors';

/** One field of a transition: its dtype and its shape (`[]` is a scalar). */
export interface FieldSpec<D extends Dtype = Dtype> {
  /** Dimensions of one row of this field, e.g. `[4, 84, 84]`; `[]` for a scalar. */
  readonly shape: readonly number[];
  /** Element type; sampled batches carry it as the matching typed array ({@link DtypeArrayMap}). */
  readonly dtype: D;
}

/** A schema: field name to {@link FieldSpec}. `indices`, `weights` and `priorities` are reserved names. */
export type FieldsSpec = { readonly [name: string]: FieldSpec };

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
}

/** Explicit-schema options: any fields, any dtypes, any shapes. */
export interface FieldsOptions<F extends FieldsSpec> extends CommonOptions {
  /** The schema; at least one field. */
  fields: F;
}

/** Options of either form. */
export type BufferOptions = TransitionOptions<Dtype, Dtype, FieldsSpec> | FieldsOptions<FieldsSpec>;

/** A sampled batch: each field as a fresh typed array of `batchSize * elements` values, row-major, plus `indices`. */
export type Batch<F extends FieldsSpec> = { -readonly [K in keyof F]: DtypeArrayMap[F[K]['dtype']] } & {
  /**
   * `Float64Array(batchSize)`: the key of each sampled item, an integer that names that item
   * for `updatePriorities` (stale once the item is overwritten).
   */
  indices: Float64Array;
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

/** A field as the facade uses it. */
export interface ResolvedField {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Elements in one row: the product of `shape`. */
  readonly elems: number;
}

const RESERVED = new Set(['indices', 'weights', 'priorities']);

/** Throws {@link OutOfRangeError} unless `v` is an integer in [min, max]. */
export function checkInteger(v: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new OutOfRangeError(`${what} must be an integer ${range}, got ${describe(v)}`);
  }
  return v;
}

/** Throws {@link OutOfRangeError} unless `v` is a finite number >= min (or > min when `open`). */
export function checkNumber(v: unknown, what: string, min: number, open = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (open && v === min))
    throw new OutOfRangeError(`${what} must be a finite number ${open ? '>' : '>='} ${min}, got ${describe(v)}`);
  return v;
}

function resolveShape(shape: unknown, where: string): number[] {
  if (!Array.isArray(shape)) throw new ShapeError(`${where}: shape must be an array of positive integers, got ${describe(shape)}`);
  return shape.map((d, i) => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > 2 ** 31)
      throw new ShapeError(`${where}: shape[${i}] must be a positive integer, got ${describe(d)}`);
    return d;
  });
}

/** Turns either form of options into the list of fields, validating names, dtypes and shapes. */
export function resolveFields(options: BufferOptions): ResolvedField[] {
  if (typeof options !== 'object' || options === null) throw new ShapeError(`options must be an object, got ${describe(options)}`);
  let spec: FieldsSpec;
  if ('fields' in options && options.fields !== undefined) {
    spec = options.fields;
    if (typeof spec !== 'object' || spec === null) throw new ShapeError(`fields must be an object, got ${describe(spec)}`);
  } else if ('obsShape' in options) {
    const o = options as TransitionOptions<Dtype, Dtype, FieldsSpec>;
    const obs = { shape: o.obsShape, dtype: o.obsDtype ?? 'float32' };
    const standard: Record<string, FieldSpec> = {
      obs,
      action: { shape: o.actionShape ?? [], dtype: o.actionDtype ?? 'float32' },
      reward: { shape: [], dtype: 'float32' },
      nextObs: obs,
      terminated: { shape: [], dtype: 'bool' },
      truncated: { shape: [], dtype: 'bool' },
    };
    for (const [name, f] of Object.entries(o.extraFields ?? {})) {
      if (name in standard) throw new ShapeError(`extraFields: '${name}' is already a standard transition field`);
      standard[name] = f;
    }
    spec = standard;
  } else {
    throw new ShapeError('options need either `fields` (an explicit schema) or `obsShape` (the standard transition fields)');
  }
  const names = Object.keys(spec);
  if (names.length === 0) throw new ShapeError('a schema needs at least one field');
  return names.map((name) => {
    if (RESERVED.has(name)) throw new ShapeError(`field name '${name}' is reserved (batches carry it)`);
    const f = spec[name];
    if (typeof f !== 'object' || f === null) throw new ShapeError(`field '${name}': expected { shape, dtype }, got ${describe(f)}`);
    const dtype = checkDtype(f.dtype, `field '${name}'`);
    const shape = resolveShape(f.shape, `field '${name}'`);
    return Object.freeze({ name, dtype, shape: Object.freeze(shape), elems: shape.reduce((a, b) => a * b, 1) });
  });
}

/** A fresh typed array for `rows` rows of field `f`. */
export function allocate(f: ResolvedField, rows: number): AnyTypedArray {
  return new DTYPES[f.dtype].ctor(rows * f.elems);
}
