/**
 * Unit tests of input conversion (lib/buffer/convert.ts): single values, columns, rows and
 * number arrays, each dtype's accepted values and ranges, and the error class and message
 * for each kind of bad input.
 */
import * as vm from 'node:vm';
import { DtypeError, OutOfRangeError, ShapeError } from 'replaykit';
import { column, element, float64, writeRow } from '../../lib/buffer/convert';
import { expectError } from '../helpers';
import type { ResolvedField } from '../../lib/schema/fields';
import type { Dtype } from '../../lib/schema/dtypes';


const field = (dtype: Dtype, shape: number[] = []): ResolvedField => ({ name: 'f', dtype, shape, elems: shape.reduce((a, b) => a * b, 1) });

describe('element', () => {
  test('float fields take any number and nothing else', () => {
    expect(element(field('float32'), 1.5, 'w')).toBe(1.5);
    expect(element(field('float64'), -Infinity, 'w')).toBe(-Infinity);
    expect(Number.isNaN(element(field('float32'), NaN, 'w'))).toBe(true);
    expectError(() => element(field('float32'), '1', 'w'), DtypeError, 'w: expected a number for float32, got "1"');
    expect(() => element(field('float64'), 1n, 'w')).toThrow(DtypeError);
  });

  test('integer fields take integers within their range', () => {
    expect(element(field('int32'), -(2 ** 31), 'w')).toBe(-(2 ** 31));
    expect(element(field('int32'), 2 ** 31 - 1, 'w')).toBe(2 ** 31 - 1);
    expectError(() => element(field('int32'), 2 ** 31, 'w'), OutOfRangeError, `w: expected an integer in [-2147483648, 2147483647] for int32, got ${2 ** 31}`);
    expect(() => element(field('int32'), 1.5, 'w')).toThrow(OutOfRangeError);
    expect(element(field('uint8'), 255, 'w')).toBe(255);
    expect(() => element(field('uint8'), 256, 'w')).toThrow(OutOfRangeError);
    expect(() => element(field('uint8'), -1, 'w')).toThrow(OutOfRangeError);
  });

  test('int64 takes bigints within 64 bits and safe integers', () => {
    expect(element(field('int64'), 2n ** 63n - 1n, 'w')).toBe(2n ** 63n - 1n);
    expect(element(field('int64'), -(2n ** 63n), 'w')).toBe(-(2n ** 63n));
    expect(element(field('int64'), 42, 'w')).toBe(42n);
    expectError(() => element(field('int64'), 2n ** 63n, 'w'), OutOfRangeError, `w: ${2n ** 63n} is outside int64`);
    expect(() => element(field('int64'), 2 ** 53, 'w')).toThrow(OutOfRangeError);
    expect(() => element(field('int64'), 0.5, 'w')).toThrow(OutOfRangeError);
  });

  test('bool takes booleans and 0/1 as 0/1', () => {
    expect(element(field('bool'), true, 'w')).toBe(1);
    expect(element(field('bool'), false, 'w')).toBe(0);
    expect(element(field('bool'), 1, 'w')).toBe(1);
    expectError(() => element(field('bool'), 2, 'w'), OutOfRangeError, 'w: expected a boolean (or 0/1) for bool, got 2');
    expect(() => element(field('bool'), 'true', 'w')).toThrow(OutOfRangeError);
  });
});

describe('column', () => {
  test('a typed array of the dtype and length is taken as is, from any realm', () => {
    const f = field('float32', [2]);
    const a = new Float32Array(6);
    expect(column(f, a, 3, 'c')).toBe(a);
    const foreign = vm.runInNewContext('new Float32Array(6)') as Float32Array;
    expect(foreign instanceof Float32Array).toBe(false);
    expect(column(f, foreign, 3, 'c')).toBe(foreign);
    const done = new Uint8Array(3);
    expect(column(field('bool'), done, 3, 'c')).toBe(done);
  });

  test('a plain array is converted element by element', () => {
    const c = column(field('int32', [2]), [1, 2, 3, 4], 2, 'c') as Int32Array;
    expect(Object.prototype.toString.call(c)).toBe('[object Int32Array]');
    expect(Array.from(c)).toEqual([1, 2, 3, 4]);
    expect(Array.from(column(field('bool'), [true, 0, 1], 3, 'c') as Uint8Array)).toEqual([1, 0, 1]);
    expect(Array.from(column(field('int64'), [1n, 2], 2, 'c') as BigInt64Array)).toEqual([1n, 2n]);
  });

  test('wrong types and lengths are refused with what was expected', () => {
    const f = field('float32', [4]);
    expectError(() => column(f, new Float64Array(8), 2, 'c'), DtypeError, 'c: expected Float32Array for float32, got Float64Array');
    expectError(() => column(f, new Float32Array(7), 2, 'c'), ShapeError, 'c: expected length 8 (2 rows of [4]), got 7');
    expectError(() => column(field('float32'), [1, 2], 3, 'c'), ShapeError, 'c: expected length 3 (3 rows), got 2');
    expect(() => column(f, 'abcdefgh', 2, 'c')).toThrow(DtypeError);
    expectError(() => column(f, 5, 2, 'c'), DtypeError, 'c: expected Float32Array or an array of 8 values, got 5');
    expectError(() => column(field('int32'), [1, 'x'], 2, 'c'), DtypeError, 'c[1]: expected a number for int32, got "x"');
    expect(() => column(field('uint8'), [1, 300], 2, 'c')).toThrow(OutOfRangeError);
  });
});

describe('writeRow', () => {
  test('writes a scalar, a typed array or a plain array into the row', () => {
    const dst = new Float32Array(1);
    writeRow(field('float32'), 2.5, dst, 'r');
    expect(dst[0]).toBe(2.5);
    const v = new Float32Array(3);
    writeRow(field('float32', [3]), Float32Array.of(1, 2, 3), v, 'r');
    expect(Array.from(v)).toEqual([1, 2, 3]);
    writeRow(field('float32', [3]), [4, 5, 6], v, 'r');
    expect(Array.from(v)).toEqual([4, 5, 6]);
    const b = new Uint8Array(1);
    writeRow(field('bool'), true, b, 'r');
    expect(b[0]).toBe(1);
    const big = new BigInt64Array(1);
    writeRow(field('int64'), 7, big, 'r');
    expect(big[0]).toBe(7n);
  });

  test('a bad row leaves nothing half-written', () => {
    const v = Float32Array.of(9, 9, 9);
    expect(() => writeRow(field('float32', [3]), [1, 2, 'x'], v, 'r')).toThrow(DtypeError);
    expect(() => writeRow(field('float32', [3]), [1, 2], v, 'r')).toThrow(ShapeError);
    expect(() => writeRow(field('float32', [3]), 1, v, 'r')).toThrow(DtypeError);
    expect(Array.from(v)).toEqual([9, 9, 9]);
  });
});

describe('float64', () => {
  test('a Float64Array is taken as is; Float32Array and number[] are converted', () => {
    const a = Float64Array.of(1, 2);
    expect(float64(a, 'x', 2)).toBe(a);
    expect(Array.from(float64(Float32Array.of(0.5, 1), 'x', -1))).toEqual([0.5, 1]);
    expect(Array.from(float64([3, 4, 5], 'x', 3))).toEqual([3, 4, 5]);
  });

  test('options: no Float32Array, another error class for bad elements; lengths checked', () => {
    expectError(() => float64(new Float32Array(2), 'x', -1, { float32: false }), DtypeError, 'x: expected a Float64Array or number[], got Float32Array(2)');
    expectError(() => float64([1, '2'], 'x', -1), DtypeError, 'x[1]: expected a number, got "2"');
    expect(() => float64([1, null], 'x', -1, { elementError: OutOfRangeError })).toThrow(OutOfRangeError);
    expectError(() => float64([1, 2], 'x', 3), ShapeError, 'x: expected length 3 (one per row), got 2');
    expect(() => float64(new Int32Array(2), 'x', -1)).toThrow(DtypeError);
  });
});
