import { DtypeError, OutOfRangeError, PrioritizedReplayBuffer, ReplayError, ShapeError, StateError } from 'replaykit';
import { CHI2_CRIT_001, checkRow, chiSquare, columns, idOf, transition } from './helpers';

type Opts = Partial<{ alpha: number; betaStart: number; betaEnd: number; betaFrames: number; epsilon: number; eviction: 'fifo' | 'lowest-priority'; seed: number }>;
const make = (capacity: number, opts: Opts = {}) =>
  new PrioritizedReplayBuffer({ capacity, obsShape: [4], actionShape: [], actionDtype: 'int32', seed: 1, ...opts });

/** Priorities of every stored item by id, read through top(). */
function prioritiesById(per: ReturnType<typeof make>): Map<number, number> {
  const t = per.top(per.length);
  const m = new Map<number, number>();
  for (let i = 0; i < per.length; i++) m.set(Math.round(t.reward[i] * 2), t.priorities[i]);
  return m;
}

describe('prioritized replay (Schaul et al. 2016, proportional)', () => {
  test('sample frequencies match P(i) = p^alpha / sum p^alpha (chi-square, fixed seed)', () => {
    const alpha = 0.6;
    const per = make(16, { alpha, seed: 11 });
    const p = [0.2, 1, 3, 0.5, 7, 2];
    per.pushBatch(columns(0, 6), { priorities: p });
    const z = p.reduce((s, x) => s + x ** alpha, 0);
    expect(per.totalPriority).toBeCloseTo(z, 12);
    const counts = new Array(6).fill(0);
    for (let r = 0; r < 4000; r++) {
      const b = per.sample(6);
      for (let i = 0; i < 6; i++) counts[r === 0 ? checkRow(b, i) : idOf(b, i)]++;
    }
    const probs = p.map((x) => x ** alpha / z);
    expect(chiSquare(counts, probs)).toBeLessThan(CHI2_CRIT_001[5]);
    // and the test has power: the same counts are far from plain p / sum p
    const s = p.reduce((a, b) => a + b, 0);
    expect(chiSquare(counts, p.map((x) => x / s))).toBeGreaterThan(1000);
  });

  test('importance-sampling weights equal (N P(i))^-beta / max_j (N P(j))^-beta within 1e-6', () => {
    const alpha = 0.7, beta = 0.5;
    const per = make(32, { alpha, betaStart: beta, betaEnd: beta, seed: 4 });
    const p = [0.3, 2, 5, 1, 0.7, 9, 0.05, 4];
    per.pushBatch(columns(0, 8), { priorities: p });
    const n = p.length;
    const z = p.reduce((s, x) => s + x ** alpha, 0);
    const w = (x: number) => (n * (x ** alpha / z)) ** -beta;
    const maxW = Math.max(...p.map(w));
    for (let r = 0; r < 50; r++) {
      const b = per.sample(8);
      for (let i = 0; i < 8; i++) {
        const id = checkRow(b, i);
        expect(Math.abs(b.weights[i] - w(p[id]) / maxW)).toBeLessThan(1e-6);
        expect(b.weights[i]).toBeGreaterThan(0);
        expect(b.weights[i]).toBeLessThanOrEqual(1);
      }
    }
  });

  test('beta anneals linearly from betaStart to betaEnd over betaFrames sample calls', () => {
    const per = make(16, { betaStart: 0.4, betaEnd: 1.0, betaFrames: 10, alpha: 1 });
    per.pushBatch(columns(0, 4), { priorities: [1, 2, 3, 4] });
    const seen: number[] = [];
    for (let k = 0; k < 13; k++) {
      seen.push(per.beta);
      const b = per.sample(4);
      const beta = 0.4 + 0.6 * Math.min(1, k / 10);
      for (let i = 0; i < 4; i++) {
        const id = checkRow(b, i); // priority id + 1; min p = 1, so w = (1 / p)^(alpha beta) with alpha = 1
        expect(Math.abs(b.weights[i] - (1 / (id + 1)) ** beta)).toBeLessThan(1e-6);
      }
    }
    expect(seen[0]).toBeCloseTo(0.4, 12);
    expect(seen[5]).toBeCloseTo(0.7, 12);
    expect(seen[10]).toBeCloseTo(1.0, 12);
    expect(seen[12]).toBeCloseTo(1.0, 12);
    // an explicit beta overrides one call and the schedule still advances
    const b = per.sample(4, { beta: 0 });
    expect(Array.from(b.weights)).toEqual([1, 1, 1, 1]);
  });

  test('new items get the largest priority seen so far (1 at first), or the one given', () => {
    const per = make(16, { epsilon: 0.5 });
    expect(per.maxPriority).toBe(1);
    const k0 = per.push(transition(0));
    expect(prioritiesById(per).get(0)).toBe(1);
    expect(per.updatePriorities([k0], [-6.5])).toBe(1);
    expect(prioritiesById(per).get(0)).toBe(7); // |delta| + epsilon
    expect(per.maxPriority).toBe(7);
    per.push(transition(1));
    per.push(transition(2), { priority: 2.5 });
    const m = prioritiesById(per);
    expect(m.get(1)).toBe(7);
    expect(m.get(2)).toBe(2.5);
    expect(per.minPriority).toBe(2.5);
    expect(per.totalPriority).toBeCloseTo(7 ** 0.6 * 2 + 2.5 ** 0.6, 12);
    per.clear();
    expect(per.maxPriority).toBe(1);
    expect(per.minPriority).toBe(Infinity);
    expect(per.totalPriority).toBe(0);
  });

  test('updatePriorities sets p = |delta| + epsilon from Float32Array, Float64Array and number[]', () => {
    const per = make(8, { epsilon: 1e-6 });
    const keys = Array.from({ length: 3 }, (_, id) => per.push(transition(id)));
    expect(per.updatePriorities(Float64Array.from(keys), Float32Array.from([0.5, -2, 0]))).toBe(3);
    let m = prioritiesById(per);
    expect(m.get(0)).toBeCloseTo(0.500001, 12);
    expect(m.get(1)).toBeCloseTo(2.000001, 12);
    expect(m.get(2)).toBe(1e-6);
    per.updatePriorities(keys, Float64Array.from([3, 3, 3]));
    m = prioritiesById(per);
    expect([...m.values()]).toEqual([3.000001, 3.000001, 3.000001]);
    // repeated index: the last value wins
    per.updatePriorities([keys[0], keys[0]], [10, 20]);
    expect(prioritiesById(per).get(0)).toBeCloseTo(20.000001, 12);
  });

  test('an update for an item overwritten since it was sampled is ignored, not applied to the newcomer', () => {
    const per = make(4, { alpha: 1 });
    per.pushBatch(columns(0, 4));
    const b = per.sample(4);
    per.pushBatch(columns(10, 2)); // ids 10, 11 replace ids 0, 1
    const deltas = Array.from(b.indices, () => 50);
    const expectedApplied = Array.from(b.indices).filter((k) => k >= 2).length;
    expect(per.updatePriorities(b.indices, deltas)).toBe(expectedApplied);
    const m = prioritiesById(per);
    expect(m.get(10)).toBe(1);
    expect(m.get(11)).toBe(1);
    for (let i = 0; i < 4; i++) if (b.indices[i] >= 2) expect(m.get(checkRow(b, i))).toBeCloseTo(50, 5);
  });

  test('bad updates throw and apply nothing', () => {
    const per = make(8);
    const keys = Array.from({ length: 4 }, (_, id) => per.push(transition(id)));
    const before = prioritiesById(per);
    expect(() => per.updatePriorities(keys, [1, 2, 3])).toThrow(ShapeError);
    expect(() => per.updatePriorities([keys[0], 1000], [1, 2])).toThrow(OutOfRangeError); // never handed out
    expect(() => per.updatePriorities([keys[0], -1], [1, 2])).toThrow(OutOfRangeError);
    expect(() => per.updatePriorities([keys[0], 1.5], [1, 2])).toThrow(OutOfRangeError);
    expect(() => per.updatePriorities([keys[0], keys[1]], [1, NaN])).toThrow(OutOfRangeError);
    expect(() => per.updatePriorities([keys[0], keys[1]], [1, Infinity])).toThrow(OutOfRangeError);
    expect(() => per.updatePriorities([keys[0], keys[1]], new Float32Array([1, -Infinity]))).toThrow(OutOfRangeError);
    expect(() => per.updatePriorities([keys[0]], ['1'] as never)).toThrow(DtypeError);
    expect(() => per.updatePriorities('0' as never, [1])).toThrow(DtypeError);
    expect(prioritiesById(per)).toEqual(before);
  });

  test('explicit priorities must be finite and > 0; a rejected batch stores none of its rows', () => {
    const per = make(8);
    per.pushBatch(columns(0, 2));
    for (const bad of [0, -1, NaN, Infinity]) {
      expect(() => per.push(transition(5), { priority: bad })).toThrow(OutOfRangeError);
      expect(() => per.pushBatch(columns(5, 3), { priorities: [1, bad, 2] })).toThrow(OutOfRangeError);
    }
    expect(() => per.pushBatch(columns(5, 3), { priorities: [1, 2] })).toThrow(ShapeError);
    expect(per.length).toBe(2);
    expect(per.maxPriority).toBe(1);
  });

  test("eviction 'lowest-priority' replaces the item of smallest priority", () => {
    const per = make(3, { eviction: 'lowest-priority', alpha: 1 });
    per.pushBatch(columns(0, 3), { priorities: [5, 1, 3] });
    per.push(transition(3), { priority: 4 });
    expect([...prioritiesById(per).entries()].sort((a, b) => a[0] - b[0])).toEqual([[0, 5], [2, 3], [3, 4]]);
    per.push(transition(4), { priority: 0.5 }); // replaces id 2 (3), the lowest present
    expect([...prioritiesById(per).keys()].sort()).toEqual([0, 3, 4]);
    per.push(transition(5)); // at max priority 5; replaces id 4 (0.5)
    expect([...prioritiesById(per).keys()].sort()).toEqual([0, 3, 5]);
    // the default FIFO replaces the oldest whatever its priority
    const fifo = make(3, { alpha: 1 });
    fifo.pushBatch(columns(0, 3), { priorities: [5, 1, 3] });
    fifo.push(transition(3), { priority: 4 });
    expect([...prioritiesById(fifo).keys()].sort()).toEqual([1, 2, 3]);
  });

  test('pushBatch equals a loop of push, for both evictions', () => {
    for (const eviction of ['fifo', 'lowest-priority'] as const) {
      const batched = make(5, { eviction, seed: 3 });
      const looped = make(5, { eviction, seed: 3 });
      const p = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5];
      batched.pushBatch(columns(0, p.length), { priorities: p });
      p.forEach((x, id) => looped.push(transition(id), { priority: x }));
      expect(prioritiesById(batched)).toEqual(prioritiesById(looped));
      expect(batched.maxPriority).toBe(looped.maxPriority);
      expect(batched.sample(5)).toEqual(looped.sample(5));
    }
  });

  test('top(k): highest priority first, no randomness, beta unchanged', () => {
    const per = make(8, { alpha: 0.5 });
    per.pushBatch(columns(0, 6), { priorities: [2, 9, 2, 0.5, 9, 1] });
    const beta = per.beta;
    const t = per.top(4);
    expect(Array.from(t.priorities)).toEqual([9, 9, 2, 2]);
    expect(Array.from(t.reward, (r) => r * 2)).toEqual([1, 4, 0, 2]);
    expect(t.indices).toHaveLength(4);
    expect((t as { weights?: unknown }).weights).toBeUndefined();
    expect(per.beta).toBe(beta);
    expect(per.top(0).priorities).toHaveLength(0);
    expect(() => per.top(7)).toThrow(OutOfRangeError);
    expect(() => per.top(-1)).toThrow(OutOfRangeError);
  });

  test('the same seed and pushes give the same batches and weights', () => {
    const run = (seed: number) => {
      const per = make(1000, { seed });
      per.pushBatch(columns(0, 700), { priorities: Array.from({ length: 700 }, (_, i) => 1 + (i % 13)) });
      const out = [per.sample(32), per.sample(32)];
      per.updatePriorities(out[0].indices, Array.from({ length: 32 }, (_, i) => i));
      out.push(per.sample(32));
      return out;
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)[0].indices).not.toEqual(run(6)[0].indices);
  });

  test('the first batch for a seed is pinned (bit-identical on every platform: integer draws, no libm pow)', () => {
    const per = make(64, { seed: 2024, alpha: 0.6 });
    per.pushBatch(columns(0, 50), { priorities: Array.from({ length: 50 }, (_, i) => 0.1 + ((i * 7) % 13)) });
    const b = per.sample(8);
    expect(Array.from(b.indices)).toEqual([1, 11, 16, 24, 29, 36, 44, 45]);
    expect(Array.from(b.weights)).toEqual([
      0.3594992458820343, 0.31632354855537415, 0.34830811619758606, 0.31632354855537415, 0.34830811619758606,
      0.38920924067497253, 0.33871158957481384, 0.4386046230792999,
    ]);
  });

  test('an item of tiny priority among huge ones is (almost surely) never drawn, and an empty slot never is', () => {
    const per = make(1024, { alpha: 1, seed: 2 });
    per.pushBatch(columns(0, 1000), { priorities: Array.from({ length: 1000 }, (_, i) => (i === 500 ? 1e-9 : 1e6)) });
    let drawn500 = 0;
    for (let r = 0; r < 200; r++) {
      const b = per.sample(64);
      for (let i = 0; i < 64; i++) {
        const id = r === 0 ? checkRow(b, i) : idOf(b, i);
        if (!(id < 1000 && b.indices[i] < 1000)) throw new Error(`drew an empty slot: id ${id}`);
        if (id === 500) drawn500++;
      }
    }
    expect(drawn500).toBe(0);
  });

  test('option validation', () => {
    expect(() => make(4, { alpha: -0.1 })).toThrow(OutOfRangeError);
    expect(() => make(4, { alpha: NaN })).toThrow(OutOfRangeError);
    expect(() => make(4, { epsilon: 0 })).toThrow(OutOfRangeError);
    expect(() => make(4, { betaFrames: 0 })).toThrow(OutOfRangeError);
    expect(() => make(4, { betaStart: -1 })).toThrow(OutOfRangeError);
    expect(() => make(4, { eviction: 'random' as never })).toThrow(OutOfRangeError);
    const per = make(4);
    per.push(transition(1));
    expect(() => per.sample(1, { beta: -1 })).toThrow(OutOfRangeError);
    expect(per.alpha).toBe(0.6);
    expect(per.epsilon).toBe(1e-6);
    expect(per.eviction).toBe('fifo');
  });

  test('calls after close throw StateError', () => {
    const per = make(4);
    per.push(transition(1));
    per.close();
    for (const call of [() => per.beta, () => per.totalPriority, () => per.maxPriority, () => per.minPriority, () => per.top(1), () => per.updatePriorities([0], [1]), () => per.sample(1), () => per.push(transition(2), { priority: 1 })])
      expect(call).toThrow(StateError);
  });

  test('junk arguments give ReplayErrors, never a crash', () => {
    const junk: unknown[] = [undefined, null, NaN, -1, 0, 1.5, 2 ** 60, 'x', {}, [], [1, 2], new Float32Array(3), new Float64Array([NaN]), true, { priority: -1 }, { priorities: 'x' }, { beta: NaN }, { out: [] }];
    const per = make(8);
    per.pushBatch(columns(0, 4));
    for (const a of junk)
      for (const b of junk)
        for (const call of [() => per.push(transition(9), a as never), () => per.pushBatch(columns(9, 1), a as never), () => per.sample(a as never, b as never), () => per.sample(2, a as never), () => per.updatePriorities(a as never, b as never), () => per.top(a as never)])
          try {
            call();
          } catch (e) {
            expect(e).toBeInstanceOf(ReplayError);
          }
  });
});
