/**
 * The buffers' random generator: pure-rand's xoroshiro128+, whose whole state is four
 * 32-bit integers that can be read and restored. The native core consumes its raw
 * 32-bit words (two per draw) with integer arithmetic, so draws are the same on every platform.
 * @module
 */
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { ShapeError } from './errors';
import { describe } from './dtypes';
import { checkInteger } from './schema';

type Generator = ReturnType<typeof xoroshiro128plus>;

/** A seeded stream of 32-bit words. */
export class WordStream {
  #rng: Generator;
  #words = new Uint32Array(0);

  /** @param seed any safe integer; its bits above 32 are folded into the low 32. */
  constructor(seed: number) {
    checkInteger(seed, 'seed', Number.MIN_SAFE_INTEGER);
    const high = Math.floor(seed / 2 ** 32);
    this.#rng = xoroshiro128plus((seed ^ Math.imul(high, 0x9e3779b1)) | 0);
  }

  /** The next `count` words, in a scratch array that the next call overwrites. */
  next(count: number): Uint32Array {
    if (this.#words.length < count) this.#words = new Uint32Array(Math.max(count, 2 * this.#words.length));
    const w = count === this.#words.length ? this.#words : this.#words.subarray(0, count);
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
    this.#rng = xoroshiro128plusFromState(state.map((x) => x | 0));
  }
}
