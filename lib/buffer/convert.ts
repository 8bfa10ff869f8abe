/**
 * Turning user values (numbers, booleans, bigints, plain arrays, typed arrays) into the
 * typed arrays the core stores, with errors that say what was expected and what came.
 * @module
 */
import { AnyTypedArray, DTYPES, describe, typedArrayTag } from '../schema/dtypes';
import { DtypeError, OutOfRangeError, ShapeError } from '../errors';
import type { ResolvedField } from '../schema/fields';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** One element of field `f`, checked against the dtype's type and range. @internal */
export function element(f: ResolvedField, v: unknown, where: string): number | bigint {
  const d = f.dtype;
  if (d === 'int64') {
    if (typeof v === 'bigint') {
      if (v < INT64_MIN || v > INT64_MAX) throw new OutOfRangeError(`${where}: ${v} is outside int64`);
      return v;
    }
    if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
    throw new OutOfRangeError(`${where}: expected a bigint or a safe integer for int64, got ${describe(v)}`);
  }
  if (d === 'bool') {
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (v === 0 || v === 1) return v;
    throw new OutOfRangeError(`${where}: expected a boolean (or 0/1) for bool, got ${describe(v)}`);
  }
  if (typeof v !== 'number') throw new DtypeError(`${where}: expected a number for ${d}, got ${describe(v)}`);
  const info = DTYPES[d];
  if (info.integer && !(Number.isInteger(v) && v >= info.min && v <= info.max))
    throw new OutOfRangeError(`${where}: expected an integer in [${info.min}, ${info.max}] for ${d}, got ${describe(v)}`);
  return v;
}

function isArrayLike(v: unknown): v is ArrayLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as ArrayLike<unknown>).length === 'number';
}

/**
 * Field `f` of `rows` rows as a typed array of its dtype: a typed array of the right
 * type is returned as is (no copy); a plain array is converted element by element.
 * Throws DtypeError for a typed array of another type, ShapeError for a wrong length.
  * @internal
 */
export function column(f: ResolvedField, v: unknown, rows: number, where: string): AnyTypedArray {
  const want = rows * f.elems;
  const tag = typedArrayTag(v);
  const info = DTYPES[f.dtype];
  if (tag !== undefined) {
    if (tag !== info.tag)
      throw new DtypeError(`${where}: expected ${info.tag} for ${f.dtype}, got ${tag}`);
    const a = v as AnyTypedArray;
    if (a.length !== want) {
      if (a.length === 0) assertAttached(a, where);
      throw new ShapeError(`${where}: expected length ${want} (${shapeText(f, rows)}), got ${a.length}`);
    }
    if (f.dtype === 'bool') checkBools(a as Uint8Array, where);
    return a;
  }
  if (!isArrayLike(v) || typeof v === 'string')
    throw new DtypeError(`${where}: expected ${info.tag} or an array of ${want} values, got ${describe(v)}`);
  if (v.length !== want) throw new ShapeError(`${where}: expected length ${want} (${shapeText(f, rows)}), got ${v.length}`);
  const out = new info.ctor(want);
  for (let i = 0; i < want; i++) (out as { [i: number]: number | bigint })[i] = element(f, v[i], `${where}[${i}]`);
  return out;
}

/** Writes one row of field `f` (a scalar, a plain array or a typed array) into `dst`. @internal */
export function writeRow(f: ResolvedField, v: unknown, dst: AnyTypedArray, where: string): void {
  if (f.elems === 1 && (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')) {
    (dst as { [i: number]: number | bigint })[0] = element(f, v, where);
    return;
  }
  const tag = typedArrayTag(v);
  if (tag !== undefined && tag === DTYPES[f.dtype].tag && (v as AnyTypedArray).length === f.elems && f.dtype !== 'bool') {
    (dst as Float32Array).set(v as Float32Array);
    return;
  }
  (dst as Float32Array).set(column(f, v, 1, where) as Float32Array);
}

/**
 * The rows a column of field `f` holds: its length over the field's elements. ShapeError for
 * something that is not an array, a length that is not a count (a fake array-like of length
 * 2^40 or -2), a length that is not a whole number of rows, or a detached (transferred) array.
 * @internal
 */
export function rowCount(f: ResolvedField, v: unknown, where: string): number {
  if (!isArrayLike(v) || typeof v === 'string') throw new ShapeError(`${where}: expected an array of rows, got ${describe(v)}`);
  const n = v.length;
  if (!Number.isInteger(n) || n < 0 || n > MAX_COLUMN_LENGTH) throw new ShapeError(`${where}: a column's length must be an integer in [0, 2^32], got ${n}`);
  if (n === 0 && typedArrayTag(v) !== undefined) assertAttached(v as AnyTypedArray, where);
  if (n % f.elems !== 0) throw new ShapeError(`${where}: length must be a multiple of ${f.elems}, got ${describe(v)}`);
  return n / f.elems;
}

/** The longest column a push takes (a typed array's limit here). */
const MAX_COLUMN_LENGTH = 2 ** 32;

/** ShapeError for a typed array whose buffer was transferred away (detached: it reads as empty). */
function assertAttached(a: AnyTypedArray, where: string): void {
  try {
    a.buffer.slice(0, 0); // throws on a detached buffer
  } catch {
    throw new ShapeError(`${where}: the array's buffer was transferred (detached); it holds no data`);
  }
}

/** OutOfRangeError unless every byte of a bool column is 0 or 1 (as a plain array's values must be). */
function checkBools(a: Uint8Array, where: string): void {
  for (let i = 0; i < a.length; i++)
    if (a[i] > 1) throw new OutOfRangeError(`${where}[${i}]: expected 0 or 1 for bool, got ${a[i]}`);
}

function shapeText(f: ResolvedField, rows: number): string {
  return f.shape.length === 0 ? `${rows} rows` : `${rows} rows of [${f.shape.join(', ')}]`;
}

/**
 * Numbers as a Float64Array (a Float64Array as is; a Float32Array when `float32` is allowed,
 * or a plain array, converted) of `length` values (any length when -1). A non-number element
 * throws `elementError`; another type DtypeError; a wrong length ShapeError.
  * @internal
 */
export function float64(
  v: unknown,
  what: string,
  length: number,
  { float32 = true, elementError = DtypeError }: { float32?: boolean; elementError?: new (message: string) => Error } = {},
): Float64Array {
  const tag = typedArrayTag(v);
  let out: Float64Array;
  if (tag === 'Float64Array') out = v as Float64Array;
  else if ((float32 && tag === 'Float32Array') || Array.isArray(v)) {
    const src = v as ArrayLike<unknown>;
    out = new Float64Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const x = src[i];
      if (typeof x !== 'number') throw new elementError(`${what}[${i}]: expected a number, got ${describe(x)}`);
      out[i] = x;
    }
  } else throw new DtypeError(`${what}: expected a Float64Array${float32 ? ', Float32Array' : ''} or number[], got ${describe(v)}`);
  if (length >= 0 && out.length !== length) throw new ShapeError(`${what}: expected length ${length} (one per row), got ${out.length}`);
  return out;
}
