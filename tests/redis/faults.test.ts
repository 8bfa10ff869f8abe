/**
 * replaykit/redis under faults, against real redis-server processes and real child processes
 * (tests/redis/children): a learner SIGKILLed mid-ingest and restarted from its archive, an
 * actor SIGKILLed mid-batch, redis-server restarted under load (append-only file on), and the
 * exactly-once state carried by archives. Each: no row lost, none duplicated, no crash.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReplayBuffer } from '../../lib/index';
import { RedisActor, RedisIngest } from '../../lib/redis/index';
import { decodeEntry, wireSchema } from '../../lib/redis/codec';
import { SCHEMA, expectExactlyOnce, rawRedis, rows, startRedis, until, type RedisServer } from './server';
import { kill, startChild, waitForLine } from './children';

jest.setTimeout(120_000);

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-redis-faults-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

type Rows = { id: Float64Array; obs: Float32Array; action: Int32Array; done: Uint8Array };

describe('with one redis-server', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis({ appendonly: false });
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('a learner SIGKILLed mid-ingest and restarted from its last archive plus its pending entries holds every row exactly once', async () => {
    const archive = path.join(dir, 'learner.rkb');
    const args = [server.url, 'kill-learner', 'g', 'learner', archive, 20_000, 40];
    let learner = startChild('learner', args);
    await waitForLine(learner, (l) => l.saves === 1, 'the first save');
    const a = startChild('actor', [server.url, 'kill-learner', 'a', 0, 3000, 25, 10]);
    const b = startChild('actor', [server.url, 'kill-learner', 'b', 3000, 3000, 40, 10]);
    // Killed while it ingests: after some archives that hold rows, before the actors are done.
    await waitForLine(learner, (l) => (l.length as number) >= 500, '500 rows archived');
    await kill(learner);
    expect(learner.proc.signalCode).toBe('SIGKILL');
    learner = startChild('learner', args);
    await waitForLine(learner, (l) => (l.saves as number) >= 1, 'a save after the restart');
    expect(learner.lines[0].resumed).toBeGreaterThanOrEqual(500); // it started from the archive
    await waitForLine(a, (l) => l.done === true, 'actor a done');
    await waitForLine(b, (l) => l.done === true, 'actor b done');
    await waitForLine(learner, (l) => l.length === 6000, 'all 6000 rows ingested');
    await kill(learner, 'SIGTERM');
    expect(await learner.exited).toBe(0);
    const rb = ReplayBuffer.loadSync(archive);
    expectExactlyOnce(rb.sampleAll() as unknown as Rows, 6000);
    rb.close();
    // Every entry acknowledged in the end (the final save): nothing left pending.
    const raw = rawRedis(server.url);
    expect((await raw.xpending('kill-learner', 'g'))[0]).toBe(0);
    raw.disconnect();
  });

  test('an actor SIGKILLed mid-batch: only whole entries reach the buffer, each once, and every acknowledged row is there', async () => {
    const s = 'kill-actor';
    const rb = new ReplayBuffer({ capacity: 10_000, fields: SCHEMA });
    const ingest = new RedisIngest(rb, { url: server.url, stream: s, group: 'g', consumer: 'c', acknowledge: 'applied' });
    await ingest.start();
    const actor = startChild('actor', [server.url, s, 'a', 0, 100_000, 64, 7]);
    await waitForLine(actor, (l) => (l.acked as number) >= 640, '10 entries acknowledged');
    await kill(actor);
    const acked = Math.max(...actor.lines.map((l) => l.acked as number));
    // The stream holds whole entries only; the learner applies each of them once.
    const raw = rawRedis(server.url);
    const entries: [string, Buffer[]][] = await raw.xrangeBuffer(s, '-', '+');
    const ws = wireSchema(SCHEMA);
    const sent = entries.map(([, f]) => decodeEntry(ws, f[1]));
    const total = sent.reduce((n, e) => n + e.rows, 0);
    expect(sent.every((e) => e.rows === 64)).toBe(true);
    expect(total).toBeGreaterThanOrEqual(acked);
    await until(() => rb.length === total, 15_000, `${total} rows`);
    await ingest.stop();
    expectExactlyOnce(rb.sampleAll() as unknown as Rows, total); // ids 0..total-1: a prefix, no gaps
    expect((await raw.xpending(s, 'g'))[0]).toBe(0);
    raw.disconnect();
    rb.close();
  });

  test('the exactly-once state travels in the archive: a learner loaded from it skips what it holds and applies the rest', async () => {
    const s = 'archive-state';
    const file = path.join(dir, 'state.rkb');
    const rb = new ReplayBuffer({ capacity: 100, fields: SCHEMA });
    const ingest = new RedisIngest(rb, { url: server.url, stream: s, group: 'g', consumer: 'c' });
    await ingest.start();
    const actor = new RedisActor({ url: server.url, stream: s, actorId: 'a', schema: SCHEMA, flushRows: 5, firstSequence: 1 });
    await actor.pushBatch(rows(0, 20));
    await until(() => rb.length === 20);
    rb.saveSync(file); // holds 4 entries; they are acknowledged once it is in place
    await until(() => ingest.stats.unacknowledged === 0);
    await actor.pushBatch(rows(20, 10));
    await until(() => rb.length === 30);
    expect(ingest.stats.unacknowledged).toBe(2); // applied, not archived: still pending in Redis
    // The learner dies here (its buffer is lost); a new one loads the archive.
    await ingest.stop();
    rb.close();
    const loaded = ReplayBuffer.loadSync(file);
    expect(loaded.length).toBe(20);
    const again = new RedisIngest(loaded, { url: server.url, stream: s, group: 'g', consumer: 'c' });
    expect(again.state().actors).toEqual({ a: 4 });
    // An actor replaying old sequence numbers is skipped too.
    const replay = new RedisActor({ url: server.url, stream: s, actorId: 'a', schema: SCHEMA, flushRows: 5, firstSequence: 2 });
    await replay.pushBatch(rows(500, 5));
    await replay.close();
    await again.start();
    await until(() => loaded.length === 30 && again.stats.duplicatesSkipped === 1);
    await actor.pushBatch(rows(30, 5));
    await actor.close();
    await until(() => loaded.length === 35);
    await again.stop();
    expectExactlyOnce(loaded.sampleAll() as unknown as Rows, 35);
    expect(() => new RedisIngest(loaded, { url: server.url, stream: s, group: 'g', consumer: 'c2' }).stop()).not.toThrow();
    loaded.close();
  });

  test("a dead consumer's pending entries are claimed once idle; entries waiting for a save are not delivered again", async () => {
    const s = 'claimed';
    const raw = rawRedis(server.url);
    await raw.xgroup('CREATE', s, 'g', '0', 'MKSTREAM');
    const actor = new RedisActor({ url: server.url, stream: s, actorId: 'a', schema: SCHEMA, flushRows: 5 });
    await actor.pushBatch(rows(0, 10));
    // Another learner read both entries and died before applying or acknowledging them.
    expect((await raw.xreadgroupBuffer('GROUP', 'g', 'dead', 'COUNT', 10, 'STREAMS', s, '>')).length).toBeGreaterThan(0);
    const rb = new ReplayBuffer({ capacity: 100, fields: SCHEMA });
    const ingest = new RedisIngest(rb, { url: server.url, stream: s, group: 'g', consumer: 'c', claimIdleMs: 30, blockMs: 20 });
    await ingest.start();
    await until(() => rb.length === 10, 15_000, 'the claimed rows');
    await actor.pushBatch(rows(10, 5));
    await actor.close();
    await until(() => rb.length === 15);
    // Several claim rounds later, our own unacknowledged entries were not delivered again.
    await new Promise((r) => setTimeout(r, 200));
    expect(ingest.stats.duplicatesSkipped).toBe(0);
    expect(ingest.stats.unacknowledged).toBe(3);
    rb.saveSync(path.join(dir, 'claimed.rkb'));
    await until(() => ingest.stats.unacknowledged === 0);
    await ingest.stop();
    expect((await raw.xpending(s, 'g'))[0]).toBe(0);
    raw.disconnect();
    expectExactlyOnce(rb.sampleAll() as unknown as Rows, 15);
    rb.close();
  });

  test('an ingest waits while its buffer is being saved, and stops when the buffer is closed', async () => {
    const s = 'saving';
    const rb = new ReplayBuffer({ capacity: 50_000, fields: SCHEMA });
    const errors: unknown[] = [];
    const ingest = new RedisIngest(rb, { url: server.url, stream: s, group: 'g', consumer: 'c', onError: (e) => errors.push(e) });
    await ingest.start();
    const actor = new RedisActor({ url: server.url, stream: s, actorId: 'a', schema: SCHEMA, flushRows: 100 });
    const sending = actor.pushBatch(rows(0, 20_000));
    for (let i = 0; i < 5; i++) await rb.save(path.join(dir, `saving-${i}.rkb`), { chunkBytes: 4096 });
    await sending;
    await actor.close();
    await until(() => rb.length === 20_000);
    expect(ingest.stats.deadLettered).toBe(0);
    rb.close();
    await until(() => errors.length > 0);
    expect(String(errors[0])).toMatch(/closed/);
    await ingest.stop();
  });
});

test('redis-server restarted (append-only file on) while an actor pushes and a learner ingests: both reconnect, every acknowledged row is there once', async () => {
  const server = await startRedis({ appendonly: true });
  try {
    const s = 'restart';
    const rb = new ReplayBuffer({ capacity: 10_000, fields: SCHEMA });
    const ingest = new RedisIngest(rb, { url: server.url, stream: s, group: 'g', consumer: 'c', acknowledge: 'applied', blockMs: 50 });
    await ingest.start();
    const actor = new RedisActor({ url: server.url, stream: s, actorId: 'a', schema: SCHEMA, flushRows: 20, retryMs: 30_000 });
    const total = 3000;
    const sending = (async () => {
      for (let i = 0; i < total; i += 20) await actor.pushBatch(rows(i, 20));
    })();
    for (let k = 0; k < 3; k++) {
      await until(() => rb.length >= (k + 1) * 400, 30_000, `${(k + 1) * 400} rows`);
      await server.restart();
    }
    await sending;
    await actor.close();
    expect(actor.stats.rows).toBe(total);
    await until(() => rb.length === total, 30_000, `${total} rows`);
    await ingest.stop();
    expectExactlyOnce(rb.sampleAll() as unknown as Rows, total);
    rb.close();
    // Every entry the learner was handed is acknowledged: none left pending and unseen.
    const raw = rawRedis(server.url);
    expect((await raw.xpending(s, 'g'))[0]).toBe(0);
    raw.disconnect();
  } finally {
    await server.stop();
  }
});
