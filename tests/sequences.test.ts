/**
 * Sequences (`sampleSequences`, issue #15) through the facade, against a deliberately slow
 * reference that knows only the list of pushed transitions and their env streams.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DtypeError, OutOfRangeError, PrioritizedReplayBuffer, ReplayBuffer, ShapeError, StateError } from 'replaykit';
import { rng } from './helpers';

interface Pushed {
  env: number;
  terminated: boolean;
  truncated: boolean;
}


/** Pushes random batches of 4 interleaved envs; obs = [id, env], reward = id. */
function fill(rb: ReplayBuffer | PrioritizedReplayBuffer, rows: Pushed[], seed: number, pushes: number): void {
  const r = rng(seed);
  for (let p = 0; p < pushes; p++) {
    const n = 1 + Math.floor(r() * 10);
    const env = new Uint32Array(n), reward = new Float32Array(n), term = new Uint8Array(n), trunc = new Uint8Array(n);
    const obs = new Float32Array(n * 2);
    for (let k = 0; k < n; k++) {
      const id = rows.length;
      const row = { env: Math.floor(r() * 4), terminated: r() < 0.08, truncated: false };
      row.truncated = !row.terminated && r() < 0.05;
      rows.push(row);
      env[k] = row.env;
      reward[k] = id;
      term[k] = row.terminated ? 1 : 0;
      trunc[k] = row.truncated ? 1 : 0;
      obs.set([id, row.env], 2 * k);
    }
    rb.pushBatch({ obs, action: new Float32Array(n), reward, nextObs: obs, terminated: term, truncated: trunc }, { env });
  }
}

/** The ids of a window from `start` (-1: padding) and of its burn-in, as the reference walks them. */
function referenceWindow(rows: Pushed[], stored: Set<number>, start: number, length: number, burnIn: number, cross: boolean) {
  const ends = (i: number) => rows[i].terminated || rows[i].truncated;
  const next = (i: number) => {
    if (!cross && ends(i)) return -1;
    for (let k = i + 1; k < rows.length; k++) if (rows[k].env === rows[i].env) return stored.has(k) ? k : -1;
    return -1;
  };
  const prev = (i: number) => {
    for (let k = i - 1; k >= 0; k--) if (rows[k].env === rows[i].env) return stored.has(k) && (cross || !ends(k)) ? k : -1;
    return -1;
  };
  const steps: number[] = [];
  for (let j = 0, cur = start; j < length; j++) {
    if (j > 0 && cur >= 0) cur = next(cur);
    steps.push(cur);
  }
  const burn = new Array<number>(burnIn).fill(-1);
  for (let j = burnIn - 1, cur = start; j >= 0; j--) {
    if (cur >= 0) cur = prev(cur);
    burn[j] = cur;
  }
  return { steps, burn };
}

function stepInEpisode(rows: Pushed[], id: number): number {
  let step = 0;
  for (let k = id - 1; k >= 0; k--) {
    if (rows[k].env !== rows[id].env) continue;
    if (rows[k].terminated || rows[k].truncated) break;
    step++;
  }
  return step;
}

const shorthand = { obsShape: [2], seed: 5 } as const;

for (const kind of ['uniform', 'prioritized'] as const) {
  test(`${kind}: windows, masks, burn-in and strides match the reference (wrapped ring, interleaved envs)`, () => {
    const rb = kind === 'uniform' ? new ReplayBuffer({ ...shorthand, capacity: 120, episodes: true }) : new PrioritizedReplayBuffer({ ...shorthand, capacity: 120, episodes: true, alpha: 0.8 });
    const rows: Pushed[] = [];
    fill(rb, rows, 3, 60);
    const stored = new Set(Array.from(rb.sampleAll().reward));
    for (const crossEpisodes of [false, true]) {
      for (const pad of ['zero', 'none'] as const) {
        for (const stride of [1, 3]) {
          const length = pad === 'zero' ? 6 : 3, burnIn = 2, n = 12;
          const b = rb.sampleSequences(n, { length, stride, burnIn, crossEpisodes, pad });
          expect(b.obs).toHaveLength(n * length * 2);
          expect(b.mask).toHaveLength(n * length);
          expect(b.indices).toHaveLength(n);
          expect(b.burnIn!.obs).toHaveLength(n * burnIn * 2);
          expect(b.burnIn!.mask).toHaveLength(n * burnIn);
          if (kind === 'prioritized') expect(b.weights).toHaveLength(n);
          for (let i = 0; i < n; i++) {
            const start = b.reward[i * length];
            expect(stepInEpisode(rows, start) % stride).toBe(0);
            const w = referenceWindow(rows, stored, start, length, burnIn, crossEpisodes);
            if (pad === 'none') expect(w.steps[length - 1]).toBeGreaterThanOrEqual(0);
            for (let j = 0; j < length; j++) {
              expect(b.mask[i * length + j]).toBe(w.steps[j] >= 0 ? 1 : 0);
              expect(b.reward[i * length + j]).toBe(w.steps[j] >= 0 ? w.steps[j] : 0);
              expect(b.obs[(i * length + j) * 2]).toBe(w.steps[j] >= 0 ? w.steps[j] : 0);
            }
            for (let j = 0; j < burnIn; j++) {
              expect(b.burnIn!.mask[i * burnIn + j]).toBe(w.burn[j] >= 0 ? 1 : 0);
              expect(b.burnIn!.reward[i * burnIn + j]).toBe(w.burn[j] >= 0 ? w.burn[j] : 0);
            }
          }
        }
      }
    }
    rb.close();
  });
}

test('deterministic under the seed; updatePriorities on the starts moves where sequences start', () => {
  const a = new PrioritizedReplayBuffer({ ...shorthand, capacity: 200, episodes: true, alpha: 1 });
  const b = new PrioritizedReplayBuffer({ ...shorthand, capacity: 200, episodes: true, alpha: 1 });
  fill(a, [], 9, 20);
  fill(b, [], 9, 20);
  expect(a.sampleSequences(8, { length: 4 })).toEqual(b.sampleSequences(8, { length: 4 }));
  // Every start but one made nearly impossible: sequences start there.
  const all = a.sampleAll();
  const td = new Float64Array(all.indices.length).fill(1e-9);
  td[5] = 1000;
  a.updatePriorities(all.indices, td);
  const s = a.sampleSequences(32, { length: 2 });
  expect(Array.from(s.indices).filter((k) => k === all.indices[5]).length).toBeGreaterThan(28);
  a.close();
  b.close();
});

test('errors are named and change nothing', () => {
  const plain = new ReplayBuffer({ ...shorthand, capacity: 20 });
  plain.push({ obs: [0, 0], action: 0, reward: 0, nextObs: [0, 0], terminated: false, truncated: false });
  plain.push({ obs: [0, 0], action: 0, reward: 0, nextObs: [0, 0], terminated: false, truncated: false });
  expect(() => plain.sampleSequences(2, { length: 2 })).toThrow(StateError);
  const rb = new ReplayBuffer({ ...shorthand, capacity: 20, episodes: true });
  fill(rb, [], 1, 3);
  const before = rb.sampleAll();
  expect(() => rb.sampleSequences(0, { length: 2 })).toThrow(OutOfRangeError);
  expect(() => rb.sampleSequences(rb.length + 1, { length: 2 })).toThrow(OutOfRangeError);
  expect(() => rb.sampleSequences(2, { length: 0 })).toThrow(OutOfRangeError);
  expect(() => rb.sampleSequences(2, { length: 2, stride: 0 })).toThrow(OutOfRangeError);
  expect(() => rb.sampleSequences(2, { length: 2, pad: 'left' as never })).toThrow(OutOfRangeError);
  expect(() => rb.sampleSequences(2, { length: 2, beta: 0.5 } as never)).toThrow(OutOfRangeError); // uniform: no beta
  expect(() => rb.sampleSequences(2, { length: 2, lenght: 3 } as never)).toThrow(/lenght/);
  expect(() => rb.sampleSequences(2, { length: 10_000, pad: 'none' })).toThrow(/64 draws/);
  expect(() => new ReplayBuffer({ ...shorthand, capacity: 20, episodes: 'yes' as never })).toThrow(OutOfRangeError);
  expect(() => new ReplayBuffer({ capacity: 20, fields: { x: { shape: [1], dtype: 'float32' } }, episodes: true })).toThrow(/terminated/);
  expect(rb.sampleAll()).toEqual(before);
  rb.close();
  plain.close();
});

for (const kind of ['uniform', 'prioritized'] as const) {
  test(`${kind}: out reuses a batch's arrays: the values of a fresh call under the same seed, every array overwritten`, () => {
    const make = () => (kind === 'uniform' ? new ReplayBuffer({ ...shorthand, capacity: 120, episodes: true }) : new PrioritizedReplayBuffer({ ...shorthand, capacity: 120, episodes: true, alpha: 0.8 }));
    const fresh = make(), reused = make();
    fill(fresh, [], 3, 60);
    fill(reused, [], 3, 60);
    for (const burnIn of [0, 3]) {
      for (const pad of ['zero', 'none'] as const) {
        const options = { length: 4, burnIn, pad, crossEpisodes: pad === 'none' };
        // A first call into an empty object allocates every array and sets it on the object.
        const out = reused.sampleSequences(10, { ...options, out: {} });
        expect(out).toEqual(fresh.sampleSequences(10, options));
        const arrays = [out.obs, out.reward, out.mask, out.indices, out.weights, out.burnIn?.obs, out.burnIn?.mask];
        for (let call = 0; call < 4; call++) {
          // Stale values everywhere (padding included) must not survive the call.
          for (const a of arrays) a?.fill(7);
          const again = reused.sampleSequences(10, { ...options, out });
          expect(again).toBe(out);
          expect([again.obs, again.reward, again.mask, again.indices, again.weights, again.burnIn?.obs, again.burnIn?.mask]).toEqual(arrays);
          expect(again.obs).toBe(arrays[0]);
          expect(again).toEqual(fresh.sampleSequences(10, options));
        }
      }
    }
    fresh.close();
    reused.close();
  });
}

test('a wrong out is refused with a named error before anything is written, set or drawn', () => {
  const a = new PrioritizedReplayBuffer({ ...shorthand, capacity: 120, episodes: true, alpha: 0.8 });
  const b = new PrioritizedReplayBuffer({ ...shorthand, capacity: 120, episodes: true, alpha: 0.8 });
  fill(a, [], 3, 60);
  fill(b, [], 3, 60);
  const options = { length: 4, burnIn: 2 };
  const good = a.sampleSequences(5, options);
  expect(b.sampleSequences(5, options)).toEqual(good);
  const copy = (o: typeof good) => ({ obs: o.obs.slice(), reward: o.reward.slice(), mask: o.mask.slice(), indices: o.indices.slice(), weights: o.weights!.slice(), burnIn: { obs: o.burnIn!.obs.slice(), mask: o.burnIn!.mask.slice() } });
  const cases: [unknown, new (...args: never[]) => Error][] = [
    [{ ...copy(good), obs: new Float64Array(good.obs.length) }, DtypeError],
    [{ ...copy(good), reward: new Float32Array(good.reward.length + 1) }, ShapeError],
    [{ ...copy(good), mask: new Int8Array(good.mask.length) }, DtypeError],
    [{ ...copy(good), indices: new Float64Array(4) }, ShapeError],
    [{ ...copy(good), weights: new Float64Array(5) }, DtypeError],
    [{ ...copy(good), burnIn: 3 }, ShapeError],
    [{ ...copy(good), burnIn: { ...copy(good).burnIn, mask: new Uint8Array(11) } }, ShapeError],
    [{ ...copy(good), burnIn: { ...copy(good).burnIn, obs: [0, 1] } }, DtypeError],
    [5, ShapeError],
  ];
  for (const [out, error] of cases) {
    const before = typeof out === 'object' ? JSON.stringify(out, (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v)) : out;
    // Arrays missing from the wrong out (action, nextObs, ...) stay missing: none is set on it.
    expect(() => a.sampleSequences(5, { ...options, out: out as never })).toThrow(error);
    const after = typeof out === 'object' ? JSON.stringify(out, (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v)) : out;
    expect(after).toBe(before);
    if (typeof out === 'object') expect('action' in (out as object)).toBe(false);
  }
  // Nothing drawn either: both buffers go on with the same batches.
  expect(a.sampleSequences(5, options)).toEqual(b.sampleSequences(5, options));
  a.close();
  b.close();
});

test('a tiered buffer (rows found through their locations) gives the sequences of a memory buffer', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-seq-tier-'));
  try {
    const memory = new ReplayBuffer({ ...shorthand, capacity: 300, episodes: true });
    const tiered = new ReplayBuffer({ ...shorthand, capacity: 300, episodes: true, storage: { type: 'tiered', hotCapacity: 40, path: path.join(dir, 't.tier') } });
    fill(memory, [], 6, 80); // wraps the ring: cold rows recycled, items in both tiers
    fill(tiered, [], 6, 80);
    for (const options of [{ length: 7 }, { length: 5, burnIn: 3, pad: 'none' as const }, { length: 9, crossEpisodes: true, stride: 2 }]) {
      let out = tiered.sampleSequences(16, options);
      expect(out).toEqual(memory.sampleSequences(16, options));
      out = tiered.sampleSequences(16, { ...options, out });
      expect(out).toEqual(memory.sampleSequences(16, options));
    }
    memory.close();
    tiered.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an episodes: true buffer saves and loads its index: the same sequences after load', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-seq-'));
  try {
    const rb = new ReplayBuffer({ ...shorthand, capacity: 80, episodes: true });
    fill(rb, [], 4, 30);
    const file = path.join(dir, 's.rkb');
    await rb.save(file);
    const back = await ReplayBuffer.load(file);
    expect(back.sampleSequences(10, { length: 5, burnIn: 2, crossEpisodes: true })).toEqual(rb.sampleSequences(10, { length: 5, burnIn: 2, crossEpisodes: true }));
    expect(() => ReplayBuffer.loadSync(file, { episodes: false } as never)).toThrow(/episodes disagrees/);
    rb.close();
    back.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
