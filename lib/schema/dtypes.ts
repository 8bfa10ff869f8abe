/**
 * Dtypes and the typed arrays that carry them: names, constructors, ranges, and telling a
 * typed array's type in any realm.
 * @module
 */
import { DtypeError } from '../errors';

/** The element types a field can have. `bool` is stored as one byte, 0 or 1. */
export type Dtype = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'bool';

/** The typed array that carries each dtype, in pushes and in sampled batches. */
export interface DtypeArrayMap {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

/** Any typed array replaykit reads or writes. */
export type AnyTypedArray = DtypeArrayMap[Dtype];

type TypedArrayCtor = { new (length: number): AnyTypedArray; readonly BYTES_PER_ELEMENT: number };

interface DtypeInfo {
  readonly ctor: TypedArrayCtor;
  readonly tag: string; // Object.prototype.toString tag of the array
  readonly min: number; // integer range (float: -Infinity..Infinity)
  readonly max: number;
  readonly integer: boolean;
}

/** Per-dtype facts (dtypes cross to the core by name). */
export const DTYPES: Readonly<Record<Dtype, DtypeInfo>> = {
  float32: { ctor: Float32Array, tag: 'Float32Array', min: -Infinity, max: Infinity, integer: false },
  float64: { ctor: Float64Array, tag: 'Float64Array', min: -Infinity, max: Infinity, integer: false },
  int32: { ctor: Int32Array, tag: 'Int32Array', min: -0x80000000, max: 0x7fffffff, integer: true },
  int64: { ctor: BigInt64Array, tag: 'BigInt64Array', min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, integer: true },
  uint8: { ctor: Uint8Array, tag: 'Uint8Array', min: 0, max: 255, integer: true },
  bool: { ctor: Uint8Array, tag: 'Uint8Array', min: 0, max: 1, integer: true },
};

/** Checks a dtype name, throwing {@link DtypeError} for anything else. */
export function checkDtype(d: unknown, where: string): Dtype {
  if (typeof d === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, d)) return d as Dtype;
  throw new DtypeError(`${where}: dtype must be one of ${Object.keys(DTYPES).join(', ')}, got ${describe(d)}`);
}

// This realm's typed-array prototypes and their names: the usual case answered without
// building the toString tag (which costs ~150 ns a call, several per sample).
const TAG_BY_PROTOTYPE = new Map<object, string>(
  [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array].map(
    (c) => [c.prototype, c.name],
  ),
);

/**
 * The `Object.prototype.toString` tag of a typed array ('Float32Array', ...), or
 * undefined for anything else. Realm-independent, unlike `instanceof`: an array from
 * another realm (a jest test file, a vm context, native code) is recognised by its tag.
 */
export function typedArrayTag(v: unknown): string | undefined {
  if (!ArrayBuffer.isView(v)) return undefined;
  const known = TAG_BY_PROTOTYPE.get(Object.getPrototypeOf(v) as object);
  if (known !== undefined) return known;
  const tag = Object.prototype.toString.call(v).slice(8, -1);
  return tag === 'DataView' ? undefined : tag;
}

/** A short description of a value for error messages: its type and, for arrays, length. */
export function describe(v: unknown): string {
  const tag = typedArrayTag(v);
  if (tag) return `${tag}(${(v as AnyTypedArray).length})`;
  if (Array.isArray(v)) return `Array(${v.length})`;
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === undefined) return 'undefined';
  return typeof v;
}
