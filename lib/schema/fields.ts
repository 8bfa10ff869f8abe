/**
 * Schema resolution: turning either form of buffer options into the validated list of
 * fields (names, dtypes, shapes, elements per row) that the rest of the facade uses.
 * @module
 */
import { AnyTypedArray, checkDtype, Dtype, DTYPES, describe } from './dtypes';
import { ShapeError } from '../errors';
import type { BufferOptions, FieldSpec, FieldsSpec, TransitionOptions } from './types';

/** A field as the facade uses it. @internal */
export interface ResolvedField {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Elements in one row: the product of `shape`. */
  readonly elems: number;
}

const RESERVED = new Set(['indices', 'weights', 'priorities']);

function resolveShape(shape: unknown, where: string): number[] {
  if (!Array.isArray(shape)) throw new ShapeError(`${where}: shape must be an array of positive integers, got ${describe(shape)}`);
  return shape.map((d, i) => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > 2 ** 31)
      throw new ShapeError(`${where}: shape[${i}] must be a positive integer, got ${describe(d)}`);
    return d;
  });
}

/** Turns either form of options into the list of fields, validating names, dtypes and shapes. @internal */
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

/** A fresh typed array for `rows` rows of field `f`. @internal */
export function allocate(f: ResolvedField, rows: number): AnyTypedArray {
  return new DTYPES[f.dtype].ctor(rows * f.elems);
}
