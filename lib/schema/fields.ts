/**
 * Schema resolution: turning either form of buffer options into the validated list of
 * fields (names, dtypes, shapes, elements per row) that the rest of the facade uses.
 * @module
 */
import { AnyTypedArray, checkDtype, Dtype, DTYPES, describe } from './dtypes';
import { ShapeError } from '../errors';
import type { BufferOptions, FieldsSpec, TransitionOptions } from './types';
import { checkKeys, SHORTHAND_KEYS } from './options';
import { LIMITS } from '../native/addon';

/** A field as the facade uses it. @internal */
export interface ResolvedField {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Elements in one row: the product of `shape`. */
  readonly elems: number;
}

/**
 * Names a field cannot have: the batch's own arrays, and the names that reach an object's
 * prototype chain (a batch is a plain object: a field named `__proto__` would set its
 * prototype instead of an own array).
 */
const RESERVED = new Set(['indices', 'weights', 'priorities', '__proto__', 'constructor', 'prototype']);
const FIELD_SPEC_KEYS = ['shape', 'dtype', 'next'] as const;

function resolveShape(shape: unknown, where: string): number[] {
  if (!Array.isArray(shape)) throw new ShapeError(`${where}: shape must be an array of positive integers, got ${describe(shape)}`);
  if (shape.length > LIMITS.maxDims) throw new ShapeError(`${where}: shape has ${shape.length} dimensions; at most ${LIMITS.maxDims} are supported`);
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    // An index loop, not map: map skips the holes of a sparse array such as [, 4].
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > 2 ** 31)
      throw new ShapeError(`${where}: shape[${i}] must be a positive integer, got ${i in shape ? describe(d) : 'a hole (a sparse array)'}`);
    out.push(d);
  }
  return out;
}

/** The field specs either form of options describes, in schema order. */
function specsOf(options: BufferOptions): [string, unknown][] {
  const o = options as Partial<TransitionOptions<Dtype, Dtype, FieldsSpec>> & { fields?: unknown };
  const shorthand = SHORTHAND_KEYS.filter((k) => o[k] !== undefined);
  if (o.fields !== undefined) {
    if (shorthand.length)
      throw new ShapeError(`options give both \`fields\` (an explicit schema) and ${shorthand.map((k) => `\`${k}\``).join(', ')} (the shorthand); give one form`);
    if (typeof o.fields !== 'object' || o.fields === null) throw new ShapeError(`fields must be an object, got ${describe(o.fields)}`);
    return Object.entries(o.fields);
  }
  if (o.obsShape === undefined) throw new ShapeError('options need either `fields` (an explicit schema) or `obsShape` (the standard transition fields)');
  const obs = { shape: o.obsShape, dtype: o.obsDtype ?? 'float32' };
  const specs: [string, unknown][] = [
    ['obs', obs],
    ['action', { shape: o.actionShape ?? [], dtype: o.actionDtype ?? 'float32' }],
    ['reward', { shape: [], dtype: 'float32' }],
    ['nextObs', obs],
    ['terminated', { shape: [], dtype: 'bool' }],
    ['truncated', { shape: [], dtype: 'bool' }],
  ];
  if (o.extraFields !== undefined) {
    if (typeof o.extraFields !== 'object' || o.extraFields === null) throw new ShapeError(`extraFields must be an object, got ${describe(o.extraFields)}`);
    for (const [name, f] of Object.entries(o.extraFields)) {
      if (specs.some(([n]) => n === name)) throw new ShapeError(`extraFields: '${name}' is already a standard transition field`);
      specs.push([name, f]);
    }
  }
  return specs;
}

/**
 * Fields given `next: 'name'` (explicit schema) or `nextObsFromNext: true` (shorthand): the next
 * field is made (or, if declared, must be the same shape and dtype) and recorded in `nextOf`.
 */
function withNext(specs: [string, unknown][], options: BufferOptions, nextOf: Map<string, string>): [string, unknown][] {
  const o = options as { nextObsFromNext?: unknown; fields?: unknown };
  if (o.fields === undefined) {
    if (o.nextObsFromNext !== undefined && typeof o.nextObsFromNext !== 'boolean')
      throw new ShapeError(`nextObsFromNext must be a boolean, got ${describe(o.nextObsFromNext)}`);
    if (o.nextObsFromNext === true) nextOf.set('obs', 'nextObs');
    return specs;
  }
  const out: [string, unknown][] = [];
  for (const [name, f] of specs) {
    if (typeof f !== 'object' || f === null || !('next' in f)) {
      if (!out.some(([n]) => n === name)) out.push([name, f]);
      continue;
    }
    const { next, ...rest } = f as { next?: unknown; shape?: unknown; dtype?: unknown };
    if (typeof next !== 'string' || next.length === 0 || next === name)
      throw new ShapeError(`field '${name}': next must name another field (e.g. 'nextObs'), got ${describe(next)}`);
    out.push([name, rest]);
    const declared = specs.find(([n]) => n === next);
    if (declared) {
      const d = declared[1] as { shape?: unknown; dtype?: unknown; next?: unknown } | null;
      if (typeof d !== 'object' || d === null || d.dtype !== rest.dtype || JSON.stringify(d.shape) !== JSON.stringify(rest.shape) || d.next !== undefined)
        throw new ShapeError(`field '${next}' is '${name}''s next observation: it must have the same shape and dtype (or leave it out: \`next\` makes it)`);
    } else {
      out.push([next, rest]);
    }
    nextOf.set(name, next);
  }
  return out;
}

/**
 * Turns either form of options into the list of fields, validating names, dtypes, shapes and
 * the core's limits (field count, dimensions, name length), so that every buffer made can also
 * be saved and loaded. @internal
 */
export function resolveFields(options: BufferOptions, nextOf: Map<string, string> = new Map()): ResolvedField[] {
  if (typeof options !== 'object' || options === null) throw new ShapeError(`options must be an object, got ${describe(options)}`);
  const specs = withNext(specsOf(options), options, nextOf);
  if (specs.length === 0) throw new ShapeError('a schema needs at least one field');
  if (specs.length > LIMITS.maxFields) {
    const option = (options as { fields?: unknown }).fields !== undefined ? '`fields`' : '`extraFields` with the 6 standard fields';
    throw new ShapeError(`${option} make ${specs.length} fields; a buffer has at most ${LIMITS.maxFields}`);
  }
  return specs.map(([name, f]) => {
    if (RESERVED.has(name)) throw new ShapeError(`field name '${name}' is reserved (${name === 'indices' || name === 'weights' || name === 'priorities' ? 'batches carry it' : 'it would reach the prototype of batch objects'})`);
    if (Buffer.byteLength(name, 'utf8') > LIMITS.maxNameBytes) throw new ShapeError(`field name '${name.slice(0, 40)}...' is longer than ${LIMITS.maxNameBytes} bytes (UTF-8)`);
    if (typeof f !== 'object' || f === null) throw new ShapeError(`field '${name}': expected { shape, dtype }, got ${describe(f)}`);
    checkKeys(f, FIELD_SPEC_KEYS, `key of field '${name}'`, ShapeError);
    const spec = f as { shape?: unknown; dtype?: unknown };
    const dtype = checkDtype(spec.dtype, `field '${name}'`);
    const shape = resolveShape(spec.shape, `field '${name}'`);
    return Object.freeze({ name, dtype, shape: Object.freeze(shape), elems: shape.reduce((a, b) => a * b, 1) });
  });
}

/** A fresh typed array for `rows` rows of field `f`. @internal */
export function allocate(f: ResolvedField, rows: number): AnyTypedArray {
  return new DTYPES[f.dtype].ctor(rows * f.elems);
}
