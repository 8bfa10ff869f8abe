/**
 * The episodes bench group (`npm run bench -- --case episodes`; figures in bench/README.md),
 * issue #15's targets:
 * - `sample(256)` with `nStep: { n: 3 }` against `sample(256)` of the same rows in a buffer
 *   without n-step returns (at most 1.5x);
 * - `sampleSequences(32, { length: 64, out })` on 1M MuJoCo items against the native program's
 *   random gather of 2,048 rows (at most 2x; out: the previous batch's arrays, as a learner's
 *   loop; a second row with fresh arrays every call, for information);
 * - the same at 10M items (tiered storage) against 1M (within 1.2x: the cost follows the batch).
 * The rows: 8 environments interleaved, episodes of 1,000 steps (the last truncated).
 * @module
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReplayBuffer } from '../lib/index';
import type { Group, Result } from './run';
import { measureAll, mujocoColumns, MUJOCO_CAPACITY, MUJOCO_ROW_BYTES, now } from './run';

const ENVS = 8;
const EPISODE = 1000;
const CHUNK = 8000;

/** MuJoCo columns of CHUNK rows, 8 envs round-robin, each env's episode truncated every 1,000 of its steps. */
function episodeChunks(): { cols: ReturnType<typeof mujocoColumns>; env: Uint32Array }[] {
  return [0, 1].map(() => {
    const cols = mujocoColumns(CHUNK);
    cols.terminated.fill(0);
    cols.truncated.fill(0);
    const env = new Uint32Array(CHUNK);
    for (let i = 0; i < CHUNK; i++) {
      env[i] = i % ENVS;
      if (Math.floor(i / ENVS) % EPISODE === EPISODE - 1) cols.truncated[i] = 1;
    }
    return { cols, env };
  });
}

function fillTo(b: ReplayBuffer, rows: number, chunks: ReturnType<typeof episodeChunks>): void {
  for (let done = 0, k = 0; done < rows; done += CHUNK, k++) b.pushBatch(chunks[k & 1].cols, { env: chunks[k & 1].env });
}

const timer = (fn: () => void) => (iters: number): number => {
  const t0 = now();
  for (let i = 0; i < iters; i++) fn();
  return Number(now() - t0) / iters;
};

export const episodes: Group = {
  name: 'episodes',
  cases: ['episodes sample(256) nStep 3', 'episodes sampleSequences(32, 64) 1M', 'episodes sampleSequences(32, 64) 1M fresh arrays', 'episodes sampleSequences(32, 64) 10M vs 1M', 'episodes random gather 10M vs 1M (the memory alone)'],
  async run(roof, wanted, opts, log) {
    const out: Result[] = [];
    const chunks = episodeChunks();
    const mujoco = { obsShape: [17], actionShape: [6], seed: 1 } as const;
    if (wanted('episodes sample(256) nStep 3')) {
      log('  filling two buffers (1,000,000 transitions each) ...');
      const plain = new ReplayBuffer({ ...mujoco, capacity: MUJOCO_CAPACITY, episodes: true });
      const nstep = new ReplayBuffer({ ...mujoco, capacity: MUJOCO_CAPACITY, nStep: { n: 3, gamma: 0.99 } });
      fillTo(plain, MUJOCO_CAPACITY, chunks);
      fillTo(nstep, MUJOCO_CAPACITY, chunks);
      let a = plain.sample(256), b = nstep.sample(256);
      out.push(...(await measureAll({
        name: 'episodes sample(256) nStep 3', unit: 'us/batch', bytesPerOp: 256 * MUJOCO_ROW_BYTES,
        contenders: [
          { role: 'roofline', label: 'sample(256) out, same rows, no n-step', time: timer(() => { a = plain.sample(256, { out: a }); }) },
          { role: 'replaykit', label: 'sample(256) out, nStep 3', time: timer(() => { b = nstep.sample(256, { out: b }); }) },
        ],
        target: { text: '<= 1.5x plain sample(256)', minVsRoofline: 1 / 1.5 },
        note: '8 envs interleaved, episodes of 1,000 steps',
      }, opts, log)));
      plain.close();
      nstep.close();
    }
    const seqOpts = { length: 64 };
    const want1M = wanted('episodes sampleSequences(32, 64) 1M'), wantFresh = wanted('episodes sampleSequences(32, 64) 1M fresh arrays');
    const want10M = wanted('episodes sampleSequences(32, 64) 10M vs 1M');
    if (want1M || wantFresh || want10M) {
      log('  filling 1,000,000 transitions ...');
      const small = new ReplayBuffer({ ...mujoco, capacity: MUJOCO_CAPACITY, episodes: true });
      fillTo(small, MUJOCO_CAPACITY, chunks);
      await roof.command(`setup-gather ${MUJOCO_CAPACITY} ${MUJOCO_ROW_BYTES}`);
      // A learner's loop: the previous batch's arrays reused (`out`), nothing allocated a call.
      let seqs = small.sampleSequences(32, seqOpts);
      const smallOut = () => { seqs = small.sampleSequences(32, { ...seqOpts, out: seqs }); };
      if (want1M) {
        out.push(...(await measureAll({
          name: 'episodes sampleSequences(32, 64) 1M', unit: 'us/batch', bytesPerOp: 2048 * MUJOCO_ROW_BYTES,
          contenders: [
            { role: 'roofline', label: 'random gather of 2,048 rows', time: (n) => roof.time(`gather 2048 ${n}`) },
            { role: 'replaykit', label: 'sampleSequences(32, { length: 64, out })', time: timer(smallOut) },
          ],
          target: { text: '<= 2x the random gather of 2,048 rows', minVsRoofline: 0.5 },
          note: 'out: the previous batch\'s arrays reused',
        }, opts, log)));
      }
      if (wantFresh) {
        out.push(...(await measureAll({
          name: 'episodes sampleSequences(32, 64) 1M fresh arrays', unit: 'us/batch', bytesPerOp: 2048 * MUJOCO_ROW_BYTES,
          contenders: [
            { role: 'roofline', label: 'random gather of 2,048 rows', time: (n) => roof.time(`gather 2048 ${n}`) },
            { role: 'replaykit', label: 'sampleSequences(32, { length: 64 })', time: timer(() => small.sampleSequences(32, seqOpts)) },
          ],
          note: 'for information: fresh output arrays every call (no target)',
        }, opts, log)));
      }
      if (want10M) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-bench-episodes-'));
        try {
          log('  filling 10,000,000 transitions (tiered storage, 1,000,000 hot) ...');
          const big = new ReplayBuffer({ ...mujoco, capacity: 10 * MUJOCO_CAPACITY, episodes: true, storage: { type: 'tiered', hotCapacity: MUJOCO_CAPACITY, path: path.join(dir, 'big.tier') } });
          fillTo(big, 10 * MUJOCO_CAPACITY, chunks);
          // Warm the page cache over the cold tier, as a training run's steady state.
          let bigSeqs = big.sampleSequences(32, seqOpts);
          for (let i = 0; i < 2000; i++) bigSeqs = big.sampleSequences(32, { ...seqOpts, out: bigSeqs });
          out.push(...(await measureAll({
            name: 'episodes sampleSequences(32, 64) 10M vs 1M', unit: 'us/batch', bytesPerOp: 2048 * MUJOCO_ROW_BYTES,
            contenders: [
              { role: 'roofline', label: 'the same at 1M items (memory)', time: timer(smallOut) },
              { role: 'replaykit', label: 'sampleSequences(32, { length: 64, out }) at 10M items (tiered)', time: timer(() => { bigSeqs = big.sampleSequences(32, { ...seqOpts, out: bigSeqs }); }) },
            ],
            target: { text: 'within 1.2x of 1M', minVsRoofline: 1 / 1.2 },
          }, opts, log)));
          big.close();
          // What the memory alone charges for the larger buffer: the native program's random
          // gather of 2,048 rows among 10M records against among the first 1M of the same block
          // (no replaykit; the 1M buffer fits this machine's last-level cache, the 10M does not).
          await roof.command(`setup-gather ${10 * MUJOCO_CAPACITY} ${MUJOCO_ROW_BYTES}`);
          out.push(...(await measureAll({
            name: 'episodes random gather 10M vs 1M (the memory alone)', unit: 'us/batch', bytesPerOp: 2048 * MUJOCO_ROW_BYTES,
            contenders: [
              { role: 'roofline', label: 'native random gather among 1M rows', time: (n) => roof.time(`gather-in 2048 ${n} ${MUJOCO_CAPACITY}`) },
              { role: 'replaykit', label: 'native random gather among 10M rows (no replaykit)', time: (n) => roof.time(`gather-in 2048 ${n} ${10 * MUJOCO_CAPACITY}`) },
            ],
            note: 'information for the 10M case: the hardware ratio, no replaykit code runs',
          }, opts, log)));
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }
      small.close();
      await roof.command('free');
    }
    return out;
  },
};
