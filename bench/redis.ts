/**
 * The Redis bench group (`npm run bench -- --case redis`; figures in bench/README.md):
 * rows per second from 1, 2 and 4 actor processes into one learner over loopback (MuJoCo
 * schema, 166 bytes a row, entries of 256 rows) against raw XADD / XREADGROUP / XACK of the
 * same bytes with the same client (the engine's roofline); the learner's sample(256) while
 * ingesting at full speed against an idle buffer; bytes on the wire per row against the raw
 * field bytes. Starts its own redis-server (scripts/redis-server.js) on a loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { ReplayBuffer } from '../lib/index';
import { RedisIngest } from '../lib/redis/index';
import { close, connect, readEntries } from '../lib/redis/client';
import { encodeEntry, wireSchema } from '../lib/redis/codec';
import { ENTRY_ROWS, MUJOCO_ROW_BYTES, MUJOCO_SCHEMA, mujocoRows } from './redis-schema';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startRedis } = require(path.join(__dirname, '..', '..', '..', 'scripts', 'redis-server.js')) as {
  startRedis(o?: object): Promise<{ url: string; stop(): Promise<void> }>;
};

/** Rows sent per measured run, over all actors. */
const RUN_ROWS = ENTRY_ROWS * 1000;
const RUNS = 11;

interface BenchResult { case: string; unit: 'transitions/s' | 'us/call' | 'bytes/transition'; median: number; min: number; max: number; runs: number; [k: string]: unknown }

function stat(v: number[]) {
  const s = [...v].sort((a, b) => a - b);
  return { median: s[s.length >> 1], min: s[0], max: s[s.length - 1], runs: s.length };
}

function actors(mode: 'rk' | 'raw', url: string, stream: string, n: number): Promise<ChildProcess[]> {
  const script = path.join(__dirname, 'redis-actor.js');
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      new Promise<ChildProcess>((resolve, reject) => {
        const p = spawn(process.execPath, [script, mode, url, stream, `actor-${i}`, String(RUN_ROWS / n)], { stdio: ['pipe', 'pipe', 'inherit'] });
        p.stdout!.once('data', () => resolve(p));
        p.once('exit', (code) => reject(new Error(`actor exited with ${code}`)));
      }),
    ),
  );
}

/** One run: rows/s from `n` actor processes into the learner (replaykit's, or raw reads and acks). */
async function run(mode: 'rk' | 'raw', url: string, n: number, k: number): Promise<number> {
  const stream = `bench:${mode}:${n}:${k}`;
  const procs = await actors(mode, url, stream, n);
  let got: () => number;
  let finish: () => Promise<void>;
  const rb = new ReplayBuffer({ capacity: RUN_ROWS, fields: MUJOCO_SCHEMA, seed: 1 });
  if (mode === 'rk') {
    const ingest = new RedisIngest(rb, { url, stream, group: 'g', consumer: 'c', acknowledge: 'applied', batchEntries: 16, blockMs: 50 });
    await ingest.start();
    got = () => rb.length;
    finish = () => ingest.stop();
  } else {
    const conn = connect({ url }, 'bench');
    await conn.client.call('XGROUP', 'CREATE', stream, 'g', '0', 'MKSTREAM');
    let rows = 0;
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        const entries = readEntries(await conn.client.callBuffer('XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', 16, 'BLOCK', 50, 'STREAMS', stream, '>'));
        if (entries.length === 0) continue;
        rows += entries.length * ENTRY_ROWS;
        await conn.client.callBuffer('XACK', stream, 'g', ...entries.map((e) => e[0]));
      }
    })();
    got = () => rows;
    finish = async () => {
      stop = true;
      await loop;
      await close(conn);
    };
  }
  const t0 = process.hrtime.bigint();
  for (const p of procs) p.stdin!.write('go\n');
  // Checked every millisecond: a tighter poll would take CPU from the processes measured.
  while (got() < RUN_ROWS) await new Promise((r) => setTimeout(r, 1));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await finish();
  await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))));
  rb.close();
  return RUN_ROWS / seconds;
}

/** sample(256) times in microseconds: on an idle buffer, or while one actor process sends at full speed. */
async function sampleTimes(url: string, busy: boolean): Promise<number[]> {
  const rb = new ReplayBuffer({ capacity: 1_000_000, fields: MUJOCO_SCHEMA, seed: 1 });
  const cols = mujocoRows(10_000);
  for (let i = 0; i < 10; i++) rb.pushBatch(cols);
  const stream = `bench:sample:${busy}`;
  const procs = busy ? await actors('rk', url, stream, 1) : [];
  const ingest = busy ? new RedisIngest(rb, { url, stream, group: 'g', consumer: 'c', acknowledge: 'applied', batchEntries: 16, blockMs: 50 }) : undefined;
  await ingest?.start();
  for (const p of procs) p.stdin!.write('go\n');
  const times: number[] = [];
  const out = rb.sample(256);
  for (let i = 0; i < 2000; i++) {
    const t0 = process.hrtime.bigint();
    rb.sample(256, { out });
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
    if (i % 4 === 0) await new Promise((r) => setImmediate(r)); // the training loop yields: the ingest runs between samples
  }
  await ingest?.stop();
  for (const p of procs) p.kill();
  rb.close();
  return times;
}

export const redis = {
  name: 'redis',
  cases: ['redis 1 actor', 'redis 2 actors', 'redis 4 actors', 'redis sample(256) while ingesting', 'redis bytes on the wire'],
  async run(_roof: unknown, wanted: (name: string) => boolean, _opts: unknown, log: (s: string) => void): Promise<BenchResult[]> {
    const server = await startRedis({ appendonly: false });
    const out: BenchResult[] = [];
    try {
      for (const n of [1, 2, 4]) {
        const name = `redis ${n} actor${n > 1 ? 's' : ''}`;
        if (!wanted(name)) continue;
        log(`  ${name}: ${RUNS} runs of ${RUN_ROWS} rows, replaykit and raw streams interleaved`);
        const rk: number[] = [];
        const raw: number[] = [];
        for (let k = 0; k < RUNS; k++) {
          rk.push(await run('rk', server.url, n, k));
          raw.push(await run('raw', server.url, n, k));
        }
        const s = stat(rk);
        const r = stat(raw);
        const vs = s.median / r.median;
        out.push({ case: name, unit: 'transitions/s', ...s, roofline: { label: 'raw XADD/XREADGROUP/XACK', ...r }, vsRoofline: vs, target: '>= 70% of raw', met: vs >= 0.7 });
      }
      if (wanted('redis sample(256) while ingesting')) {
        const idle = stat(await sampleTimes(server.url, false));
        const busy = stat(await sampleTimes(server.url, true));
        out.push({ case: 'redis sample(256) while ingesting', unit: 'us/call', ...busy, idleMedian: idle.median, note: `idle buffer: ${idle.median.toFixed(1)} us` });
      }
      if (wanted('redis bytes on the wire')) {
        const bytes = encodeEntry(wireSchema(MUJOCO_SCHEMA), 'actor-0', 1, ENTRY_ROWS, mujocoRows(ENTRY_ROWS), undefined).length;
        // The entry's bytes (header, actor id, CRC and field bytes); RESP framing adds ~40 bytes an entry.
        const perRow = bytes / ENTRY_ROWS;
        out.push({ case: 'redis bytes on the wire', unit: 'bytes/transition', median: perRow, min: perRow, max: perRow, runs: 1, rawBytes: MUJOCO_ROW_BYTES, vsRaw: perRow / MUJOCO_ROW_BYTES, storageBytesPerTransition: MUJOCO_ROW_BYTES, note: `${bytes} bytes an entry of ${ENTRY_ROWS} rows` });
      }
    } finally {
      await server.stop();
    }
    return out;
  },
};
