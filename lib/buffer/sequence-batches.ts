/**
 * The arrays a `sampleSequences` call writes: fresh ones, or the caller's `out` (the batch of
 * an earlier call with the same batch size, length and burn-in, reused so that a learner's
 * loop allocates nothing a call), checked as `sample`'s `out` is.
 * @module
 */
import type { AnyTypedArray } from '../schema/dtypes';
import { describe } from '../schema/dtypes';
import type { ResolvedField } from '../schema/fields';
import { ShapeError } from '../errors';
import { BatchObject, Batches, outArray } from './batches';

/** A sequence batch as the facade builds it (lib/schema/types.ts' SequenceBatch). @internal */
export type SequenceBatchObject = BatchObject & { mask: Uint8Array; burnIn?: Record<string, AnyTypedArray> & { mask: Uint8Array } };

/** Makes the sequence batches of one schema. @internal */
export class SequenceBatches {
  readonly #fields: readonly ResolvedField[];
  readonly #batches: Batches;
  /** Where the last `prepare` put each field's steps and burn-in steps, as the native call takes them. */
  readonly outs: (AnyTypedArray | null)[];
  readonly burnOuts: (AnyTypedArray | null)[];

  constructor(fields: readonly ResolvedField[], batches: Batches) {
    this.#fields = fields;
    this.#batches = batches;
    this.outs = new Array<AnyTypedArray | null>(fields.length).fill(null);
    this.burnOuts = new Array<AnyTypedArray | null>(fields.length).fill(null);
  }

  /**
   * The batch for `n` sequences of `length` steps and `burnIn` steps before each: every field
   * `[n, length, ...shape]`, `mask`, `indices` and (`withWeights`) `weights` of n, and with a
   * burn-in `burnIn`'s fields and mask. With `out`, its arrays are checked, every one before
   * any missing one is allocated and set on it (a wrong one throws having changed nothing),
   * and `out` is returned.
   */
  prepare(n: number, length: number, burnIn: number, withWeights: boolean, out: unknown): SequenceBatchObject {
    if (out === undefined) return this.#fresh(n, length, burnIn, withWeights);
    if (typeof out !== 'object' || out === null) throw new ShapeError(`out must be an object of typed arrays, got ${describe(out)}`);
    const batch = out as Record<string, unknown>;
    let burn = burnIn > 0 ? batch.burnIn : undefined;
    if (burn !== undefined && (typeof burn !== 'object' || burn === null)) throw new ShapeError(`out.burnIn must be an object of typed arrays, got ${describe(burn)}`);
    this.#into(batch, burn as Record<string, unknown> | undefined, n, length, burnIn, withWeights, false);
    if (burnIn > 0 && burn === undefined) batch.burnIn = burn = {};
    this.#into(batch, burn as Record<string, unknown> | undefined, n, length, burnIn, withWeights, true);
    return batch as SequenceBatchObject;
  }

  /** Checks (create false) or takes, allocating what is missing (create true), out's arrays. */
  #into(batch: Record<string, unknown>, burn: Record<string, unknown> | undefined, n: number, length: number, burnIn: number, withWeights: boolean, create: boolean): void {
    for (let i = 0; i < this.#fields.length; i++) {
      const f = this.#fields[i];
      this.outs[i] = outArray(batch, f.name, f.dtype, n * length * f.elems, 'out', create);
      this.burnOuts[i] = burn === undefined ? null : outArray(burn, f.name, f.dtype, n * burnIn * f.elems, 'out.burnIn', create);
    }
    outArray(batch, 'mask', 'uint8', n * length, 'out', create);
    outArray(batch, 'indices', 'float64', n, 'out', create);
    if (withWeights) outArray(batch, 'weights', 'float32', n, 'out', create);
    if (burn !== undefined) outArray(burn, 'mask', 'uint8', n * burnIn, 'out.burnIn', create);
  }

  /** Fresh arrays: the fields' steps in one ArrayBuffer (Batches.prepare), the rest apart. */
  #fresh(n: number, length: number, burnIn: number, withWeights: boolean): SequenceBatchObject {
    const batch = this.#batches.prepare(n * length, undefined, null, false) as SequenceBatchObject;
    for (let i = 0; i < this.outs.length; i++) this.outs[i] = this.#batches.outs[i];
    batch.mask = new Uint8Array(n * length);
    batch.indices = new Float64Array(n);
    if (withWeights) batch.weights = new Float32Array(n);
    if (burnIn > 0) {
      const burn = this.#batches.prepare(n * burnIn, undefined, null, false) as Partial<BatchObject> & Record<string, AnyTypedArray>;
      delete burn.indices;
      for (let i = 0; i < this.burnOuts.length; i++) this.burnOuts[i] = this.#batches.outs[i];
      burn.mask = new Uint8Array(n * burnIn);
      batch.burnIn = burn as Record<string, AnyTypedArray> & { mask: Uint8Array };
    }
    return batch;
  }
}
