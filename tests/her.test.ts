/**
 * Hindsight relabelling (option `her`, issue #15) through the facade, against a deliberately
 * slow reference that knows only the list of pushed transitions, their env streams and which
 * of them the buffer still holds: which transitions may give each row its goal, per strategy.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DtypeError, OutOfRangeError, PrioritizedReplayBuffer, ReplayBuffer, ShapeError, StateError } from 'replaykit';
import type { HerOptions } from 'replaykit';
import { CHI2_CRIT_001, chiSquare } from './helpers';
import { rng } from './helpers';

type Strategy = 'future' | 'final' | 'episode';
interface Pushed {
  env: number;
  ends: boolean;
}

const GOALS = { goal: { shape: [2], dtype: 'float32' }, achievedGoal: { shape: [2], dtype: 'float32' }, nextAchievedGoal: { shape: [2], dtype: 'float32' } } as const;

/** A reward that names its inputs: 1000 * achieved[0] + desired[0], per row. */
const naming: HerOptions['computeReward'] = (a, d, n) => {
  const r = new Float32Array(n);
  for (let j = 0; j < n; j++) r[j] = 1000 * (a as Float32Array)[2 * j] + (d as Float32Array)[2 * j];
  return r;
};

function herOptions(strategy: Strategy, k = 4, computeReward: HerOptions['computeReward'] = naming): HerOptions {
  return { goal: 'goal', achievedGoal: 'achievedGoal', nextAchievedGoal: 'nextAchievedGoal', strategy, k, computeReward };
}

type Rb = ReplayBuffer | PrioritizedReplayBuffer;

/** Random batches of 3 interleaved envs: obs = [id, env], nextAchievedGoal = [id, 1000], goal = [-1, -1], reward = -id. */
function fill(rb: Rb, rows: Pushed[], r: () => number, pushes: number, maxRows = 10): void {
  for (let p = 0; p < pushes; p++) {
    const n = 1 + Math.floor(r() * maxRows);
    const env = new Uint32Array(n), reward = new Float32Array(n), term = new Uint8Array(n), trunc = new Uint8Array(n);
    const obs = new Float32Array(2 * n), goal = new Float32Array(2 * n).fill(-1), ach = new Float32Array(2 * n), next = new Float32Array(2 * n);
    for (let k = 0; k < n; k++) {
      const id = rows.length;
      const row = { env: Math.floor(r() * 3), ends: r() < 0.12 };
      rows.push(row);
      env[k] = row.env;
      reward[k] = -id;
      term[k] = row.ends && r() < 0.5 ? 1 : 0;
      trunc[k] = row.ends && !term[k] ? 1 : 0;
      obs.set([id, row.env], 2 * k);
      ach.set([id, 999], 2 * k);
      next.set([id, 1000], 2 * k);
    }
    rb.pushBatch({ obs, action: new Float32Array(n), reward, nextObs: obs, terminated: term, truncated: trunc, goal, achievedGoal: ach, nextAchievedGoal: next }, { env });
  }
}

function storedIds(rb: Rb): Set<number> {
  const all = rb.sampleAll() as unknown as { obs: Float32Array };
  const s = new Set<number>();
  for (let i = 0; i < all.obs.length; i += 2) s.add(all.obs[i]);
  return s;
}

/** The reference: the ids whose nextAchievedGoal may become row `id`'s goal. */
function eligible(rows: Pushed[], stored: Set<number>, id: number, strategy: Strategy): Set<number> {
  const next = (i: number) => {
    if (rows[i].ends) return -1;
    for (let k = i + 1; k < rows.length; k++) if (rows[k].env === rows[i].env) return stored.has(k) ? k : -1;
    return -1;
  };
  const prev = (i: number) => {
    for (let k = i - 1; k >= 0; k--) if (rows[k].env === rows[i].env) return stored.has(k) && !rows[k].ends ? k : -1;
    return -1;
  };
  const after = [id];
  for (let k = next(id); k >= 0; k = next(k)) after.push(k);
  if (strategy === 'final') return new Set([after[after.length - 1]]);
  const out = new Set(after);
  if (strategy === 'episode') for (let k = prev(id); k >= 0; k = prev(k)) out.add(k);
  return out;
}

interface HerBatch {
  obs: Float32Array;
  goal: Float32Array;
  nextAchievedGoal: Float32Array;
  reward: Float32Array;
  relabelled: Uint8Array;
  indices: Float64Array;
  weights?: Float32Array;
}

/** Checks a batch against the reference; returns how many rows were relabelled. */
function check(b: HerBatch, rows: Pushed[], stored: Set<number>, strategy: Strategy): number {
  let relabelled = 0;
  for (let i = 0; i < b.relabelled.length; i++) {
    const id = b.obs[2 * i];
    if (!b.relabelled[i]) {
      expect([b.goal[2 * i], b.goal[2 * i + 1]]).toEqual([-1, -1]);
      expect(b.reward[i]).toBe(-id);
      continue;
    }
    relabelled++;
    expect(b.goal[2 * i + 1]).toBe(1000);
    const from = b.goal[2 * i];
    if (!eligible(rows, stored, id, strategy).has(from)) throw new Error(`row ${i} (id ${id}): goal from ${from}, not eligible for '${strategy}'`);
    expect(b.reward[i]).toBe(1000 * b.nextAchievedGoal[2 * i] + from);
  }
  return relabelled;
}

const relabelledCount = (n: number, k: number) => Math.floor((n * k) / (k + 1));

describe('relabelled goals match the reference', () => {
  const cases: [Strategy, 'uniform' | 'prioritized' | 'lowest-priority', number][] = [];
  for (const s of ['future', 'final', 'episode'] as Strategy[])
    for (const kind of ['uniform', 'prioritized', 'lowest-priority'] as const) for (const cap of [37, 300]) cases.push([s, kind, cap]);
  test.each(cases)('%s, %s, capacity %d: interleaved envs, wrap-around, eviction gaps, clear', (strategy, kind, capacity) => {
    const opts = { capacity, seed: 7, obsShape: [2], extraFields: GOALS, her: herOptions(strategy) };
    const rb: Rb = kind === 'uniform' ? new ReplayBuffer(opts) : new PrioritizedReplayBuffer({ ...opts, eviction: kind === 'lowest-priority' ? 'lowest-priority' : 'fifo' });
    const rows: Pushed[] = [];
    const r = rng(capacity * 3 + strategy.length);
    for (let round = 0; round < 40; round++) {
      fill(rb, rows, r, 2);
      if (round === 20) rb.clear();
      if (rb.length === 0) continue;
      if (rb instanceof PrioritizedReplayBuffer && round % 3 === 0) {
        const s = rb.sample(Math.min(8, rb.length));
        rb.updatePriorities(s.indices, Float32Array.from(s.indices, () => r() * 5));
      }
      const stored = storedIds(rb);
      const n = Math.min(20, rb.length);
      const b = rb.sample(n) as unknown as HerBatch;
      expect(ArrayBuffer.isView(b.relabelled)).toBe(true);
      expect(check(b, rows, stored, strategy)).toBe(relabelledCount(n, 4));
    }
    rb.close();
  });
});

test('relabelled rows are a uniform subset of the batch (chi-square over row positions)', () => {
  const rb = new PrioritizedReplayBuffer({ capacity: 200, seed: 3, obsShape: [2], extraFields: GOALS, her: herOptions('future', 3) });
  fill(rb, [], rng(5), 20);
  const perRow = new Array(8).fill(0);
  for (let t = 0; t < 3000; t++) {
    const b = rb.sample(8) as unknown as HerBatch;
    let m = 0;
    for (let i = 0; i < 8; i++) {
      perRow[i] += b.relabelled[i];
      m += b.relabelled[i];
    }
    expect(m).toBe(6); // floor(8 * 3 / 4)
  }
  expect(chiSquare(perRow, new Array(8).fill(1 / 8))).toBeLessThan(24.322); // df 7, p = 0.001
});

test("'future' offsets are uniform over the row's own and later steps (chi-square)", () => {
  // One open episode of 10 steps in one env: a row at step t has 10 - t eligible goals.
  const rb = new ReplayBuffer({ capacity: 64, seed: 11, obsShape: [2], extraFields: GOALS, her: herOptions('future', 4) });
  const rows: Pushed[] = [];
  const n = 10;
  const obs = new Float32Array(2 * n), next = new Float32Array(2 * n);
  for (let k = 0; k < n; k++) {
    rows.push({ env: 0, ends: false });
    obs.set([k, 0], 2 * k);
    next.set([k, 1000], 2 * k);
  }
  rb.pushBatch({ obs, action: new Float32Array(n), reward: new Float32Array(n), nextObs: obs, terminated: new Uint8Array(n), truncated: new Uint8Array(n), goal: new Float32Array(2 * n), achievedGoal: next, nextAchievedGoal: next });
  const at0 = new Array(10).fill(0), at5 = new Array(5).fill(0);
  for (let t = 0; t < 4000; t++) {
    const b = rb.sample(10) as unknown as HerBatch;
    for (let i = 0; i < 10; i++) {
      if (!b.relabelled[i]) continue;
      const step = b.obs[2 * i], offset = b.goal[2 * i] - step;
      if (step === 0) at0[offset]++;
      if (step === 5) at5[offset]++;
    }
  }
  expect(chiSquare(at0, new Array(10).fill(1 / 10))).toBeLessThan(CHI2_CRIT_001[9]);
  expect(chiSquare(at5, new Array(5).fill(1 / 5))).toBeLessThan(CHI2_CRIT_001[4]);
  // Nothing before the row, nothing past the newest stored step.
  expect(at5.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
});

test('a relabelled row keeps its priority and importance-sampling weight; batches are a function of the seed', () => {
  const make = (her: boolean) => new PrioritizedReplayBuffer({ capacity: 100, seed: 21, obsShape: [2], extraFields: GOALS, episodes: true, ...(her && { her: herOptions('episode') }) });
  const a = make(true), b = make(false), c = make(true);
  for (const rb of [a, b, c]) fill(rb, [], rng(9), 12);
  // The first batch draws its items from the same first 2n words: the same items, the same weights.
  const x = a.sample(16) as unknown as HerBatch, y = b.sample(16) as unknown as HerBatch, z = c.sample(16) as unknown as HerBatch;
  expect(Array.from(x.indices)).toEqual(Array.from(y.indices));
  expect(Array.from(x.weights!)).toEqual(Array.from(y.weights!));
  expect(x.relabelled.reduce((s, v) => s + v, 0)).toBe(12);
  for (const key of ['goal', 'reward', 'relabelled', 'indices', 'weights'] as const) expect(Array.from(z[key]!)).toEqual(Array.from(x[key]!));
  for (const rb of [a, b, c]) rb.close();
});

test('sample with out, sampleAsync and batches() relabel as sample does (same words, same batches)', async () => {
  const rows: Pushed[] = [];
  const rb = new ReplayBuffer({ capacity: 120, seed: 4, obsShape: [2], extraFields: GOALS, her: herOptions('future') });
  fill(rb, rows, rng(2), 15);
  const stored = storedIds(rb);
  const state = rb.getRngState();
  const direct = [0, 1, 2].map(() => rb.sample(12) as unknown as HerBatch);
  rb.setRngState(state);
  const prefetched: HerBatch[] = [];
  for await (const batch of rb.batches({ batchSize: 12, prefetch: 2, count: 3 })) prefetched.push(batch as unknown as HerBatch);
  rb.setRngState(state);
  const asynced = (await rb.sampleAsync(12)) as unknown as HerBatch;
  rb.setRngState(state);
  const out = { relabelled: new Uint8Array(12) } as unknown as Parameters<typeof rb.sample>[1] & { out: object };
  const viaOut = rb.sample(12, { out } as never) as unknown as HerBatch;
  for (let t = 0; t < 3; t++) {
    check(prefetched[t], rows, stored, 'future');
    for (const key of ['obs', 'goal', 'reward', 'relabelled', 'indices'] as const) expect(Array.from(prefetched[t][key])).toEqual(Array.from(direct[t][key]));
  }
  for (const b of [asynced, viaOut]) for (const key of ['goal', 'reward', 'relabelled'] as const) expect(Array.from(b[key])).toEqual(Array.from(direct[0][key]));
  expect(viaOut.relabelled).toBe((out as unknown as { relabelled: Uint8Array }).relabelled);
  rb.close();
});

describe('errors', () => {
  const base = { capacity: 50, obsShape: [2], extraFields: GOALS };
  test('options: unknown fields, shapes, dtypes, nStep, episodes: false, k, strategy, computeReward', () => {
    expect(() => new ReplayBuffer({ ...base, her: { ...herOptions('future'), goal: 'nope' } })).toThrow(ShapeError);
    expect(() => new ReplayBuffer({ ...base, extraFields: { ...GOALS, goal: { shape: [3], dtype: 'float32' } }, her: herOptions('future') })).toThrow(ShapeError);
    expect(() => new ReplayBuffer({ ...base, extraFields: { ...GOALS, goal: { shape: [2], dtype: 'float64' } }, her: herOptions('future') })).toThrow(DtypeError);
    expect(() => new ReplayBuffer({ ...base, her: { ...herOptions('future'), achievedGoal: 'goal' } })).toThrow(ShapeError);
    expect(() => new ReplayBuffer({ ...base, her: herOptions('future'), nStep: { n: 3, gamma: 0.9 } })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, her: herOptions('future'), episodes: false })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, her: herOptions('future', -1) })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, her: herOptions('future', 1.5) })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, her: { ...herOptions('future'), strategy: 'random' as never } })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, her: { ...herOptions('future'), computeReward: 1 as never } })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, her: { ...herOptions('future'), extra: 1 } as never })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, nextObsFromNext: true, extraFields: { ...GOALS, achievedGoal: { shape: [4], dtype: 'float32' } }, her: { ...herOptions('future'), achievedGoal: 'nextObs' } })).toThrow(ShapeError);
  });
  test("computeReward's result: wrong type, wrong length, not finite, or a throw: a named error, nothing stored changed", () => {
    let result: unknown = null;
    const rb = new ReplayBuffer({ ...base, seed: 1, her: herOptions('future', 4, () => result as Float32Array) });
    fill(rb, [], rng(1), 6);
    const before = rb.sampleAll() as unknown as Record<string, Float32Array>;
    const attempts: [unknown, new (m: string) => Error][] = [
      [new Float64Array(8), DtypeError],
      [[0, 0, 0, 0, 0, 0, 0, 0], DtypeError],
      [Promise.resolve(new Float32Array(8)), DtypeError],
      [new Float32Array(7), ShapeError],
      [new Float32Array(8).fill(NaN), OutOfRangeError],
    ];
    for (const [r, cls] of attempts) {
      result = r;
      expect(() => rb.sample(10)).toThrow(cls);
    }
    const throwing = new ReplayBuffer({ ...base, seed: 1, her: herOptions('future', 4, () => { throw new RangeError('user'); }) });
    fill(throwing, [], rng(1), 6);
    expect(() => throwing.sample(10)).toThrow(RangeError);
    const reentrant = new ReplayBuffer({ ...base, seed: 1, her: herOptions('future', 4, () => { reentrant.sample(1); return new Float32Array(8); }) });
    fill(reentrant, [], rng(1), 6);
    expect(() => reentrant.sample(10)).toThrow(StateError);
    const after = rb.sampleAll() as unknown as Record<string, Float32Array>;
    for (const k of Object.keys(before)) expect(Array.from(after[k])).toEqual(Array.from(before[k]));
    result = new Float32Array(8);
    expect((rb.sample(10) as unknown as HerBatch).relabelled.reduce((s, v) => s + v, 0)).toBe(8);
    for (const b of [rb, throwing, reentrant]) b.close();
  });
  test('a batch with no relabelled row does not call computeReward (k = 0, or batch size 1 with k = 4)', () => {
    let calls = 0;
    const rb = new ReplayBuffer({ ...base, her: herOptions('future', 0, (a, d, n) => (calls++, new Float32Array(n))) });
    fill(rb, [], rng(1), 3);
    expect((rb.sample(rb.length) as unknown as HerBatch).relabelled.every((v) => v === 0)).toBe(true);
    const one = new ReplayBuffer({ ...base, her: herOptions('future', 4, (a, d, n) => (calls++, new Float32Array(n))) });
    fill(one, [], rng(1), 10);
    expect((one.sample(1) as unknown as HerBatch).relabelled[0]).toBe(0);
    expect(calls).toBe(0);
    expect((one.sample(5) as unknown as HerBatch).relabelled.reduce((s, v) => s + v, 0)).toBe(4);
    expect(calls).toBe(1);
    rb.close();
    one.close();
  });
});

test('archives: her is given to load again and applies to the loaded buffer', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-her-'));
  try {
    const rows: Pushed[] = [];
    const rb = new ReplayBuffer({ capacity: 80, seed: 5, obsShape: [2], extraFields: GOALS, her: herOptions('final') });
    fill(rb, rows, rng(8), 10);
    const file = path.join(dir, 'a.rkb');
    rb.saveSync(file);
    const want = rb.sample(16) as unknown as HerBatch;
    const loaded = ReplayBuffer.loadSync(file, { her: herOptions('final') });
    const got = loaded.sample(16) as unknown as HerBatch;
    for (const key of ['goal', 'reward', 'relabelled', 'indices'] as const) expect(Array.from(got[key])).toEqual(Array.from(want[key]));
    check(got, rows, storedIds(loaded), 'final');
    const plain = new ReplayBuffer({ capacity: 10, obsShape: [2], extraFields: GOALS });
    plain.push({ obs: [0, 0], action: 0, reward: 0, nextObs: [0, 0], terminated: false, truncated: false, goal: [0, 0], achievedGoal: [0, 0], nextAchievedGoal: [0, 0] });
    const plainFile = path.join(dir, 'b.rkb');
    plain.saveSync(plainFile);
    expect(() => ReplayBuffer.loadSync(plainFile, { her: herOptions('final') })).toThrow(/episode index/);
    for (const b of [rb, loaded, plain]) b.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
