/**
 * Prefetched batches (`batches()`, issue #13): gathered on the prefetch thread, in order, the same
 * batches as synchronous `sample` calls from the same generator state.
 */
import { OutOfRangeError, PrioritizedReplayBuffer, ReplayBuffer, StateError } from 'replaykit';

const opts = { capacity: 5000, obsShape: [6], actionDtype: 'int32' as const, seed: 42 };

function fill(rb: ReplayBuffer | PrioritizedReplayBuffer, n: number, priorities = false): void {
  const obs = Float32Array.from({ length: n * 6 }, (_, i) => i);
  const cols = { obs, action: Int32Array.from({ length: n }, (_, i) => i), reward: Float32Array.from({ length: n }, (_, i) => i / 2),
    nextObs: obs, terminated: new Uint8Array(n), truncated: new Uint8Array(n) };
  if (priorities && rb instanceof PrioritizedReplayBuffer) rb.pushBatch(cols, { priorities: Float64Array.from({ length: n }, (_, i) => 1 + (i % 17)) });
  else rb.pushBatch(cols);
}

test('uniform: the batches are exactly those of synchronous sample calls from the same seed', async () => {
  const a = new ReplayBuffer(opts), b = new ReplayBuffer(opts);
  fill(a, 3000);
  fill(b, 3000);
  const got = [];
  for await (const batch of a.batches({ batchSize: 128, prefetch: 3, count: 7 })) got.push(batch);
  expect(got).toHaveLength(7);
  for (const batch of got) expect(batch).toEqual(b.sample(128));
  // The generator moved on by exactly those 7 batches' words.
  expect(a.getRngState()).toEqual(b.getRngState());
  a.close();
  b.close();
});

test('consecutive batches share an ArrayBuffer (one allocation for several) but never a byte', async () => {
  const a = new ReplayBuffer(opts), b = new ReplayBuffer(opts);
  fill(a, 3000);
  fill(b, 3000);
  const got = [];
  for await (const batch of a.batches({ batchSize: 32, prefetch: 2, count: 20 })) got.push(batch);
  const expected = got.map(() => b.sample(32));
  // Shared: fewer ArrayBuffers than batches.
  expect(new Set(got.map((x) => x.obs.buffer)).size).toBeLessThan(got.length);
  // Disjoint: every array of every batch covers its own bytes.
  const ranges = got.flatMap((x) => Object.values(x).map((v) => ({ buf: v.buffer, from: v.byteOffset, to: v.byteOffset + v.byteLength })));
  for (const r of ranges) for (const o of ranges) if (r !== o && r.buf === o.buf) expect(r.to <= o.from || o.to <= r.from).toBe(true);
  // Writing over one batch leaves the others as sampled.
  got[3].obs.fill(-1);
  got[3].indices.fill(-1);
  got.forEach((x, i) => { if (i !== 3) expect(x).toEqual(expected[i]); });
  a.close();
  b.close();
});

test('prioritized: with nothing changed between, the same batches and weights as sample, and the beta schedule advanced as much', async () => {
  const po = { ...opts, alpha: 0.7, betaFrames: 10 };
  const a = new PrioritizedReplayBuffer(po), b = new PrioritizedReplayBuffer(po);
  fill(a, 2000, true);
  fill(b, 2000, true);
  const got = [];
  for await (const batch of a.batches({ batchSize: 64, count: 5 })) got.push(batch);
  for (const batch of got) expect(batch).toEqual(b.sample(64));
  expect(a.beta).toBe(b.beta);
  const withBeta = [];
  for await (const batch of a.batches({ batchSize: 64, count: 2, beta: 0.25 })) withBeta.push(batch);
  for (const batch of withBeta) expect(batch).toEqual(b.sample(64, { beta: 0.25 }));
  a.close();
  b.close();
});

test('updates and pushes while iterating: every batch is a real batch of stored items', async () => {
  const rb = new PrioritizedReplayBuffer({ ...opts, capacity: 500 });
  fill(rb, 500);
  let n = 0;
  for await (const batch of rb.batches({ batchSize: 32, prefetch: 2 })) {
    for (let i = 0; i < 32; i++) expect(batch.reward[i]).toBe(batch.action[i] / 2); // a whole row
    rb.updatePriorities(batch.indices, Float64Array.from(batch.reward, (r) => (r % 5) + 0.1));
    fill(rb, 50);
    if (++n === 20) break;
  }
  expect(rb.length).toBe(500);
  rb.sample(8); // usable after the loop
  rb.close();
});

test('bad options throw at the call; too few items, abort and close reject the pending next()', async () => {
  const rb = new ReplayBuffer(opts);
  expect(() => rb.batches({ batchSize: 0 })).toThrow(OutOfRangeError);
  expect(() => rb.batches({ batchSize: 4, prefetch: 0 })).toThrow(/prefetch/);
  expect(() => rb.batches({ batchSize: 4, beta: 0.5 } as never)).toThrow(/beta/);
  expect(() => rb.batches({ batchSize: 4, signal: {} as never })).toThrow(/AbortSignal/);
  expect(() => rb.batches(null as never)).toThrow(OutOfRangeError);
  await expect(rb.batches({ batchSize: 4 }).next()).rejects.toThrow(OutOfRangeError);
  fill(rb, 100);
  const controller = new AbortController();
  const it = rb.batches({ batchSize: 16, signal: controller.signal });
  expect((await it.next()).done).toBe(false);
  controller.abort(new Error('enough'));
  await expect(it.next()).rejects.toThrow('enough');
  const it2 = rb.batches({ batchSize: 16, prefetch: 4 });
  await it2.next();
  rb.close();
  await expect(it2.next()).rejects.toThrow(StateError);
  expect(() => rb.batches({ batchSize: 4 })).toThrow(StateError);
});
