/**
 * Unit tests of schema resolution and option checks (lib/schema/): both forms of options
 * into fields, storage options, and the argument checks every call shares.
 */
import * as path from 'node:path';
import { DtypeError, OutOfRangeError, ShapeError } from 'replaykit';
import { allocate, resolveFields } from '../../lib/schema/fields';
import { expectError } from '../helpers';
import { resolveStorage } from '../../lib/schema/storage';
import { checkInteger, checkNumber } from '../../lib/schema/checks';
import { describe as describeValue, typedArrayTag } from '../../lib/schema/dtypes';
import type { BufferOptions } from '../../lib/schema/types';


const fieldsOf = (o: unknown) => resolveFields(o as BufferOptions).map((f) => [f.name, f.dtype, [...f.shape], f.elems]);

describe('resolveFields', () => {
  test('the shorthand gives the standard fields, in order, with their defaults, then the extra fields', () => {
    expect(fieldsOf({ capacity: 1, obsShape: [4] })).toEqual([
      ['obs', 'float32', [4], 4],
      ['action', 'float32', [], 1],
      ['reward', 'float32', [], 1],
      ['nextObs', 'float32', [4], 4],
      ['terminated', 'bool', [], 1],
      ['truncated', 'bool', [], 1],
    ]);
    const f = fieldsOf({ capacity: 1, obsShape: [2, 3], obsDtype: 'uint8', actionShape: [2], actionDtype: 'int32', extraFields: { logProb: { shape: [], dtype: 'float64' } } });
    expect(f[0]).toEqual(['obs', 'uint8', [2, 3], 6]);
    expect(f[1]).toEqual(['action', 'int32', [2], 2]);
    expect(f[3]).toEqual(['nextObs', 'uint8', [2, 3], 6]);
    expect(f[6]).toEqual(['logProb', 'float64', [], 1]);
    expectError(() => resolveFields({ capacity: 1, obsShape: [1], extraFields: { reward: { shape: [], dtype: 'float64' } } } as never), ShapeError, "extraFields: 'reward' is already a standard transition field");
  });

  test('an explicit schema keeps its order; fields and their shapes are frozen', () => {
    const f = resolveFields({ capacity: 1, fields: { b: { shape: [2, 2, 2], dtype: 'int64' }, a: { shape: [], dtype: 'bool' } } });
    expect(f.map((x) => [x.name, x.elems])).toEqual([['b', 8], ['a', 1]]);
    expect(Object.isFrozen(f[0])).toBe(true);
    expect(Object.isFrozen(f[0].shape)).toBe(true);
    const a = allocate(f[0], 3);
    expect(typedArrayTag(a)).toBe('BigInt64Array');
    expect(a.length).toBe(24);
  });

  test('bad options, names, dtypes and shapes are refused with the class and words of each', () => {
    expectError(() => resolveFields(null as never), ShapeError, 'options must be an object, got null');
    expect(() => resolveFields({ capacity: 1 } as never)).toThrow(ShapeError);
    expectError(() => resolveFields({ capacity: 1, fields: {} }), ShapeError, 'a schema needs at least one field');
    expectError(() => resolveFields({ capacity: 1, fields: 3 } as never), ShapeError, 'fields must be an object, got 3');
    for (const reserved of ['indices', 'weights', 'priorities'])
      expectError(() => resolveFields({ capacity: 1, fields: { [reserved]: { shape: [], dtype: 'float32' } } }), ShapeError, `field name '${reserved}' is reserved (batches carry it)`);
    expect(() => resolveFields({ capacity: 1, fields: { x: { shape: [], dtype: 'float16' } } } as never)).toThrow(DtypeError);
    expectError(() => resolveFields({ capacity: 1, fields: { x: null } } as never), ShapeError, "field 'x': expected { shape, dtype }, got null");
    expect(() => resolveFields({ capacity: 1, fields: { x: { shape: 4, dtype: 'float32' } } } as never)).toThrow(ShapeError);
    for (const d of [0, 1.5, -1, 2 ** 31 + 1, '4'])
      expectError(() => resolveFields({ capacity: 1, fields: { x: { shape: [2, d], dtype: 'float32' } } } as never), ShapeError, `field 'x': shape[1] must be a positive integer, got ${describeValue(d)}`);
  });
});

describe('resolveStorage', () => {
  test('memory by default; paths made absolute; tiered keeps hotCapacity', () => {
    expect(resolveStorage(undefined, 8)).toEqual({ type: 'memory' });
    expect(resolveStorage({ type: 'mmap', path: 'x.rkb' }, 8)).toEqual({ type: 'mmap', path: path.resolve('x.rkb') });
    expect(resolveStorage({ type: 'tiered', path: '/tmp/y.rkb', hotCapacity: 7 }, 8)).toEqual({ type: 'tiered', path: '/tmp/y.rkb', hotCapacity: 7 });
    expect(Object.isFrozen(resolveStorage({ type: 'memory' }, 8))).toBe(true);
  });

  test('bad storage options are OutOfRangeErrors', () => {
    expect(() => resolveStorage('memory', 8)).toThrow(OutOfRangeError);
    expectError(() => resolveStorage({ type: 'disk', path: 'a' }, 8), OutOfRangeError, `storage.type must be 'memory', 'mmap' or 'tiered', got "disk"`);
    expect(() => resolveStorage({ type: 'mmap', path: '' }, 8)).toThrow(OutOfRangeError);
    expect(() => resolveStorage({ type: 'mmap', path: 'a\0b' }, 8)).toThrow(OutOfRangeError);
    expectError(() => resolveStorage({ type: 'tiered', path: 'a', hotCapacity: 8 }, 8), OutOfRangeError, 'storage.hotCapacity must be less than capacity: capacity must exceed hotCapacity (capacity 8, hotCapacity 8)');
    expect(() => resolveStorage({ type: 'tiered', path: 'a', hotCapacity: 0 }, 8)).toThrow(OutOfRangeError);
  });
});

describe('argument checks', () => {
  test('checkInteger: integers in range, with the argument named', () => {
    expect(checkInteger(5, 'k', 0)).toBe(5);
    expectError(() => checkInteger(-1, 'k', 0), OutOfRangeError, 'k must be an integer >= 0, got -1');
    expectError(() => checkInteger(3, 'k', 0, 2), OutOfRangeError, 'k must be an integer in [0, 2], got 3');
    expect(() => checkInteger(1.5, 'k', 0)).toThrow(OutOfRangeError);
    expect(() => checkInteger('1', 'k', 0)).toThrow(OutOfRangeError);
    expect(() => checkInteger(NaN, 'k', 0)).toThrow(OutOfRangeError);
  });

  test('checkNumber: finite numbers, closed or open at the minimum', () => {
    expect(checkNumber(0, 'alpha', 0)).toBe(0);
    expectError(() => checkNumber(0, 'epsilon', 0, true), OutOfRangeError, 'epsilon must be a finite number > 0, got 0');
    expectError(() => checkNumber(Infinity, 'beta', 0), OutOfRangeError, 'beta must be a finite number >= 0, got Infinity');
    expect(() => checkNumber(-0.1, 'beta', 0)).toThrow(OutOfRangeError);
  });
});
