/**
 * Episodes (issue #15): n-step returns through the facade, against a deliberately slow
 * reference that knows only the list of pushed transitions and their env streams.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArchiveError, OutOfRangeError, PrioritizedReplayBuffer, ReplayBuffer, ReplayWriter, ShapeError } from 'replaykit';
import { rng } from './helpers';

interface Pushed {
  env: number;
  reward: number;
  terminated: boolean;
  truncated: boolean;
}


/** The n-step item of pushed row `i` (all rows stored: capacity above the rows pushed). */
function reference(rows: Pushed[], i: number, n: number, gamma: number) {
  let sum = 0, power = 1, cur = i, m = 0;
  for (;;) {
    sum += power * rows[cur].reward;
    power *= gamma;
    m++;
    if (m === n || rows[cur].terminated || rows[cur].truncated) break;
    let next = cur + 1;
    while (next < rows.length && rows[next].env !== rows[cur].env) next++;
    if (next >= rows.length) break;
    cur = next;
  }
  return { reward: sum, last: cur, terminated: rows[cur].terminated, truncated: rows[cur].truncated, discount: rows[cur].terminated ? 0 : power };
}

function fill(rb: ReplayBuffer | PrioritizedReplayBuffer, rows: Pushed[], seed: number, pushes: number): void {
  const r = rng(seed);
  for (let p = 0; p < pushes; p++) {
    const n = 1 + Math.floor(r() * 12);
    const env = new Uint32Array(n), reward = new Float32Array(n), term = new Uint8Array(n), trunc = new Uint8Array(n);
    const obs = new Float32Array(n * 2), nextObs = new Float32Array(n * 2);
    for (let k = 0; k < n; k++) {
      const id = rows.length;
      const row = { env: Math.floor(r() * 3), reward: Math.round(r() * 20 - 10) / 4, terminated: r() < 0.1, truncated: false };
      row.truncated = !row.terminated && r() < 0.07;
      rows.push(row);
      env[k] = row.env;
      reward[k] = row.reward;
      term[k] = row.terminated ? 1 : 0;
      trunc[k] = row.truncated ? 1 : 0;
      obs.set([id, -id], 2 * k);
      nextObs.set([id + 0.5, -id - 0.5], 2 * k);
    }
    if (n === 1) rb.push({ obs: obs, action: 0, reward: reward[0], nextObs, terminated: term[0], truncated: trunc[0] }, { env: env[0] });
    else rb.pushBatch({ obs, action: new Float32Array(n), reward, nextObs, terminated: term, truncated: trunc }, { env });
  }
}

test.each([
  [1, 0.9],
  [3, 0.99],
  [5, 0.5],
  [64, 1],
])('n-step items (n = %i, gamma = %f) match the reference across interleaved env streams, uniform and prioritized', (n, gamma) => {
  const opts = { capacity: 2000, obsShape: [2], seed: 7, nStep: { n, gamma } };
  for (const make of [() => new ReplayBuffer(opts), () => new PrioritizedReplayBuffer(opts)]) {
    const rb: ReplayBuffer | PrioritizedReplayBuffer = make();
    const rows: Pushed[] = [];
    fill(rb, rows, n * 13 + 1, 120);
    for (let round = 0; round < 10; round++) {
      const b = rb.sample(64);
      expect(ArrayBuffer.isView(b.discount)).toBe(true);
      for (let i = 0; i < 64; i++) {
        const id = b.indices[i];
        expect(b.obs[2 * i]).toBe(id); // the item itself
        const e = reference(rows, id, n, gamma);
        expect(b.reward[i]).toBeCloseTo(e.reward, 4);
        expect(b.nextObs[2 * i]).toBe(e.last + 0.5);
        expect(b.terminated[i]).toBe(e.terminated ? 1 : 0);
        expect(b.truncated[i]).toBe(e.truncated ? 1 : 0);
        expect(b.discount![i]).toBeCloseTo(e.discount, 6);
      }
    }
    rb.close();
  }
});

test('epochs and indexed reads give n-step items too, with their discount', () => {
  for (const prioritized of [false, true]) {
    const opts = { capacity: 3000, obsShape: [2], seed: 4, nStep: { n: 3, gamma: 0.7 } };
    const rb: ReplayBuffer | PrioritizedReplayBuffer = prioritized ? new PrioritizedReplayBuffer(opts) : new ReplayBuffer(opts);
    const rows: Pushed[] = [];
    fill(rb, rows, 17, 60);
    type Items = { obs: ArrayLike<number>; reward: ArrayLike<number>; nextObs: ArrayLike<number>; terminated: ArrayLike<number>; discount?: Float32Array };
    const check = (batch: object, count: number) => {
      const b = batch as Items;
      expect(b.discount).toHaveLength(count);
      for (let i = 0; i < count; i++) {
        const e = reference(rows, b.obs[2 * i], 3, 0.7);
        expect(b.reward[i]).toBeCloseTo(e.reward, 4);
        expect(b.nextObs[2 * i]).toBe(e.last + 0.5);
        expect(b.terminated[i]).toBe(e.terminated ? 1 : 0);
        expect(b.discount![i]).toBeCloseTo(e.discount, 6);
      }
    };
    const all = rb.sampleAll();
    check(all, rows.length);
    const some = rb.sampleByIndex([0, 5, 17, rows.length - 1]);
    check(some, 4);
    let seen = 0;
    for (const batch of rb.epochs({ batchSize: 50, shuffle: true })) {
      check(batch, batch.indices.length);
      seen += batch.indices.length;
    }
    expect(seen).toBe(rows.length);
    rb.close();
  }
});

test('prefetched batches are n-step items too', async () => {
  const a = new ReplayBuffer({ capacity: 1000, obsShape: [2], seed: 3, nStep: { n: 3, gamma: 0.9 } });
  const b = new ReplayBuffer({ capacity: 1000, obsShape: [2], seed: 3, nStep: { n: 3, gamma: 0.9 } });
  fill(a, [], 5, 60);
  fill(b, [], 5, 60);
  for await (const batch of a.batches({ batchSize: 32, count: 3 })) expect(batch).toEqual(b.sample(32));
  a.close();
  b.close();
});

test('bad options and env ids are refused', () => {
  expect(() => new ReplayBuffer({ capacity: 10, obsShape: [2], nStep: { n: 0, gamma: 0.9 } })).toThrow(OutOfRangeError);
  expect(() => new ReplayBuffer({ capacity: 10, obsShape: [2], nStep: { n: 2, gamma: 1.5 } })).toThrow(/gamma/);
  expect(() => new ReplayBuffer({ capacity: 10, obsShape: [2], nStep: { n: 2 } as never })).toThrow(OutOfRangeError);
  expect(() => new ReplayBuffer({ capacity: 10, fields: { obs: { shape: [2], dtype: 'float32' } }, nStep: { n: 2, gamma: 0.9 } })).toThrow(ShapeError);
  const rb = new ReplayBuffer({ capacity: 10, obsShape: [2], nStep: { n: 2, gamma: 0.9 } });
  const t = { obs: [0, 0], action: 0, reward: 1, nextObs: [0, 0], terminated: false, truncated: false };
  expect(() => rb.push(t, { env: -1 })).toThrow(OutOfRangeError);
  expect(() => rb.push(t, { env: 2 ** 20 })).toThrow(OutOfRangeError);
  expect(() => rb.push(t, { priority: 1 } as never)).toThrow(/priority is for PrioritizedReplayBuffer/);
  expect(() => rb.pushBatch({ obs: new Float32Array(4), action: new Float32Array(2), reward: new Float32Array(2), nextObs: new Float32Array(4), terminated: new Uint8Array(2), truncated: new Uint8Array(2) }, { env: [1] })).toThrow(ShapeError);
  expect(rb.length).toBe(0);
  rb.push(t, { env: 3 });
  expect(rb.length).toBe(1);
  const plain = new ReplayBuffer({ capacity: 10, obsShape: [2] });
  expect(() => plain.push(t, { env: 1 })).toThrow(/nStep/);
  rb.close();
  plain.close();
});

test('env streams through a writer and pushAsync: each keeps its episodes', async () => {
  const rb = new ReplayBuffer({ capacity: 500, obsShape: [2], seed: 11, nStep: { n: 4, gamma: 0.5 } });
  const w = ReplayWriter.attach(rb.writerHandle());
  const rows: Pushed[] = [];
  const r = rng(99);
  for (let i = 0; i < 300; i++) {
    const env = i % 3;
    const row = { env, reward: Math.round(r() * 8), terminated: r() < 0.1, truncated: false };
    const id = rows.length;
    rows.push(row);
    const t = { obs: [id, -id], action: 0, reward: row.reward, nextObs: [id + 0.5, 0], terminated: row.terminated, truncated: false };
    if (env === 0) w.push(t, { env });
    else if (env === 1) await rb.pushAsync(t, { env });
    else rb.push(t, { env });
  }
  const b = rb.sample(128);
  for (let i = 0; i < 128; i++) {
    const e = reference(rows, b.indices[i], 4, 0.5);
    expect(b.reward[i]).toBeCloseTo(e.reward, 5);
    expect(b.nextObs[2 * i]).toBe(e.last + 0.5);
    expect(b.discount![i]).toBeCloseTo(e.discount, 6);
  }
  w.close();
  rb.close();
});

describe('archives keep the episode index: a loaded buffer resumes exactly', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-episodes-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const rowsOf = (b: ReplayBuffer | PrioritizedReplayBuffer) => b.sampleAll();

  for (const kind of ['uniform', 'prioritized'] as const) {
    for (const storage of [{ type: 'memory' }, { type: 'tiered', hotCapacity: 40 }] as const) {
      test(`${kind}, ${storage.type}: same n-step batches after load, and the open episodes go on`, async () => {
        const make = (seed: number) =>
          kind === 'uniform'
            ? new ReplayBuffer({ capacity: 150, obsShape: [2], seed, nStep: { n: 3, gamma: 0.8 }, storage: storage.type === 'tiered' ? { ...storage, path: path.join(dir, `t-${seed}-${Math.random()}.tier`) } : storage })
            : new PrioritizedReplayBuffer({ capacity: 150, obsShape: [2], seed, nStep: { n: 3, gamma: 0.8 }, alpha: 0.7, storage: storage.type === 'tiered' ? { ...storage, path: path.join(dir, `t-${seed}-${Math.random()}.tier`) } : storage });
        const a = make(5);
        const rows: Pushed[] = [];
        fill(a, rows, 77, 25); // wraps the ring
        const file = path.join(dir, `${kind}-${storage.type}.rkb`);
        await a.save(file);
        const b = kind === 'uniform' ? await ReplayBuffer.load(file) : await PrioritizedReplayBuffer.load(file);
        expect(b.length).toBe(a.length);
        expect(rowsOf(b)).toEqual(rowsOf(a));
        for (let i = 0; i < 5; i++) expect(b.sample(32)).toEqual(a.sample(32));
        // The same pushes into both: episodes open at the save continue in the loaded buffer.
        const ra: Pushed[] = [], rb: Pushed[] = [];
        fill(a, ra, 91, 6);
        fill(b, rb, 91, 6);
        for (let i = 0; i < 5; i++) expect(b.sample(32)).toEqual(a.sample(32));
        // Loading with other n-step options, or n-step options into an archive without them, is refused.
        await expect(ReplayBuffer.load(file, { nStep: { n: 2, gamma: 0.8 } } as never)).rejects.toThrow(ArchiveError);
        a.close();
        b.close();
      });
    }
  }

  test('an archive of a plain buffer refuses nStep at load; n-step items continue across a load at the episode boundary', async () => {
    const plain = new ReplayBuffer({ capacity: 20, obsShape: [2], seed: 1 });
    plain.push({ obs: [0, 0], action: 0, reward: 1, nextObs: [0, 0], terminated: false, truncated: false });
    const file = path.join(dir, 'plain.rkb');
    plain.saveSync(file);
    expect(() => ReplayBuffer.loadSync(file, { nStep: { n: 2, gamma: 0.9 } } as never)).toThrow(/nStep disagrees/);
    // The message shows both sides' values, not 'object' against 'object'.
    expect(() => ReplayBuffer.loadSync(file, { nStep: { n: 2, gamma: 0.9 } } as never)).toThrow(/the options give \{ n: 2, gamma: 0\.9 \}/);
    plain.close();
    // An episode still open at the save: its next step, pushed after the load, is its continuation.
    const rb = new ReplayBuffer({ capacity: 20, obsShape: [2], seed: 2, nStep: { n: 3, gamma: 0.5 } });
    rb.push({ obs: [0, 0], action: 0, reward: 1, nextObs: [1, 1], terminated: false, truncated: false }, { env: 4 });
    const f2 = path.join(dir, 'open.rkb');
    rb.saveSync(f2);
    rb.close();
    const back = ReplayBuffer.loadSync(f2);
    back.push({ obs: [1, 1], action: 0, reward: 2, nextObs: [2, 2], terminated: true, truncated: false }, { env: 4 });
    let batch = back.sample(2), first = -1;
    for (let tries = 0; first < 0 && tries < 50; tries++, batch = first < 0 ? back.sample(2) : batch)
      first = Array.from(batch.obs as Float32Array).findIndex((x, i) => i % 2 === 0 && x === 0) / 2;
    expect(first).toBeGreaterThanOrEqual(0);
    expect(batch.reward[first]).toBeCloseTo(1 + 0.5 * 2);
    expect(Array.from((batch.nextObs as Float32Array).subarray(2 * first, 2 * first + 2))).toEqual([2, 2]);
    expect(batch.discount![first]).toBe(0);
    back.close();
  });
});
