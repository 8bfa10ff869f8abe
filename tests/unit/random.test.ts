/**
 * Unit tests of the random generator (lib/buffer/random.ts) and of how the core turns its
 * words into draws, each checked against a reference written here from the published
 * algorithms: SplitMix64, pure-rand's xoroshiro128+ used directly, Lemire's multiply-shift,
 * 53-bit doubles, Fisher-Yates.
 */
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { PrioritizedReplayBuffer, ReplayBuffer, ShapeError, OutOfRangeError } from 'replaykit';
import { seedState, WordStream } from '../../lib/buffer/random';

const MASK64 = (1n << 64n) - 1n;

/** SplitMix64 (Steele, Lea, Flood 2014), written out independently of the library. */
function splitmix64(seed: bigint, count: number): bigint[] {
  let x = seed & MASK64;
  const out: bigint[] = [];
  for (let i = 0; i < count; i++) {
    x = (x + 0x9e3779b97f4a7c15n) & MASK64;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    out.push(z ^ (z >> 31n));
  }
  return out;
}

/** The first `count` words of pure-rand's xoroshiro128+ from the state a seed expands to, unsigned. */
function pureRandWords(seed: number, count: number): number[] {
  const rng = xoroshiro128plusFromState(seedState(seed));
  return Array.from({ length: count }, () => rng.next() >>> 0);
}

const word64 = (w: number[], i: number) => (BigInt(w[2 * i]) << 32n) | BigInt(w[2 * i + 1]);

describe('seedState', () => {
  test('is SplitMix64 of the seed, as four signed 32-bit halves, high first', () => {
    // The reference values of SplitMix64 seeded with 0.
    expect(splitmix64(0n, 2)).toEqual([0xe220a8397b1dcdafn, 0x6e789e6aa1b965f4n]);
    for (const seed of [0, 1, 2024, 2 ** 53 - 1, -1, -(2 ** 40)]) {
      const expected = splitmix64(BigInt(seed), 2).flatMap((z) => [Number(z >> 32n) | 0, Number(z & 0xffffffffn) | 0]);
      expect(seedState(seed)).toEqual(expected);
    }
  });
});

describe('WordStream', () => {
  test('gives pure-rand xoroshiro128+ words, in order, across changing counts', () => {
    const s = new WordStream(7);
    const got = [...s.next(3), ...s.next(5), ...s.next(1), ...s.next(5), ...s.next(64)];
    expect(got).toEqual(pureRandWords(7, 78));
  });

  test('negative seeds are their 64-bit two\'s complement', () => {
    expect(Array.from(new WordStream(-5).next(6))).toEqual(pureRandWords(-5, 6));
    expect(seedState(-5)).toEqual(splitmix64((1n << 64n) - 5n, 2).flatMap((z) => [Number(z >> 32n) | 0, Number(z & 0xffffffffn) | 0]));
  });

  test('next() returns a scratch array that the next call of the same count overwrites', () => {
    const s = new WordStream(3);
    const a = s.next(4);
    const first = Array.from(a);
    const b = s.next(4);
    expect(b).toBe(a);
    expect(Array.from(b)).not.toEqual(first);
  });

  test('getState and setState resume the exact stream', () => {
    const s = new WordStream(11);
    s.next(9);
    const state = s.getState();
    expect(state).toHaveLength(4);
    const after = Array.from(s.next(10));
    s.setState(state);
    expect(Array.from(s.next(10))).toEqual(after);
    const t = new WordStream(99);
    t.setState(state);
    expect(Array.from(t.next(10))).toEqual(after);
  });

  test('setState rejects anything but four 32-bit integers; a bad seed is refused', () => {
    const s = new WordStream(1);
    const before = s.getState();
    for (const bad of [[1, 2, 3], [1, 2, 3, 4, 5], [1, 2, 3, 1.5], [1, 2, 3, 2 ** 32], [1, 2, 3, -(2 ** 31) - 1], 'abcd', null])
      expect(() => s.setState(bad as never)).toThrow(ShapeError);
    expect(s.getState()).toEqual(before);
    expect(() => new WordStream(0.5)).toThrow(OutOfRangeError);
    expect(() => new WordStream(2 ** 53)).toThrow(OutOfRangeError);
  });
});

describe('words to draws (the core)', () => {
  const fields = { x: { shape: [], dtype: 'int32' } } as const;

  test('uniform: each draw is (w64 * length) >> 64, two words per draw', () => {
    for (const [seed, n] of [[1, 97], [123456, 1000], [-7, 3]] as const) {
      const rb = new ReplayBuffer({ capacity: n, seed, fields });
      rb.pushBatch({ x: Int32Array.from({ length: n }, (_, i) => i) });
      const draws = Math.min(n, 40);
      const w = pureRandWords(seed, 2 * draws);
      const expected = Array.from({ length: draws }, (_, i) => Number((word64(w, i) * BigInt(n)) >> 64n));
      expect(Array.from(rb.sample(draws).indices)).toEqual(expected);
      rb.close();
    }
  });

  test('prioritized: draw i falls at (i + u_i) / batchSize of the mass, u_i the top 53 bits of its words', () => {
    // Eight items of priority 1 and four draws: draw i is item floor((i + u_i) * 2).
    const per = new PrioritizedReplayBuffer({ capacity: 8, seed: 31, fields, alpha: 1 });
    per.pushBatch({ x: Int32Array.from({ length: 8 }, (_, i) => i) });
    const w = pureRandWords(31, 2 * 4);
    const expected = Array.from({ length: 4 }, (_, i) => {
      const u = Number(word64(w, i) >> 11n) * 2 ** -53;
      return Math.floor((i + u) * 2);
    });
    expect(Array.from(per.sample(4).indices)).toEqual(expected);
    per.close();
  });

  test('an epoch is a Fisher-Yates shuffle of the keys, oldest first, drawing j below i + 1 from i = n - 1 down', () => {
    const n = 25;
    const rb = new ReplayBuffer({ capacity: n, seed: 5, fields });
    rb.pushBatch({ x: Int32Array.from({ length: n }, (_, i) => i) });
    const w = pureRandWords(5, 2 * (n - 1));
    const keys = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1, d = 0; i >= 1; i--, d++) {
      const j = Number((word64(w, d) * BigInt(i + 1)) >> 64n);
      [keys[i], keys[j]] = [keys[j], keys[i]];
    }
    const [batch] = [...rb.epochs({ batchSize: n, epochs: 1 })];
    expect(Array.from(batch.indices)).toEqual(keys);
    rb.close();
  });
});
