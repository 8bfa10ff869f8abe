/**
 * Argument checks shared by every public call: integers and finite numbers in a range, with
 * messages that name the user's argument.
 * @module
 */
import { describe } from './dtypes';
import { OutOfRangeError } from '../errors';

/** Throws {@link OutOfRangeError} unless `v` is an integer in [min, max]. @internal */
export function checkInteger(v: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range =
      max !== Number.MAX_SAFE_INTEGER ? `in [${min}, ${max}]`
      : min === Number.MIN_SAFE_INTEGER ? `in [${min}, ${max}] (a safe integer)`
      : `>= ${min}`;
    throw new OutOfRangeError(`${what} must be an integer ${range}, got ${describe(v)}`);
  }
  return v;
}

/** Throws {@link OutOfRangeError} unless `v` is a finite number >= min (or > min when `open`). @internal */
export function checkNumber(v: unknown, what: string, min: number, open = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (open && v === min))
    throw new OutOfRangeError(`${what} must be a finite number ${open ? '>' : '>='} ${min}, got ${describe(v)}`);
  return v;
}
