/**
 * Observations stored once (issue #16) through the facade: the same pushes into a plain buffer
 * (the reference: it stores every obs and nextObs) and into one with `next` / `frameStack`, the
 * same seed, equal batches; and the options' errors.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ArchiveError, openArchive, OutOfRangeError, PrioritizedReplayBuffer, ReplayBuffer, ReplayWriter, ShapeError } from 'replaykit';
import { bufferState } from '../lib/buffer/base';
import { rng } from './helpers';


const FRAME = 6; // [2, 3] uint8

/**
 * Episodes on `envs` interleaved streams; every frame a fresh id; stacks of F frames zero-padded
 * before an episode's first (the convention the buffer rebuilds), nextObs the next step's stack.
 */
function episodes(seed: number, F: number, envs: number, endP: number) {
  const r = rng(seed);
  const streams: number[][] = Array.from({ length: envs }, () => []);
  let id = 1;
  const frame = (v: number, out: Uint8Array, at: number) => {
    if (v === 0) return;
    out[at] = v & 255;
    out[at + 1] = (v >> 8) & 255;
    out[at + 2] = (v >> 16) & 255;
    out[at + 3] = v % 7;
    out[at + 4] = (v * 13) & 255;
    out[at + 5] = 1;
  };
  const stack = (ids: number[], newest: number, out: Uint8Array, at: number) => {
    for (let j = 0; j < F; j++) {
      const k = newest - (F - 1) + j;
      frame(k >= 0 ? ids[k] : 0, out, at + j * FRAME);
    }
  };
  return (n: number) => {
    const sb = F * FRAME;
    const cols = {
      obs: new Uint8Array(n * sb), action: new Int32Array(n), reward: new Float32Array(n), nextObs: new Uint8Array(n * sb),
      terminated: new Uint8Array(n), truncated: new Uint8Array(n),
    };
    const env = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const e = Math.floor(r() * envs);
      const s = streams[e];
      if (s.length === 0) s.push(id++);
      s.push(id++);
      stack(s, s.length - 2, cols.obs, i * sb);
      stack(s, s.length - 1, cols.nextObs, i * sb);
      const ends = r() < endP;
      const term = ends && r() < 0.5;
      cols.terminated[i] = term ? 1 : 0;
      cols.truncated[i] = ends && !term ? 1 : 0;
      cols.action[i] = Math.floor(r() * 5);
      cols.reward[i] = Math.floor(r() * 9) - 4;
      env[i] = e;
      if (ends) s.length = 0;
    }
    return { cols, env };
  };
}

function fields(F: number, next: boolean) {
  const shape = F > 1 ? [F, 2, 3] : [2, 3];
  return {
    obs: next ? { shape, dtype: 'uint8' as const, next: 'nextObs' } : { shape, dtype: 'uint8' as const },
    action: { shape: [], dtype: 'int32' as const },
    reward: { shape: [], dtype: 'float32' as const },
    nextObs: { shape, dtype: 'uint8' as const },
    terminated: { shape: [], dtype: 'bool' as const },
    truncated: { shape: [], dtype: 'bool' as const },
  };
}

function expectSameBatches(a: Record<string, unknown>, b: Record<string, unknown>) {
  expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
  for (const k of Object.keys(a)) expect(Array.from(b[k] as ArrayLike<number>)).toEqual(Array.from(a[k] as ArrayLike<number>));
}

describe('observations stored once', () => {
  for (const F of [1, 4]) {
    test(`uniform, F=${F}: batches, reads by position and epochs equal the plain buffer's across wrap-around and clear`, () => {
      const make = (next: boolean) =>
        new ReplayBuffer({ capacity: 40, seed: 3, fields: fields(F, next), ...(next && F > 1 ? { frameStack: { field: 'obs', frames: F } } : {}) });
      const plain = make(false), dedup = make(true);
      const src = episodes(11 + F, F, 3, 0.1);
      const r = rng(5);
      for (let round = 0; round < 50; round++) {
        const n = 1 + Math.floor(r() * (round % 10 === 9 ? 90 : 6));
        const { cols, env } = src(n);
        plain.pushBatch(cols);
        dedup.pushBatch(cols, { env });
        if (round === 25) {
          plain.clear();
          dedup.clear();
        }
        const k = Math.min(8, plain.length);
        if (k > 0) expectSameBatches(plain.sample(k), dedup.sample(k));
      }
      const all = Array.from({ length: plain.length }, (_, i) => i);
      expectSameBatches(plain.sampleByIndex(all), dedup.sampleByIndex(all));
      const ep = (b: typeof plain | typeof dedup) => Array.from(b.epochs({ batchSize: 7, shuffle: true }), (x) => [Array.from(x.obs), Array.from(x.nextObs)]);
      expect(ep(dedup)).toEqual(ep(plain));
      plain.close();
      dedup.close();
    });
  }

  test('prioritized with lowest-priority eviction and n-step: the same batches and weights', () => {
    const make = (next: boolean) =>
      new PrioritizedReplayBuffer({
        capacity: 30, seed: 9, fields: fields(4, next), eviction: 'lowest-priority', nStep: { n: 3, gamma: 0.9 },
        ...(next ? { frameStack: { field: 'obs', frames: 4 } } : {}),
      });
    const plain = make(false), dedup = make(true);
    const src = episodes(2, 4, 2, 0.08);
    const r = rng(17);
    for (let round = 0; round < 60; round++) {
      const n = 1 + Math.floor(r() * 5);
      const { cols, env } = src(n);
      const priorities = Array.from({ length: n }, () => 0.1 + r() * 5);
      plain.pushBatch(cols, { priorities, env });
      dedup.pushBatch(cols, { priorities, env });
      const a = plain.sample(Math.min(6, plain.length));
      const b = dedup.sample(Math.min(6, dedup.length));
      expectSameBatches(a, b);
      const td = Array.from({ length: a.indices.length }, () => r() * 3);
      plain.updatePriorities(a.indices, td);
      dedup.updatePriorities(b.indices, td);
    }
    plain.close();
    dedup.close();
  });

  test('tiered and mmap storage: the same batches as memory storage', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-derived-'));
    try {
      for (const type of ['tiered', 'mmap'] as const) {
        const storage = type === 'tiered' ? { type, hotCapacity: 7, path: path.join(dir, 't.rkb') } : { type, path: path.join(dir, 'm.rkb') };
        const plain = new ReplayBuffer({ capacity: 25, seed: 1, fields: fields(4, false) });
        const dedup = new ReplayBuffer({ capacity: 25, seed: 1, fields: fields(4, true), frameStack: { field: 'obs', frames: 4 }, storage });
        const src = episodes(4, 4, 2, 0.1);
        for (let round = 0; round < 30; round++) {
          const { cols, env } = src(1 + (round % 4));
          plain.pushBatch(cols);
          dedup.pushBatch(cols, { env });
          expectSameBatches(plain.sample(Math.min(5, plain.length)), dedup.sample(Math.min(5, dedup.length)));
        }
        plain.close();
        dedup.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the shorthand nextObsFromNext stores obs once; push takes and checks nextObs', () => {
    const plain = new ReplayBuffer({ capacity: 10, seed: 2, obsShape: [3], actionDtype: 'int32' });
    const dedup = new ReplayBuffer({ capacity: 10, seed: 2, obsShape: [3], actionDtype: 'int32', nextObsFromNext: true });
    const t = (k: number, end = false) => ({ obs: [k, k, k], action: k, reward: k, nextObs: [k + 1, k + 1, k + 1], terminated: end, truncated: false });
    for (let k = 0; k < 14; k++) {
      plain.push(t(k, k % 5 === 4));
      dedup.push(t(k, k % 5 === 4));
    }
    expectSameBatches(plain.sample(10), dedup.sample(10));
    // Stored bytes: obs once (12 bytes) instead of obs and nextObs (24).
    expect(bufferState(dedup).native.stats().bytes).toBeLessThan(bufferState(plain).native.stats().bytes);
    expect(() => dedup.push({ ...t(20), nextObs: [1, 2] })).toThrow(ShapeError);
    expect(dedup.length).toBe(10);
    plain.close();
    dedup.close();
  });

  test('validateNext refuses a nextObs that is not the next obs, storing nothing', () => {
    const b = new ReplayBuffer({ capacity: 10, seed: 2, obsShape: [2], nextObsFromNext: true, validateNext: true });
    b.push({ obs: [0, 0], action: 0, reward: 0, nextObs: [1, 1], terminated: false, truncated: false });
    expect(() => b.push({ obs: [5, 5], action: 0, reward: 0, nextObs: [2, 2], terminated: false, truncated: false })).toThrow(OutOfRangeError);
    expect(() => b.pushBatch({ obs: [1, 1, 9, 9], action: [0, 0], reward: [0, 0], nextObs: [2, 2, 3, 3], terminated: [0, 0], truncated: [0, 0] })).toThrow(/validateNext/);
    expect(b.length).toBe(1);
    b.push({ obs: [1, 1], action: 0, reward: 0, nextObs: [2, 2], terminated: true, truncated: false });
    b.push({ obs: [7, 7], action: 0, reward: 0, nextObs: [8, 8], terminated: false, truncated: false }); // a new episode: no check
    expect(b.length).toBe(3);
    expect(Array.from(b.sampleByIndex([0, 1, 2]).nextObs as Float32Array)).toEqual([1, 1, 2, 2, 8, 8]);
    b.close();
  });

  test('a ReplayWriter pushes into a deduplicated buffer as into a plain one', () => {
    const plain = new ReplayBuffer({ capacity: 30, seed: 4, fields: fields(4, false) });
    const dedup = new ReplayBuffer({ capacity: 30, seed: 4, fields: fields(4, true), frameStack: { field: 'obs', frames: 4 } });
    const w = ReplayWriter.attach(dedup.writerHandle());
    const src = episodes(8, 4, 2, 0.1);
    for (let round = 0; round < 25; round++) {
      const { cols, env } = src(1 + (round % 3));
      plain.pushBatch(cols);
      w.pushBatch(cols, { env });
      expectSameBatches(plain.sample(Math.min(4, plain.length)), dedup.sample(Math.min(4, dedup.length)));
    }
    w.close();
    plain.close();
    dedup.close();
  });

  test('prefetched batches (a native thread gathers them) equal the plain buffer\'s', async () => {
    const plain = new ReplayBuffer({ capacity: 50, seed: 6, fields: fields(4, false) });
    const dedup = new ReplayBuffer({ capacity: 50, seed: 6, fields: fields(4, true), frameStack: { field: 'obs', frames: 4 } });
    const { cols, env } = episodes(3, 4, 2, 0.1)(70);
    plain.pushBatch(cols);
    dedup.pushBatch(cols, { env });
    const got = async (b: typeof plain | typeof dedup) => {
      const out: number[][] = [];
      for await (const x of b.batches({ batchSize: 16, prefetch: 2, count: 5 })) out.push([...x.obs, ...x.nextObs, ...x.indices]);
      return out;
    };
    expect(await got(dedup)).toEqual(await got(plain));
    plain.close();
    dedup.close();
  });

  describe('archives resume exactly', () => {
    let dir: string;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-derived-archive-'));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    type Any = ReplayBuffer | PrioritizedReplayBuffer;
    /** The same batch from every buffer (each draws once, so all stay in step). */
    const sameFromAll = (bs: Any[], n: number) => {
      const k = Math.min(n, bs[0].length);
      const [first, ...rest] = bs.map((b) => b.sample(k) as unknown as Record<string, unknown>);
      for (const x of rest) expectSameBatches(first, x);
      return first;
    };

    for (const prioritized of [false, true]) {
      for (const F of [1, 4]) {
        for (const storage of ['memory', 'tiered'] as const) {
          test(`${prioritized ? 'prioritized' : 'uniform'}, F=${F}, loaded into ${storage} storage: the same batches, and both go on identically`, async () => {
            const options = (next: boolean) => ({
              capacity: 37, seed: 12, fields: fields(F, next),
              ...(next && F > 1 ? { frameStack: { field: 'obs', frames: F } } : {}),
              ...(prioritized ? { nStep: { n: 3, gamma: 0.9 } } : {}),
            });
            const make = (next: boolean): Any => (prioritized ? new PrioritizedReplayBuffer({ ...options(next), alpha: 0.7, eviction: 'lowest-priority' }) : new ReplayBuffer(options(next)));
            const plain = make(false), dedup = make(true);
            const src = episodes(50 + F, F, 3, 0.06);
            const r = rng(31);
            const push = (bs: Any[], n: number) => {
              const { cols, env } = src(n);
              const priorities = Array.from({ length: n }, () => 0.1 + r() * 4);
              for (const b of bs) {
                if (b instanceof PrioritizedReplayBuffer) b.pushBatch(cols, { env, priorities });
                else b.pushBatch(cols, b === plain && !prioritized ? {} : { env });
              }
            };
            for (let round = 0; round < 40; round++) {
              push([plain, dedup], 1 + Math.floor(r() * (round === 30 ? 50 : 5))); // wraps, and one push larger than the capacity
              if (plain.length > 0 && round % 3 === 0) {
                const b = sameFromAll([plain, dedup], 6);
                if (prioritized) {
                  const td = Array.from({ length: (b.indices as Float64Array).length }, () => r() * 2);
                  (plain as PrioritizedReplayBuffer).updatePriorities(b.indices as Float64Array, td);
                  (dedup as PrioritizedReplayBuffer).updatePriorities(b.indices as Float64Array, td);
                }
              }
            }
            const file = path.join(dir, `a-${prioritized}-${F}-${storage}.rkb`);
            await dedup.save(file);
            const loadOptions = storage === 'tiered' ? { storage: { type: 'tiered' as const, hotCapacity: 5, path: path.join(dir, `t-${prioritized}-${F}.bin`) } } : {};
            const loaded: Any = prioritized ? await PrioritizedReplayBuffer.load(file, loadOptions) : await ReplayBuffer.load(file, loadOptions);
            expect(loaded.length).toBe(dedup.length);
            expect(Object.keys(loaded.schema)).toEqual(Object.keys(dedup.schema));
            const all = Array.from({ length: dedup.length }, (_, i) => i);
            expectSameBatches(dedup.sampleByIndex(all) as never, loaded.sampleByIndex(all) as never);
            for (let round = 0; round < 30; round++) {
              sameFromAll([plain, dedup, loaded], 8);
              push([plain, dedup, loaded], 1 + Math.floor(r() * 4));
            }
            sameFromAll([plain, dedup, loaded], 8);
            for (const b of [plain, dedup, loaded]) b.close();
          });
        }
      }
    }

    test('openArchive views the stored rows; the next field has none; inspect shows the section', () => {
      const b = new ReplayBuffer({ capacity: 10, seed: 4, fields: fields(4, true), frameStack: { field: 'obs', frames: 4 } });
      const { cols, env } = episodes(7, 4, 2, 0.2)(14);
      b.pushBatch(cols, { env });
      const file = path.join(dir, 'view.rkb');
      b.saveSync(file);
      const a = openArchive(file);
      try {
        expect(a.schema.obs).toEqual({ shape: [4, 2, 3], dtype: 'uint8' });
        expect(a.schema.nextObs).toEqual({ shape: [4, 2, 3], dtype: 'uint8' });
        expect(a.derived).toEqual({ obs: 'obs', next: 'nextObs', frames: 4, validateNext: false });
        // Each item's newest frame, oldest item first: the newest frame of its obs stack.
        const frames = a.field('obs') as Uint8Array;
        expect(frames.length).toBe(10 * FRAME);
        const stacks = b.sampleByIndex(Array.from({ length: 10 }, (_, i) => i)).obs as Uint8Array;
        for (let i = 0; i < 10; i++)
          expect(Array.from(frames.subarray(i * FRAME, (i + 1) * FRAME))).toEqual(Array.from(stacks.subarray((i * 4 + 3) * FRAME, (i * 4 + 4) * FRAME)));
        expect(() => a.field('nextObs')).toThrow(ShapeError);
        expect(() => a.field('nextObs')).toThrow(/rebuilt at sample time from the next item's 'obs'/);
        expect(a.verify().sections.map((s) => s.name)).toContain('derived fields');
      } finally {
        a.close();
      }
      const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli.js');
      const text = spawnSync(process.execPath, [cli, 'inspect', file], { encoding: 'utf8' });
      expect(text.status).toBe(0);
      expect(text.stdout).toMatch(/per transition\s+\d+\.\d bytes/);
      expect(text.stdout).toMatch(/nextObs\s+uint8\s+\[4, 2, 3\]\s+rebuilt from the next item's obs \(not stored\)/);
      expect(text.stdout).toMatch(/stored once\s+obs \(next: nextObs, frames: 4\)/);
      expect(text.stdout).toMatch(/ok\s+derived fields/);
      const json = JSON.parse(spawnSync(process.execPath, [cli, 'inspect', file, '--json'], { encoding: 'utf8' }).stdout);
      expect(json.derived).toEqual({ obs: 'obs', next: 'nextObs', frames: 4, validateNext: false });
      expect(json.bytesPerTransition).toBeGreaterThan(0);
      b.close();
    });

    test('load options must agree with the archive: next, frameStack, validateNext', () => {
      const b = new ReplayBuffer({ capacity: 10, seed: 4, fields: fields(4, true), frameStack: { field: 'obs', frames: 4 } });
      const { cols, env } = episodes(8, 4, 1, 0.2)(6);
      b.pushBatch(cols, { env });
      const file = path.join(dir, 'agree.rkb');
      b.saveSync(file);
      const same = ReplayBuffer.loadSync(file, { capacity: 10, seed: 4, fields: fields(4, true), frameStack: { field: 'obs', frames: 4 }, validateNext: false });
      expectSameBatches(b.sample(5) as never, same.sample(5) as never);
      same.close();
      expect(() => ReplayBuffer.loadSync(file, { fields: fields(4, false) })).toThrow(/option next \(in a field spec\) disagrees/);
      expect(() => ReplayBuffer.loadSync(file, { frameStack: { field: 'obs', frames: 2 } })).toThrow(/option frameStack disagrees/);
      expect(() => ReplayBuffer.loadSync(file, { validateNext: true })).toThrow(ArchiveError);
      expect(() => ReplayBuffer.loadSync(file, { validateNext: true })).toThrow(/option validateNext/);
      // A plain buffer's archive: a schema with next, or frameStack, disagrees.
      const p = new ReplayBuffer({ capacity: 10, seed: 4, fields: fields(4, false) });
      p.pushBatch(cols);
      const plainFile = path.join(dir, 'plain.rkb');
      p.saveSync(plainFile);
      expect(() => ReplayBuffer.loadSync(plainFile, { fields: fields(4, true), frameStack: { field: 'obs', frames: 4 } })).toThrow(/option next \(in a field spec\)/);
      expect(() => ReplayBuffer.loadSync(plainFile, { frameStack: { field: 'obs', frames: 4 } })).toThrow(/option frameStack/);
      const shorthand = new ReplayBuffer({ capacity: 6, seed: 1, obsShape: [2], nextObsFromNext: true, validateNext: true });
      shorthand.push({ obs: [1, 2], action: 0, reward: 1, nextObs: [3, 4], terminated: false, truncated: false });
      const shortFile = path.join(dir, 'short.rkb');
      shorthand.saveSync(shortFile);
      const back = ReplayBuffer.loadSync(shortFile, { obsShape: [2], nextObsFromNext: true });
      // validateNext comes back with the archive: a pushed nextObs that is not the next obs is refused.
      expect(() => back.push({ obs: [9, 9], action: 0, reward: 0, nextObs: [0, 0], terminated: false, truncated: false })).toThrow(OutOfRangeError);
      back.push({ obs: [3, 4], action: 0, reward: 0, nextObs: [5, 6], terminated: true, truncated: false });
      expect(Array.from(back.sampleByIndex([0, 1]).nextObs as Float32Array)).toEqual([3, 4, 5, 6]);
      expect(() => ReplayBuffer.loadSync(shortFile, { obsShape: [2] })).toThrow(/option nextObsFromNext disagrees/);
      for (const x of [b, p, shorthand, back]) x.close();
    });
  });

  test('a schema that leaves the next field out still has it, in pushes and in batches (and in its types)', () => {
    const b = new ReplayBuffer({ capacity: 8, seed: 1, fields: {
      obs: { shape: [2], dtype: 'float32', next: 'nextObs' }, terminated: { shape: [], dtype: 'bool' }, truncated: { shape: [], dtype: 'bool' } } });
    b.push({ obs: [1, 2], nextObs: [3, 4], terminated: false, truncated: false });
    b.push({ obs: [3, 4], nextObs: [5, 6], terminated: true, truncated: false });
    const batch = b.sampleByIndex([0, 1]);
    const next: Float32Array = batch.nextObs; // typed by WithNext: no cast
    expect(Array.from(next)).toEqual([3, 4, 5, 6]);
    expect(Object.keys(b.schema)).toEqual(['obs', 'nextObs', 'terminated', 'truncated']);
    b.close();
  });

  test('sequences (with burn-in, across episodes) of a deduplicated buffer equal the plain buffer\'s', () => {
    for (const F of [1, 4]) {
      const make = (next: boolean) =>
        new ReplayBuffer({ capacity: 60, seed: 21, fields: fields(F, next), episodes: true, ...(next && F > 1 ? { frameStack: { field: 'obs', frames: F } } : {}) });
      const plain = make(false), dedup = make(true);
      const src = episodes(31 + F, F, 3, 0.12);
      const r = rng(8);
      for (let round = 0; round < 40; round++) {
        const { cols, env } = src(1 + Math.floor(r() * 7));
        plain.pushBatch(cols, { env });
        dedup.pushBatch(cols, { env });
        if (plain.length < 6) continue;
        for (const crossEpisodes of [false, true]) {
          const o = { length: 5, burnIn: 3, crossEpisodes };
          const a = plain.sampleSequences(6, o), b = dedup.sampleSequences(6, o);
          const { burnIn: ba, ...ra } = a;
          const { burnIn: bb, ...rb } = b;
          expectSameBatches(ra, rb);
          expectSameBatches(ba!, bb!);
        }
      }
      plain.close();
      dedup.close();
    }
  });

  test('bad options are named errors', () => {
    const base = { capacity: 4, seed: 1 };
    expect(() => new ReplayBuffer({ ...base, fields: fields(4, false), frameStack: { field: 'obs', frames: 4 } })).toThrow(ShapeError);
    expect(() => new ReplayBuffer({ ...base, fields: fields(4, true), frameStack: { field: 'obs', frames: 3 } })).toThrow(ShapeError);
    expect(() => new ReplayBuffer({ ...base, fields: fields(4, true), frameStack: { field: 'action', frames: 4 } })).toThrow(ShapeError);
    expect(() => new ReplayBuffer({ ...base, fields: fields(4, true), frameStack: { field: 'obs', frames: 4, frame: 1 } as never })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, fields: fields(4, true), frameStack: { field: 'obs', frames: 1 } })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, fields: fields(1, false), validateNext: true })).toThrow(OutOfRangeError);
    expect(() => new ReplayBuffer({ ...base, obsShape: [2], nextObsFromNext: 'yes' as never })).toThrow(ShapeError);
    expect(() => new ReplayBuffer({ ...base, fields: { obs: { shape: [2], dtype: 'float32', next: 'obs' } } })).toThrow(ShapeError);
    expect(() => new ReplayBuffer({ ...base, fields: { obs: { shape: [2], dtype: 'float32', next: 'nextObs' }, nextObs: { shape: [3], dtype: 'float32' } } })).toThrow(ShapeError);
    // No terminated / truncated: the buffer cannot tell which item is next.
    expect(() => new ReplayBuffer({ ...base, fields: { obs: { shape: [2], dtype: 'float32', next: 'nextObs' } } })).toThrow(ShapeError);
  });
});
