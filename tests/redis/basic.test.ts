/** replaykit/redis against a real redis-server: rows from actors into a learner's buffer, once each. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OutOfRangeError, PrioritizedReplayBuffer, ReplayBuffer, ReplayError, ShapeError } from '../../lib/index';
import { DependencyError, RedisActor, RedisIngest, RemoteError } from '../../lib/redis/index';
import { SCHEMA, expectExactlyOnce, rawRedis, row, rows, startRedis, until, type RedisServer } from './server';

jest.setTimeout(60_000);

let server: RedisServer;
let n = 0;
const stream = () => `t:basic:${++n}`;

beforeAll(async () => {
  server = await startRedis({ appendonly: false });
});
afterAll(async () => {
  await server?.stop();
});

test('the error classes are ReplayErrors with their own codes', () => {
  expect(new DependencyError('x')).toBeInstanceOf(ReplayError);
  expect(new RemoteError('x').code).toBe('REPLAYKIT_REMOTE');
  expect(new DependencyError('x').code).toBe('REPLAYKIT_DEPENDENCY');
});

test('push and pushBatch from two actors reach a uniform buffer exactly once, fields intact', async () => {
  const s = stream();
  const rb = new ReplayBuffer({ capacity: 1000, fields: SCHEMA });
  const ingest = new RedisIngest(rb, { url: server.url, stream: s, group: 'learner', consumer: 'c1' });
  await ingest.start();
  const a = new RedisActor({ url: server.url, stream: s, actorId: 'a', schema: SCHEMA, flushRows: 7 });
  const b = new RedisActor({ url: server.url, stream: s, actorId: 'b', schema: SCHEMA, flushRows: 16 });
  for (let i = 0; i < 50; i++) await a.push(row(i));
  await b.pushBatch(rows(50, 150));
  await a.close();
  await b.close();
  expect(a.stats.rows).toBe(50);
  expect(a.stats.entries).toBe(8); // 7 full entries of 7 + 1 of 1
  await until(() => rb.length === 200, 15_000, '200 rows');
  await ingest.stop();
  expectExactlyOnce(rb.sampleAll() as never, 200);
  const st = ingest.stats;
  expect(st.rows).toBe(200);
  expect(st.entries).toBe(8 + 10);
  expect(st.duplicatesSkipped).toBe(0);
  expect(st.deadLettered).toBe(0);
  expect(ingest.state().actors).toEqual({ a: expect.any(Number), b: expect.any(Number) });
  rb.close();
});

test('priorities travel with the rows into a prioritized buffer', async () => {
  const s = stream();
  const pb = new PrioritizedReplayBuffer({ capacity: 100, fields: SCHEMA });
  const ingest = new RedisIngest(pb, { url: server.url, stream: s, group: 'g', consumer: 'c' });
  await ingest.start();
  const a = new RedisActor({ url: server.url, stream: s, actorId: 'p', schema: SCHEMA, flushRows: 4 });
  await a.pushBatch(rows(0, 6), { priorities: [1, 2, 3, 4, 5, 6] });
  await a.push(row(6), { priority: 10 });
  await a.push(row(7)); // no priority: its own entry, maxPriority
  await a.close();
  await until(() => pb.length === 8);
  await ingest.stop();
  const top = pb.top(8);
  expect(Array.from(top.id)).toEqual([6, 7, 5, 4, 3, 2, 1, 0]);
  expect(Array.from(top.priorities)).toEqual([10, 10, 6, 5, 4, 3, 2, 1]);
  pb.close();
});

test('any storage: rows reach an mmap uniform buffer and a tiered prioritized one intact', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-redis-storage-'));
  try {
    const buffers = [
      new ReplayBuffer({ capacity: 300, fields: SCHEMA, storage: { type: 'mmap', path: path.join(dir, 'a.rkb') } }),
      new PrioritizedReplayBuffer({ capacity: 300, fields: SCHEMA, storage: { type: 'tiered', hotCapacity: 50, path: path.join(dir, 'b.rkb') } }),
    ];
    for (const [k, b] of buffers.entries()) {
      const s = stream();
      const ingest = new RedisIngest(b, { url: server.url, stream: s, group: 'g', consumer: 'c', acknowledge: 'applied' });
      await ingest.start();
      const a = new RedisActor({ url: server.url, stream: s, actorId: `a${k}`, schema: SCHEMA, flushRows: 32 });
      await a.pushBatch(rows(0, 250));
      await a.close();
      await until(() => b.length === 250);
      await ingest.stop();
      expectExactlyOnce(b.sampleAll() as never, 250);
      b.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('flushMs sends a partial entry without flush()', async () => {
  const s = stream();
  const rb = new ReplayBuffer({ capacity: 10, fields: SCHEMA });
  const ingest = new RedisIngest(rb, { url: server.url, stream: s, group: 'g', consumer: 'c' });
  await ingest.start();
  const a = new RedisActor({ url: server.url, stream: s, actorId: 'a', schema: SCHEMA, flushRows: 100, flushMs: 20 });
  await a.push(row(0));
  await a.push(row(1));
  await until(() => rb.length === 2);
  expect(a.stats.entries).toBe(1);
  await a.close();
  await ingest.stop();
  rb.close();
});

test('bad input to the actor is refused with named errors and loses nothing staged', async () => {
  const a = new RedisActor({ url: server.url, stream: stream(), actorId: 'a', schema: SCHEMA, flushRows: 10 });
  await a.push(row(0));
  await expect(a.push({ ...row(1), obs: [1, 2] } as never)).rejects.toBeInstanceOf(ShapeError);
  await expect(a.push({ ...row(1), extra: 1 } as never)).rejects.toBeInstanceOf(ShapeError);
  await expect(a.pushBatch({ ...rows(0, 2), id: new Float64Array(3) })).rejects.toBeInstanceOf(ShapeError);
  // Values the learner's buffer would refuse (dead-lettering the whole entry) are refused here.
  await expect(a.push({ ...row(1), done: 2 } as never)).rejects.toBeInstanceOf(OutOfRangeError);
  await expect(a.push({ ...row(1), action: 1.5 })).rejects.toBeInstanceOf(OutOfRangeError);
  await expect(a.push({ ...row(1), action: 2 ** 40 })).rejects.toBeInstanceOf(OutOfRangeError);
  await expect(a.push({ ...row(1), obs: ['x', 1, 2] } as never)).rejects.toBeInstanceOf(ShapeError);
  await expect(a.pushBatch({ ...rows(0, 2), done: Uint8Array.of(0, 3) })).rejects.toBeInstanceOf(OutOfRangeError);
  await expect(a.pushBatch({ ...rows(0, 2), action: Float64Array.of(1, 0.5) } as never)).rejects.toBeInstanceOf(OutOfRangeError);
  expect(a.stats.staged).toBe(1);
  await a.close();
  expect(a.stats.rows).toBe(1);
  await expect(a.push(row(2))).rejects.toThrow(/closed/);
  expect(() => new RedisActor({ stream: 's', actorId: 'a', schema: SCHEMA } as never)).toThrow(RemoteError);
  expect(() => new RedisActor({ url: server.url, stream: 's', actorId: '', schema: SCHEMA })).toThrow(ShapeError);
  // Lone surrogates have no UTF-8 form: '\uD800' and '\uDC00' would both arrive as U+FFFD (one actor, one sequence).
  for (const actorId of ['\uD800', '\uDC00', 'a\uDBFFb']) expect(() => new RedisActor({ url: server.url, stream: 's', actorId, schema: SCHEMA })).toThrow(/lone surrogate/);
});

test('an actor whose sequence numbers are used up refuses the push (the learner would dead-letter a number past 2^53 - 1)', async () => {
  const s = stream();
  const rb = new ReplayBuffer({ capacity: 100, fields: SCHEMA });
  const ingest = new RedisIngest(rb, { url: server.url, stream: s, group: 'g', consumer: 'c', acknowledge: 'applied' });
  await ingest.start();
  const a = new RedisActor({ url: server.url, stream: s, actorId: 'old', schema: SCHEMA, flushRows: 1, firstSequence: Number.MAX_SAFE_INTEGER - 1 });
  await a.push(row(0));
  await a.push(row(1));
  await expect(a.push(row(2))).rejects.toBeInstanceOf(OutOfRangeError);
  await expect(a.pushBatch(rows(3, 2))).rejects.toBeInstanceOf(OutOfRangeError);
  expect(a.stats.staged).toBe(0);
  await a.close();
  await until(() => rb.length === 2);
  expect(ingest.stats.deadLettered).toBe(0);
  await ingest.stop();
  expectExactlyOnce(rb.sampleAll() as never, 2);
  rb.close();
});

test('malformed entries, a wrong schema and replayed sequence numbers are dead-lettered or skipped, counted, and the ingest goes on', async () => {
  const s = stream();
  const raw = rawRedis(server.url);
  const rb = new ReplayBuffer({ capacity: 100, fields: SCHEMA });
  const ingest = new RedisIngest(rb, { url: server.url, stream: s, group: 'g', consumer: 'c', acknowledge: 'applied' });
  await ingest.start();
  const good = new RedisActor({ url: server.url, stream: s, actorId: 'good', schema: SCHEMA, flushRows: 5, firstSequence: 100 });
  await good.pushBatch(rows(0, 5));
  // Garbage, an entry with no 'e' field, a truncated real entry, another schema.
  await raw.xadd(s, '*', 'e', Buffer.from('not an entry at all, certainly not'));
  await raw.xadd(s, '*', 'x', 'y');
  const other = new RedisActor({ url: server.url, stream: s, actorId: 'other', schema: { ...SCHEMA, extra: { shape: [], dtype: 'uint8' } }, flushRows: 1 });
  await other.push({ ...row(99), extra: 1 });
  await other.close();
  // An actor restarted with old sequence numbers replays entries the learner already applied.
  const replay = new RedisActor({ url: server.url, stream: s, actorId: 'good', schema: SCHEMA, flushRows: 5, firstSequence: 100 });
  await replay.pushBatch(rows(1000, 5));
  await replay.close();
  await good.pushBatch(rows(5, 5));
  await good.close();
  await until(() => rb.length === 10 && ingest.stats.deadLettered === 3 && ingest.stats.duplicatesSkipped === 1);
  // Truncate a real entry: copy the last one minus its last byte.
  const last = (await raw.xrevrangeBuffer(s, '+', '-', 'COUNT', 1))[0][1][1];
  await raw.xadd(s, '*', 'e', last.subarray(0, last.length - 1));
  await until(() => ingest.stats.deadLettered === 4);
  await ingest.stop();
  expectExactlyOnce(rb.sampleAll() as never, 10);
  const dead = await raw.xrange(`${s}:dead`, '-', '+');
  const reasons = dead.map(([, f]: [string, string[]]) => f[f.indexOf('reason') + 1]);
  expect(reasons[0]).toMatch(/magic|shorter/);
  expect(reasons[1]).toMatch(/no field 'e'/);
  expect(reasons[2]).toMatch(/schema hash/);
  expect(reasons[3]).toMatch(/bytes, expected|checksum/);
  // All acknowledged: nothing pending.
  const pending = (await raw.xpending(s, 'g')) as [number];
  expect(pending[0]).toBe(0);
  raw.disconnect();
  rb.close();
});

test('backpressure: an actor waits while the group lags more than maxLag, and times out with a named error', async () => {
  const s = stream();
  const raw = rawRedis(server.url);
  await raw.xgroup('CREATE', s, 'g', '0', 'MKSTREAM');
  const a = new RedisActor({ url: server.url, stream: s, actorId: 'a', schema: SCHEMA, flushRows: 1, maxLag: 2, group: 'g' });
  for (let i = 0; i < 3; i++) await a.push(row(i)); // lag 0, 1, 2 before each send: all pass
  const err = await a.push(row(3), { timeoutMs: 100 }).catch((e) => e);
  expect(err).toBeInstanceOf(RemoteError);
  expect(err.timedOut).toBe(true);
  expect(a.stats.unsent).toBe(1); // kept, not dropped
  const ac = new AbortController();
  const aborted = a.flush({ signal: ac.signal });
  ac.abort(new Error('stop waiting'));
  await expect(aborted).rejects.toThrow('stop waiting');
  // A learner consumes: the wait ends and the kept entry is sent.
  const rb = new ReplayBuffer({ capacity: 10, fields: SCHEMA });
  const ingest = new RedisIngest(rb, { url: server.url, stream: s, group: 'g', consumer: 'c' });
  await ingest.start();
  await a.flush();
  await until(() => rb.length === 4);
  await a.close();
  await ingest.stop();
  expectExactlyOnce(rb.sampleAll() as never, 4);
  raw.disconnect();
  rb.close();
});

test('Redis down at start: a RemoteError after the retry budget, for the actor and the learner', async () => {
  const { freePort } = require('../../scripts/redis-server.js') as { freePort(): Promise<number> };
  const url = `redis://127.0.0.1:${await freePort()}`;
  const a = new RedisActor({ url, stream: 's', actorId: 'a', schema: SCHEMA, retryMs: 300 });
  await a.push(row(0));
  const err = await a.flush().catch((e) => e);
  expect(err).toBeInstanceOf(RemoteError);
  expect(err.message).toMatch(/unreachable after 300 ms/);
  expect(a.stats.unsent).toBe(1);
  await a.close().catch(() => undefined);
  const rb = new ReplayBuffer({ capacity: 10, fields: SCHEMA });
  const ingest = new RedisIngest(rb, { url, stream: 's', group: 'g', consumer: 'c', retryMs: 300 });
  await expect(ingest.start()).rejects.toBeInstanceOf(RemoteError);
  rb.close();
});

test('a buffer that keeps episodes gets one env stream per actor: n-step returns never mix two actors', async () => {
  const schema = { obs: { shape: [], dtype: 'float32' }, nextObs: { shape: [], dtype: 'float32' }, reward: { shape: [], dtype: 'float32' }, terminated: { shape: [], dtype: 'bool' }, truncated: { shape: [], dtype: 'bool' } } as const;
  const s = stream();
  const rb = new ReplayBuffer({ capacity: 64, fields: schema, seed: 1, nStep: { n: 3, gamma: 1 } });
  const ingest = new RedisIngest(rb, { url: server.url, stream: s, group: 'g', consumer: 'c', acknowledge: 'applied', firstEnv: 5 });
  await ingest.start();
  // Actor A: rewards 1 (obs 100..), actor B: rewards 1000 (obs 200..); neither episode ends.
  const a = new RedisActor({ url: server.url, stream: s, actorId: 'A', schema, flushRows: 1 });
  const b = new RedisActor({ url: server.url, stream: s, actorId: 'B', schema, flushRows: 1 });
  for (let i = 0; i < 4; i++) {
    await a.push({ obs: 100 + i, nextObs: 101 + i, reward: 1, terminated: false, truncated: false });
    await b.push({ obs: 200 + i, nextObs: 201 + i, reward: 1000, terminated: false, truncated: false });
  }
  await a.close();
  await b.close();
  await until(() => rb.length === 8);
  const all = rb.sampleAll();
  for (let i = 0; i < 8; i++) {
    const fromA = all.obs[i] < 200;
    const k = (all.obs[i] % 100); // its step: the return sums min(3, 4 - k) of its own actor's rewards
    expect(all.reward[i]).toBe((fromA ? 1 : 1000) * Math.min(3, 4 - k));
  }
  expect(ingest.state().envs).toEqual({ A: 5, B: 6 });
  await ingest.stop();
  rb.close();
});
