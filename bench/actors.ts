/**
 * The actors group (`npm run bench -- --case actors`, issue #13): worker-thread writers
 * pushing into one buffer, the learner sampling beside them, and prefetched batches.
 *
 * - `actors pushBatch(256) N writers`: aggregate rate of N worker writers, each pushing
 *   batches of 256 MuJoCo rows into one 1M-capacity buffer, against one writer on the main
 *   thread (the reference), interleaved run by run. After the runs, 4 writers push 200,000
 *   known rows each into a fresh buffer and every row is checked: none lost, none twice,
 *   none torn, each writer's in its order.
 * - `actors sample(256) under 2 writers`: the learner's `sample(256, { out })` while 2
 *   writers push at full speed, against the same buffer idle.
 * - `actors batches(256) wait`: the time the learner waits in `next()` per batch of
 *   `batches({ batchSize: 256, prefetch: 2 })` when its training step takes 200 us (a busy
 *   loop), against the time of a synchronous `sample(256)` (what it would wait without
 *   prefetching).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ReplayBuffer } from '../lib/index';
import type { Group, Result } from './run';
import { measureAll, mujocoColumns, MUJOCO_CAPACITY, MUJOCO_ROW_BYTES, newMujoco, now } from './run';

const ROWS = 256;

/** A bench actor (bench/actor-worker.ts) and a way to wait for its next 'done'. */
class Actor {
  readonly worker: Worker;
  #waiting: (() => void)[] = [];
  constructor(handle: unknown, w: number, control: SharedArrayBuffer) {
    this.worker = new Worker(path.join(__dirname, 'actor-worker.js'), { workerData: { handle, rows: ROWS, w, control } });
    this.worker.on('message', () => this.#waiting.shift()?.());
    this.worker.on('error', (e) => {
      throw e;
    });
  }
  /** Resolves on the worker's next message. */
  next(): Promise<void> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  async command(m: object): Promise<void> {
    const done = this.next();
    this.worker.postMessage(m);
    await done;
  }
}

async function startActors(rb: ReplayBuffer, n: number, control: SharedArrayBuffer, first = 0): Promise<Actor[]> {
  const actors = Array.from({ length: n }, (_, i) => new Actor(rb.writerHandle(), first + i, control));
  await Promise.all(actors.map((a) => a.next())); // 'ready'
  return actors;
}

/** Pushes 200,000 known rows from each of 4 writers into a fresh buffer and checks every row. */
async function checkRows(log: (s: string) => void): Promise<string> {
  const per = 200_000;
  const rb = new ReplayBuffer({ capacity: 4 * per, obsShape: [17], actionShape: [6], seed: 2 });
  const actors = await startActors(rb, 4, new SharedArrayBuffer(4));
  try {
    await Promise.all(actors.map((a) => a.command({ check: true, count: per })));
    const all = rb.sampleAll();
    const next = [0, 0, 0, 0];
    let wrong = 0, torn = 0;
    for (let i = 0; i < all.reward.length; i++) {
      const id = all.reward[i];
      const w = Math.floor(id / 1e6);
      if (!(w >= 0 && w < 4) || id !== w * 1e6 + next[w]) wrong++;
      else next[w]++;
      const o = all.obs.subarray(i * 17, i * 17 + 17), x = all.nextObs.subarray(i * 17, i * 17 + 17);
      if (o.some((v) => v !== id % 4096) || x.some((v) => v !== (id % 4096) + 1) || all.action.subarray(i * 6, i * 6 + 6).some((v) => v !== id % 7) ||
        all.terminated[i] !== id % 2 || all.truncated[i] !== (id % 3 === 0 ? 1 : 0)) torn++;
    }
    const lost = 4 * per - next.reduce((a, b) => a + b, 0);
    const text = `checked 4 writers x ${per} rows: ${lost} lost, ${wrong} out of place or twice, ${torn} torn`;
    log(`  ${text}`);
    return text;
  } finally {
    await Promise.all(actors.map((a) => a.worker.terminate()));
    rb.close();
  }
}

export const actors: Group = {
  name: 'actors',
  cases: ['actors pushBatch(256) 1 writer', 'actors pushBatch(256) 2 writers', 'actors pushBatch(256) 4 writers', 'actors sample(256) under 2 writers', 'actors batches(256) wait'],
  async run(_roof, wanted, opts, log) {
    const out: Result[] = [];
    const rb = newMujoco();
    const main = mujocoColumns(ROWS);
    log('  filling (1,000,000 transitions) ...');
    const fillCols = mujocoColumns(10_000);
    for (let at = 0; at < MUJOCO_CAPACITY; at += 10_000) rb.pushBatch(fillCols);
    const control = new SharedArrayBuffer(4);
    const flag = new Int32Array(control);
    const pool = await startActors(rb, 4, control);
    try {
      const writersTimer = (k: number) => async (iters: number): Promise<number> => {
        const share = Math.ceil(iters / k);
        const t0 = now();
        await Promise.all(pool.slice(0, k).map((a) => a.command({ batches: share })));
        return Number(now() - t0) / (share * k);
      };
      const counts = [1, 2, 4].filter((k) => wanted(`actors pushBatch(256) ${k} writer${k > 1 ? 's' : ''}`));
      if (counts.length) {
        const results = await measureAll({
          name: 'actors pushBatch(256)', unit: 'transitions/s', rowsPerOp: ROWS, bytesPerOp: ROWS * MUJOCO_ROW_BYTES,
          contenders: [
            { role: 'roofline', label: 'one writer, main thread', time: (iters) => {
              const t0 = now();
              for (let i = 0; i < iters; i++) rb.pushBatch(main);
              return Number(now() - t0) / iters;
            } },
            ...counts.map((k) => ({
              role: 'replaykit' as const, label: `${k} worker writer${k > 1 ? 's' : ''}`, caseName: `actors pushBatch(256) ${k} writer${k > 1 ? 's' : ''}`, time: writersTimer(k),
              target: k === 2 ? { text: '>= 80% of one main-thread writer', minVsRoofline: 0.8 } : undefined,
            })),
          ],
        }, opts, log);
        const checked = await checkRows(log);
        for (const r of results) r.note = checked;
        out.push(...results);
      }
      const outBatch = rb.sample(ROWS);
      const sampleLoop = (iters: number): number => {
        const t0 = now();
        for (let i = 0; i < iters; i++) rb.sample(ROWS, { out: outBatch });
        return Number(now() - t0) / iters;
      };
      if (wanted('actors sample(256) under 2 writers')) {
        const busy = pool.slice(0, 2);
        const running = busy.map((a) => a.command({ forever: true }));
        out.push(...(await measureAll({
          name: 'actors sample(256) under 2 writers', unit: 'us/batch',
          contenders: [
            { role: 'roofline', label: 'idle buffer', time: sampleLoop },
            { role: 'replaykit', label: 'sample(256) out, 2 writers pushing', time: async (iters) => {
              Atomics.store(flag, 0, 1);
              Atomics.notify(flag, 0);
              await new Promise((r) => setTimeout(r, 2)); // the writers are pushing
              const ns = sampleLoop(iters);
              Atomics.store(flag, 0, 0);
              return ns;
            } },
          ],
          target: { text: '<= 1.5x the idle time', minVsRoofline: 1 / 1.5 },
        }, opts, log)));
        // Wall time on a machine with fewer cores than busy threads includes the time the
        // learner's thread waits for a core. Its own CPU time per sample (from
        // /proc/self/task/<main thread>/stat, 10 ms ticks: runs of 2 s) separates what the
        // writers cost the sample itself (the lock, the caches, the memory bus) from that.
        const cpuTicks = (): number => {
          const f = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
          return Number(f[11]) + Number(f[12]);
        };
        const cpuRun = (): { wall: number; cpu: number } => {
          const t0 = now(), c0 = cpuTicks();
          let n = 0;
          while (now() - t0 < 2_000_000_000n) {
            rb.sample(ROWS, { out: outBatch });
            n++;
          }
          return { wall: Number(now() - t0) / 1000 / n, cpu: ((cpuTicks() - c0) * 10_000) / n };
        };
        const idle = cpuRun();
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
        await new Promise((r) => setTimeout(r, 2));
        const busyRun = cpuRun();
        Atomics.store(flag, 0, 0);
        const note = `learner's own CPU time a sample: ${busyRun.cpu.toFixed(1)} us under 2 writers vs ${idle.cpu.toFixed(1)} us idle (${(busyRun.cpu / idle.cpu).toFixed(2)}x); wall ${busyRun.wall.toFixed(1)} vs ${idle.wall.toFixed(1)} us: the rest is waiting for a core (${os.cpus().length} cores, 3 busy threads)`;
        log(`  ${note}`);
        out[out.length - 1].note = note;
        Atomics.store(flag, 0, 2);
        Atomics.notify(flag, 0);
        await Promise.all(running);
      }
      if (wanted('actors batches(256) wait')) {
        const step = 200_000n; // ns of "training"
        const it = rb.batches({ batchSize: ROWS, prefetch: 2 });
        await it.next();
        out.push(...(await measureAll({
          name: 'actors batches(256) wait', unit: 'us/batch',
          contenders: [
            { role: 'roofline', label: 'sample(256) on the main thread', time: sampleLoop },
            { role: 'replaykit', label: 'wait in next(), 200 us steps (median batch of the run)', time: async (iters) => {
              // The target is the median wait of a batch: each run reports its batches' median.
              const waits = new Float64Array(iters);
              for (let i = 0; i < iters; i++) {
                const t0 = now();
                await it.next();
                const t1 = now();
                waits[i] = Number(t1 - t0);
                while (now() - t1 < step); // the training step
              }
              return waits.sort()[iters >> 1];
            } },
          ],
          target: { text: 'median < 5 us', maxMedian: 5 },
        }, opts, log)));
        await it.return();
      }
    } finally {
      Atomics.store(flag, 0, 2);
      Atomics.notify(flag, 0);
      await Promise.all(pool.map((a) => a.worker.terminate()));
      rb.close();
    }
    return out;
  },
};
