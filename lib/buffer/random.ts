/**
 * The buffers' random generator, a seeded stream of 32-bit words: pure-rand's xoroshiro128+,
 * whose whole state is four 32-bit integers that can be read and restored. The native core
 * consumes its raw words (two per draw) with integer arithmetic, so draws are the same on
 * every platform.
 * @module
 */
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { OutOfRangeError, ShapeError } from '../errors';
import { describe } from '../schema/dtypes';
import { checkInteger } from '../schema/checks';

type Generator = ReturnType<typeof xoroshiro128plusFromState>;

const MASK64 = (1n << 64n) - 1n;

/**
 * The 128-bit starting state for a seed, expanded by SplitMix64 as the xoroshiro
 * authors recommend (Vigna, "Further scramblings of Marsaglia's xorshift generators"):
 * the first words of a generator seeded directly with a small integer are far from random.
  * @internal
 */
export function seedState(seed: number): number[] {
  let x = BigInt(seed) & MASK64;
  const words: number[] = [];
  for (let i = 0; i < 2; i++) {
    x = (x + 0x9e3779b97f4a7c15n) & MASK64;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    z ^= z >> 31n;
    words.push(Number(z >> 32n) | 0, Number(z & 0xffffffffn) | 0);
  }
  return words; // never all zero: SplitMix64 is a bijection of distinct inputs
}

/** A seeded stream of 32-bit words. @internal */
export class WordStream {
  #rng: Generator;
  #words = new Uint32Array(0);
  #view = new Uint32Array(0); // the last count's view of #words, reused while the count repeats

  /** @param seed any safe integer (negative ones as their 64-bit two's complement). */
  constructor(seed: number) {
    checkInteger(seed, 'seed', Number.MIN_SAFE_INTEGER);
    this.#rng = xoroshiro128plusFromState(seedState(seed));
  }

  /** The next `count` words, in a scratch array that the next call overwrites. */
  next(count: number): Uint32Array {
    if (this.#view.length !== count) {
      // A new count (rare: batch sizes repeat): grow the scratch if needed and keep one view of it.
      if (this.#words.length < count) this.#words = new Uint32Array(Math.max(count, 2 * this.#words.length));
      this.#view = count === this.#words.length ? this.#words : this.#words.subarray(0, count);
    }
    const w = this.#view;
    const rng = this.#rng;
    for (let i = 0; i < count; i++) w[i] = rng.next();
    return w;
  }

  /** The generator's state: four 32-bit integers. */
  getState(): number[] {
    return [...this.#rng.getState()];
  }

  /** Restores a state returned by {@link getState}. Throws {@link ShapeError} for anything else. */
  setState(state: readonly number[]): void {
    if (!Array.isArray(state) || state.length !== 4 || !state.every((x) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 32))
      throw new ShapeError(`a generator state is four 32-bit integers, got ${describe(state)}`);
    // xoroshiro128+ never leaves the all-zero state: every draw would be 0 (item 0, always).
    if (state.every((x) => (x | 0) === 0)) throw new OutOfRangeError('a generator state of all zeros is not a state xoroshiro128+ can be in (every draw would be 0)');
    this.#rng = xoroshiro128plusFromState(state.map((x) => x | 0));
  }
}
