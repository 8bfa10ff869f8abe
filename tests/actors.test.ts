/**
 * Worker-thread actors (issue #13): writers in worker threads push into one buffer while the
 * learner samples and updates priorities. Every case runs in a fresh node process with real
 * worker threads (tests/child-process.ts), so that a crash shows as a signal.
 *
 * Rows carry who wrote them: writer w's row s has reward = w * 1e6 + s, and every element of
 * its obs, action and nextObs is derived from that id, so a sampled row is checked whole.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { child, expectClean } from './child-process';
import { PrioritizedReplayBuffer, ReplayBuffer, ReplayWriter, ShapeError, StateError } from 'replaykit';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-actors-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** In scope of child scripts: rows(w, first, n) (the columns of writer w's rows first .. first+n-1) and whole(batch, i). */
const ROWS = `
  const OBS = 5;
  function rows(w, first, n) {
    const obs = new Float32Array(n * OBS), nextObs = new Float32Array(n * OBS), action = new Int32Array(n), reward = new Float32Array(n);
    const terminated = new Uint8Array(n), truncated = new Uint8Array(n);
    for (let r = 0; r < n; r++) {
      const id = w * 1e6 + first + r;
      reward[r] = id; action[r] = id % 7; terminated[r] = id % 2; truncated[r] = id % 3 === 0 ? 1 : 0;
      for (let k = 0; k < OBS; k++) { obs[r * OBS + k] = (id % 1000) + k; nextObs[r * OBS + k] = (id % 1000) - k; }
    }
    return { obs, action, reward, nextObs, terminated, truncated };
  }
  function whole(b, i) {
    const id = b.reward[i];
    if (b.action[i] !== id % 7 || b.terminated[i] !== id % 2 || b.truncated[i] !== (id % 3 === 0 ? 1 : 0)) return false;
    for (let k = 0; k < OBS; k++) if (b.obs[i * OBS + k] !== (id % 1000) + k || b.nextObs[i * OBS + k] !== (id % 1000) - k) return false;
    return true;
  }
  const OPTS = { obsShape: [OBS], actionDtype: 'int32', seed: 5 };
`;

/** Worker code: pushes `pushes` batches of 1..maxBatch rows (or single pushes when maxBatch is 1) and posts how many rows. */
const WRITER = `${ROWS}
  const { handle, w, pushes, maxBatch, priorities } = workerData;
  const writer = rk.ReplayWriter.attach(handle);
  parentPort.postMessage('attached');
  let next = 0, seed = w + 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  try {
    for (let i = 0; i < pushes; i++) {
      const n = 1 + Math.floor(rand() * maxBatch);
      if (n === 1 && maxBatch === 1) {
        const c = rows(w, next, 1);
        writer.push({ obs: c.obs, action: c.action[0], reward: c.reward[0], nextObs: c.nextObs, terminated: c.terminated[0], truncated: c.truncated[0] },
          priorities ? { priority: 0.5 + rand() } : undefined);
      } else {
        writer.pushBatch(rows(w, next, n), priorities ? { priorities: Float64Array.from({ length: n }, () => 0.5 + rand()) } : undefined);
      }
      next += n;
    }
    parentPort.postMessage({ rows: next });
  } catch (e) {
    parentPort.postMessage({ rows: next, error: e.name, message: e.message });
  }
  writer.close();
`;

test('writers in 4 worker threads: every row stored exactly once, each writer in its order, while the learner samples whole rows', () => {
  const r = child(`${ROWS}
    (async () => {
      const rb = new rk.ReplayBuffer({ ...OPTS, capacity: 200000 });
      const handle = rb.writerHandle();
      const jobs = [0, 1, 2, 3].map((w) => runWorker(${JSON.stringify(WRITER)}, { workerData: { handle, w, pushes: 150, maxBatch: w === 0 ? 1 : 300 } }));
      let done = false, batches = 0, torn = 0;
      Promise.all(jobs).then(() => { done = true; });
      while (!done) {
        if (rb.length >= 64) {
          const b = rb.sample(64);
          for (let i = 0; i < 64; i++) if (!whole(b, i)) torn++;
          batches++;
        }
        await new Promise((res) => setImmediate(res));
      }
      const results = await Promise.all(jobs);
      const sent = results.map((x) => x.messages.at(-1).rows);
      const all = rb.sampleAll();
      const next = [0, 0, 0, 0];
      let wrong = 0, broken = 0;
      for (let i = 0; i < all.reward.length; i++) {
        if (!whole(all, i)) broken++;
        const w = Math.floor(all.reward[i] / 1e6);
        if (all.reward[i] !== w * 1e6 + next[w]) wrong++;
        next[w]++;
      }
      console.log(JSON.stringify({ codes: results.map((x) => x.code), sent, stored: next, length: rb.length, wrong, broken, torn, sampled: batches > 0 }));
      rb.close();
    })();
  `);
  expectClean(r);
  const out = JSON.parse(r.stdout);
  expect(out.codes).toEqual([0, 0, 0, 0]);
  expect(out.stored).toEqual(out.sent); // no row lost, none twice
  expect(out.length).toBe(out.sent.reduce((a: number, b: number) => a + b, 0));
  expect(out).toMatchObject({ wrong: 0, broken: 0, torn: 0, sampled: true });
});

test('a prioritized ring overwritten by 3 writers while the learner samples and updates priorities: whole rows, consistent trees, FIFO per writer', () => {
  const r = child(`${ROWS}
    (async () => {
      const rb = new rk.PrioritizedReplayBuffer({ ...OPTS, capacity: 1000, alpha: 0.7 });
      const handle = rb.writerHandle();
      const jobs = [0, 1, 2].map((w) => runWorker(${JSON.stringify(WRITER)}, { workerData: { handle, w, pushes: 400, maxBatch: 200, priorities: w !== 2 } }));
      let done = false, torn = 0, batches = 0;
      Promise.all(jobs).then(() => { done = true; });
      while (!done) {
        if (rb.length >= 64) {
          const b = rb.sample(64);
          for (let i = 0; i < 64; i++) if (!whole(b, i)) torn++;
          rb.updatePriorities(b.indices, Float64Array.from(b.reward, (x) => (x % 97) / 10));
          batches++;
        }
        await new Promise((res) => setImmediate(res));
      }
      const results = await Promise.all(jobs);
      const all = rb.sampleAll();
      const last = {};
      let disorder = 0, broken = 0;
      for (let i = 0; i < all.reward.length; i++) {
        if (!whole(all, i)) broken++;
        const w = Math.floor(all.reward[i] / 1e6);
        if (last[w] !== undefined && all.reward[i] !== last[w] + 1) disorder++;
        last[w] = all.reward[i];
      }
      // The trees against the priorities of what is stored: top(length) lists every item's p.
      const top = rb.top(rb.length);
      let sum = 0, min = Infinity;
      for (const p of top.priorities) { sum += Math.pow(p, 0.7); min = Math.min(min, p); }
      const s = { totalPriority: rb.totalPriority, minPriority: rb.minPriority };
      console.log(JSON.stringify({ codes: results.map((x) => x.code), errors: results.map((x) => x.messages.at(-1).error ?? null),
        length: rb.length, torn, broken, disorder, batches: batches > 0,
        sumAgrees: Math.abs(s.totalPriority - sum) <= 1e-9 * sum, minAgrees: s.minPriority === min }));
    })();
  `);
  expectClean(r);
  const out = JSON.parse(r.stdout);
  expect(out).toEqual({ codes: [0, 0, 0], errors: [null, null, null], length: 1000, torn: 0, broken: 0, disorder: 0, batches: true, sumAgrees: true, minAgrees: true });
});

test('a worker terminated mid-pushBatch leaves no torn row; the buffer goes on', () => {
  const r = child(`${ROWS}
    (async () => {
      const rb = new rk.ReplayBuffer({ ...OPTS, capacity: 5000 });
      const handle = rb.writerHandle();
      const code = ${JSON.stringify(ROWS)} + "const writer = rk.ReplayWriter.attach(workerData.handle); let next = 0;" +
        "parentPort.postMessage('ready'); for (;;) { writer.pushBatch(rows(1, next, 777)); next += 777; }";
      const results = await Promise.all([0, 1, 2].map(() => runWorker(code, { workerData: { handle }, onMessage: (m, w) => { if (m === 'ready') setTimeout(() => w.terminate(), 30); } })));
      const all = rb.sampleAll();
      let broken = 0;
      for (let i = 0; i < all.reward.length; i++) if (!whole(all, i)) broken++;
      rb.pushBatch(rows(9, 0, 10));
      console.log(JSON.stringify({ codes: results.map((x) => x.code), broken, grew: rb.length > 0, wholeBatches: rb.length % 777 === 10 % 777 || rb.length === 5000 }));
      rb.close();
    })();
  `);
  expectClean(r);
  const out = JSON.parse(r.stdout);
  expect(out).toEqual({ codes: [1, 1, 1], broken: 0, grew: true, wholeBatches: true });
});

test('closing the buffer while writers push: their calls throw StateError, the process goes on, the files are gone', () => {
  const file = path.join(dir, 'closing.rks');
  const r = child(`${ROWS}
    (async () => {
      const rb = new rk.PrioritizedReplayBuffer({ ...OPTS, capacity: 3000, storage: { type: 'mmap', path: ${JSON.stringify(file)} } });
      const handle = rb.writerHandle();
      let attached = 0;
      const jobs = [0, 1].map((w) => runWorker(${JSON.stringify(WRITER)}, { workerData: { handle, w, pushes: 1e9, maxBatch: 100 },
        onMessage: (m) => { if (m === 'attached') attached++; } }));
      while (rb.length < 3000 || attached < 2) await new Promise((res) => setTimeout(res, 1));
      rb.close();
      const results = await Promise.all(jobs);
      let after = null;
      try { rk.ReplayWriter.attach(handle); } catch (e) { after = e.name; }
      console.log(JSON.stringify({ codes: results.map((x) => x.code), errors: results.map((x) => x.messages.at(-1).error), after, file: fs.existsSync(${JSON.stringify(file)}) }));
    })();
  `);
  expectClean(r);
  expect(JSON.parse(r.stdout)).toEqual({ codes: [0, 0], errors: ['StateError', 'StateError'], after: 'StateError', file: false });
});

test('an archive saved while writers push loads and resumes: the pushes wait for the save, nothing is lost', () => {
  const file = path.join(dir, 'during.rkb');
  const r = child(`${ROWS}
    (async () => {
      const rb = new rk.ReplayBuffer({ ...OPTS, capacity: 400000 });
      rb.pushBatch(rows(5, 0, 100000));
      const handle = rb.writerHandle();
      const jobs = [0, 1].map((w) => runWorker(${JSON.stringify(WRITER)}, { workerData: { handle, w, pushes: 300, maxBatch: 300 } }));
      await rb.save(${JSON.stringify(file)}, { chunkBytes: 1 << 16 });
      const results = await Promise.all(jobs);
      const loaded = rk.ReplayBuffer.loadSync(${JSON.stringify(file)});
      const saved = loaded.sampleAll();
      let broken = 0;
      for (let i = 0; i < saved.reward.length; i++) if (!whole(saved, i)) broken++;
      // The archive holds a prefix of what each writer sent, in order.
      const next = {};
      let wrong = 0;
      for (let i = 0; i < saved.reward.length; i++) {
        const w = Math.floor(saved.reward[i] / 1e6);
        next[w] = next[w] ?? 0;
        if (saved.reward[i] !== w * 1e6 + next[w]) wrong++;
        next[w]++;
      }
      const sent = results.map((x) => x.messages.at(-1).rows);
      console.log(JSON.stringify({ codes: results.map((x) => x.code), broken, wrong, first: next[5], length: rb.length, expected: 100000 + sent[0] + sent[1], loadedLength: loaded.length }));
    })();
  `);
  expectClean(r);
  const out = JSON.parse(r.stdout);
  expect(out).toMatchObject({ codes: [0, 0], broken: 0, wrong: 0, first: 100000 });
  expect(out.length).toBe(out.expected);
  expect(out.loadedLength).toBeGreaterThanOrEqual(100000);
});

describe('handles and writers in one thread', () => {
  const opts = { obsShape: [2], capacity: 10, seed: 1 };
  const t = { obs: [1, 2], action: 0.5, reward: 1, nextObs: [2, 3], terminated: false, truncated: false };

  test('a handle is a plain cloneable object; a writer pushes into the buffer and never closes it', () => {
    const rb = new ReplayBuffer(opts);
    const h = rb.writerHandle();
    const w = ReplayWriter.attach(structuredClone(h));
    expect(w.schema).toEqual(rb.schema);
    expect(w.push(t)).toBe(0);
    w.pushBatch({ obs: new Float32Array(4), action: new Float32Array(2), reward: new Float32Array([7, 8]), nextObs: new Float32Array(4), terminated: new Uint8Array(2), truncated: new Uint8Array(2) });
    expect(rb.length).toBe(3);
    expect(w.length).toBe(3);
    expect(Array.from(rb.sampleAll().reward)).toEqual([1, 7, 8]);
    w.close();
    w.close();
    expect(() => w.push(t)).toThrow(StateError);
    expect(rb.length).toBe(3);
    rb.push(t);
    rb.close();
  });

  test('bad input through a writer: the same errors as the buffer, nothing stored', () => {
    const rb = new ReplayBuffer(opts);
    const w = ReplayWriter.attach(rb.writerHandle());
    for (const [bad, name] of [
      [{ ...t, obs: [1] }, 'ShapeError'],
      [{ ...t, extra: 1 }, 'ShapeError'],
      [{ ...t, obs: new Float64Array(2) }, 'DtypeError'],
    ] as const) {
      let viaBuffer = '', viaWriter = '';
      try { rb.push(bad as never); } catch (e) { viaBuffer = `${(e as Error).name}: ${(e as Error).message}`; }
      try { w.push(bad as never); } catch (e) { viaWriter = `${(e as Error).name}: ${(e as Error).message}`; }
      expect(viaWriter).toBe(viaBuffer);
      expect(viaWriter.startsWith(name)).toBe(true);
    }
    expect(() => w.push(t, { priority: 2 })).toThrow(/uniform ReplayBuffer's push takes no priority/);
    expect(rb.length).toBe(0);
    const p = new PrioritizedReplayBuffer(opts);
    const pw = ReplayWriter.attach(p.writerHandle());
    expect(() => pw.push(t, { priority: -1 })).toThrow(/priority/);
    expect(() => pw.push(t, { prio: 1 } as never)).toThrow(/prio/);
    pw.push(t, { priority: 3 });
    expect(p.maxPriority).toBe(3);
    rb.close();
    p.close();
  });

  test('handles that do not name a live buffer of this process are refused', () => {
    expect(() => ReplayWriter.attach({} as never)).toThrow(ShapeError);
    expect(() => ReplayWriter.attach(null as never)).toThrow(ShapeError);
    const rb = new ReplayBuffer(opts);
    const h = rb.writerHandle();
    expect(() => ReplayWriter.attach({ ...h, version: 2 } as never)).toThrow(ShapeError);
    expect(() => ReplayWriter.attach({ ...h, process: h.process + 2 })).toThrow(/another process/);
    expect(() => ReplayWriter.attach({ ...h, buffer: h.buffer + 1000 })).toThrow(StateError);
    const w = ReplayWriter.attach(h);
    rb.close();
    expect(() => ReplayWriter.attach(h)).toThrow(StateError);
    expect(() => w.push(t)).toThrow(StateError);
    expect(() => w.length).toThrow(StateError);
    expect(() => rb.writerHandle()).toThrow(StateError);
  });
});

test('the rate limiter counts and holds worker writers: pushBatchAsync waits while actors run ahead; prefetched batches count as samples', () => {
  const r = child(`${ROWS}
    (async () => {
      const limiter = { minSize: 64, samplesPerInsert: 1, errorBuffer: 64 };
      const rb = new rk.ReplayBuffer({ ...OPTS, capacity: 10000, rateLimiter: limiter });
      const code = ${JSON.stringify(ROWS)} + "const w = rk.ReplayWriter.attach(workerData.handle);" +
        "(async () => { let next = 0; w.pushBatch(rows(1, next, 8)); next += 8;" +
        "  for (let i = 0; i < 40; i++) { await w.pushBatchAsync(rows(1, next, 16)); next += 16; }" +
        "  parentPort.postMessage({ rows: next }); w.close(); })();";
      const job = runWorker(code, { workerData: { handle: rb.writerHandle() } });
      let worst = -Infinity, sampled = 0, finished = false;
      job.then(() => { finished = true; });
      const it = rb.batches({ batchSize: 8 });
      while (!finished) {
        const s = rb.rateLimiter.stats;
        worst = Math.max(worst, s.inserts - s.samples);
        if (rb.length >= 64) { await it.next(); sampled += 8; }
        await new Promise((res) => setTimeout(res, 1));
      }
      await it.return();
      const res = await job;
      const s = rb.rateLimiter.stats;
      console.log(JSON.stringify({ code: res.code, rows: res.messages.at(-1).rows, inserts: s.inserts, samplesCounted: s.samples >= sampled, length: rb.length, worst, waits: s.waits > 0 }));
      rb.close();
    })();
  `);
  expectClean(r);
  const out = JSON.parse(r.stdout);
  expect(out).toMatchObject({ code: 0, rows: 8 + 40 * 16, inserts: 8 + 40 * 16, length: 8 + 40 * 16, samplesCounted: true, waits: true });
  // Inserts stay within the limiter's range over samples: minSize * spi + errorBuffer, plus one batch past it.
  expect(out.worst).toBeLessThanOrEqual(64 + 64 + 16);
});
