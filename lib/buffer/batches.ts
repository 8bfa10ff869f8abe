/**
 * Batch allocation and `out` handling: the object a read or a sample fills, with one typed
 * array per field plus `indices` (and `weights` when asked), either fresh (one ArrayBuffer
 * for the whole batch) or the caller's own arrays, checked. Also keeps the list of
 * destination arrays, in schema order, that the native read or sample writes into.
 * @module
 */
import { AnyTypedArray, DTYPES, Dtype, describe, typedArrayTag } from '../schema/dtypes';
import type { ResolvedField } from '../schema/fields';
import { DtypeError, ShapeError } from '../errors';

/** A batch as the facade builds it: field arrays by name, `indices`, maybe `weights`. @internal */
export type BatchObject = Record<string, AnyTypedArray> & { indices: Float64Array; weights?: Float32Array; discount?: Float32Array; relabelled?: Uint8Array };

/** Makes the batches of one schema. @internal */
export class Batches {
  readonly #fields: readonly ResolvedField[];
  /** Where the last `prepare` put each field (null: not read), as the native calls take them. */
  readonly outs: (AnyTypedArray | null)[];

  constructor(fields: readonly ResolvedField[]) {
    this.#fields = fields;
    this.outs = new Array<AnyTypedArray | null>(fields.length).fill(null);
  }

  /**
   * The batch object for `rows` rows, with an array per field (only those in `only`, when
   * given), `indices`, and `weights` when asked; `outs` lists the field arrays. With `out`,
   * its arrays are checked and missing ones allocated and set on it; otherwise one
   * ArrayBuffer holds the whole batch, each array a view of it (one allocation, not one per field).
   */
  prepare(rows: number, out: object | undefined, only: ReadonlySet<string> | null, withWeights: boolean, withDiscount = false, withRelabelled = false): BatchObject {
    if (out !== undefined && (typeof out !== 'object' || out === null)) throw new ShapeError(`out must be an object of typed arrays, got ${describe(out)}`);
    if (out === undefined) return this.#fresh(rows, only, withWeights, withDiscount, withRelabelled);
    const batch = out as Record<string, unknown>;
    for (let i = 0; i < this.#fields.length; i++) {
      const f = this.#fields[i];
      this.outs[i] = only && !only.has(f.name) ? null : outArray(batch, f.name, f.dtype, rows * f.elems)!;
    }
    outArray(batch, 'indices', 'float64', rows);
    if (withWeights) outArray(batch, 'weights', 'float32', rows);
    if (withDiscount) outArray(batch, 'discount', 'float32', rows);
    if (withRelabelled) outArray(batch, 'relabelled', 'uint8', rows);
    return batch as BatchObject;
  }

  /** The first `rows` rows of a fresh batch of every field, as exact-size copies. */
  truncate(batch: BatchObject, rows: number): BatchObject {
    const short: Record<string, AnyTypedArray> = {};
    for (const f of this.#fields) short[f.name] = batch[f.name].slice(0, rows * f.elems) as AnyTypedArray;
    short.indices = batch.indices.slice(0, rows);
    if (batch.discount) short.discount = batch.discount.slice(0, rows);
    return short as BatchObject;
  }

  /**
   * Where a fresh batch of `rows` rows puts each array, in bytes from the batch's start: each
   * field's (-1: not read), `indices`, `weights`, `discount` and `relabelled` (-1: absent), and the batch's
   * size. Fields come in schema order, each 8-aligned; the native prefetcher takes this
   * layout once and computes the arrays of every batch from it.
   */
  layout(rows: number, only: ReadonlySet<string> | null, withWeights: boolean, withDiscount: boolean, withRelabelled = false): BatchLayout {
    const fields: number[] = [];
    let bytes = 0;
    for (const f of this.#fields) {
      if (only && !only.has(f.name)) {
        fields.push(-1);
        continue;
      }
      bytes = align8(bytes);
      fields.push(bytes);
      bytes += rows * f.elems * DTYPES[f.dtype].ctor.BYTES_PER_ELEMENT;
    }
    const indices = align8(bytes);
    bytes = indices + 8 * rows;
    const weights = withWeights ? bytes : -1;
    if (withWeights) bytes += 4 * rows;
    const discount = withDiscount ? bytes : -1;
    if (withDiscount) bytes += 4 * rows;
    const relabelled = withRelabelled ? bytes : -1;
    if (withRelabelled) bytes += rows;
    return { rows, fields, indices, weights, discount, relabelled, bytes };
  }

  /** A fresh batch of `layout` (as {@link layout} made it), carved from `arena`. */
  carve(layout: BatchLayout, arena: BatchArena): BatchObject {
    const { buffer, offset } = arena.take(layout.bytes);
    return this.#views(layout, buffer, offset);
  }

  #fresh(rows: number, only: ReadonlySet<string> | null, withWeights: boolean, withDiscount: boolean, withRelabelled: boolean): BatchObject {
    const layout = this.layout(rows, only, withWeights, withDiscount, withRelabelled);
    return this.#views(layout, uninitialisedArrayBuffer(layout.bytes), 0);
  }

  /** The batch object of `layout` at `base` in `buffer` (its alignment gaps zeroed: the native call writes every other byte). */
  #views(layout: BatchLayout, buffer: ArrayBuffer, base: number): BatchObject {
    const { rows } = layout;
    const batch: Record<string, AnyTypedArray> = {};
    let end = 0; // where the last array ended
    let padding: Uint8Array | null = null;
    for (let i = 0; i < this.#fields.length; i++) {
      const at = layout.fields[i];
      if (at < 0) {
        this.outs[i] = null;
        continue;
      }
      const f = this.#fields[i];
      if (at !== end) (padding ??= new Uint8Array(buffer)).fill(0, base + end, base + at);
      const ctor = DTYPES[f.dtype].ctor as unknown as new (b: ArrayBuffer, o: number, n: number) => AnyTypedArray;
      const view = new ctor(buffer, base + at, rows * f.elems);
      batch[f.name] = view;
      this.outs[i] = view;
      end = at + view.byteLength;
    }
    if (end !== layout.indices) (padding ??= new Uint8Array(buffer)).fill(0, base + end, base + layout.indices);
    batch.indices = new Float64Array(buffer, base + layout.indices, rows);
    if (layout.weights >= 0) batch.weights = new Float32Array(buffer, base + layout.weights, rows);
    if (layout.discount >= 0) batch.discount = new Float32Array(buffer, base + layout.discount, rows);
    if (layout.relabelled >= 0) batch.relabelled = new Uint8Array(buffer, base + layout.relabelled, rows);
    return batch as BatchObject;
  }
}

/** Byte offsets of a fresh batch's arrays from its start (see {@link Batches.layout}). @internal */
export interface BatchLayout {
  readonly rows: number;
  /** Per field, in schema order: its offset, or -1 when not read. */
  readonly fields: readonly number[];
  readonly indices: number;
  /** -1: no weights. */
  readonly weights: number;
  /** -1: no discount. */
  readonly discount: number;
  /** -1: no relabelled (HER). */
  readonly relabelled: number;
  /** The batch's size in bytes. */
  readonly bytes: number;
}

/** Batches carved from one ArrayBuffer: at most this many a buffer, and ... */
const ARENA_BATCHES = 8;
/** ... at most this many bytes a buffer (a larger batch has one of its own). */
const ARENA_BYTES = 1 << 19;

/**
 * Memory for a run of fresh batches (a `batches()` iterator's): consecutive batches are
 * carved from one ArrayBuffer, up to {@link ARENA_BATCHES} of them and {@link ARENA_BYTES}.
 * Making an ArrayBuffer costs about 2 us here whatever its size (V8's backing-store
 * bookkeeping), a third of what the learner's thread spends a prefetched batch; the price
 * is that a batch's arrays share their ArrayBuffer with its neighbours (documented on
 * `batches()`: copy before transferring one). An ArrayBuffer is freed when none of its
 * batches is referenced any more. @internal
 */
export class BatchArena {
  #buffer: ArrayBuffer | null = null;
  #at = 0;

  /** `bytes` bytes (a multiple of 8 from an 8-aligned offset), uninitialised. */
  take(bytes: number): { buffer: ArrayBuffer; offset: number } {
    const size = align8(bytes);
    if (this.#buffer === null || this.#at + size > this.#buffer.byteLength) {
      const count = Math.max(1, Math.min(ARENA_BATCHES, Math.floor(ARENA_BYTES / size)));
      this.#buffer = uninitialisedArrayBuffer(count * size);
      this.#at = 0;
    }
    const offset = this.#at;
    this.#at += size;
    return { buffer: this.#buffer, offset };
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * An ArrayBuffer of `bytes` bytes whose contents are not zeroed first (Node's
 * `Buffer.allocUnsafeSlow`: its own ArrayBuffer, never a pooled one), for batches that the
 * native call overwrites entirely: zeroing 40 KB first would cost as much again as the
 * allocation. Falls back to `new ArrayBuffer` where that is not what it gives.
 */
function uninitialisedArrayBuffer(bytes: number): ArrayBuffer {
  const b = Buffer.allocUnsafeSlow(bytes);
  return b.byteOffset === 0 && b.buffer.byteLength === bytes ? (b.buffer as ArrayBuffer) : new ArrayBuffer(bytes);
}

/**
 * `batch[name]` if it is a typed array of `dtype` and `length`; a fresh one set on `batch` if
 * absent (with `create`; null without: a pass that only checks). A wrong one is a DtypeError
 * or ShapeError naming `${where}.${name}`. @internal
 */
export function outArray(batch: Record<string, unknown>, name: string, dtype: Dtype, length: number, where = 'out', create = true): AnyTypedArray | null {
  const a = batch[name];
  if (a === undefined) {
    if (!create) return null;
    const fresh = new DTYPES[dtype].ctor(length);
    batch[name] = fresh;
    return fresh;
  }
  const tag = typedArrayTag(a);
  if (tag !== DTYPES[dtype].tag) throw new DtypeError(`${where}.${name}: expected ${DTYPES[dtype].tag}, got ${describe(a)}`);
  if ((a as AnyTypedArray).length !== length) throw new ShapeError(`${where}.${name}: expected length ${length}, got ${(a as AnyTypedArray).length}`);
  return a as AnyTypedArray;
}
