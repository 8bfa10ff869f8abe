/**
 * Atari with each frame stored once (issue #16): a buffer with `frameStack` and `next` against
 * the plain layout's 56,458 bytes a transition (obs and nextObs of 4x84x84 uint8, action, reward,
 * flags). Cases (in the atari group, `npm run bench -- --case atari`):
 * - `atari dedup bytes/transition`: RssAnon growth over filling 100,000 transitions, in a fresh
 *   process (target: at most 56,458 / 7).
 * - `atari dedup sample(256)`: rebuilt stacks against the memcpy roofline of the output bytes
 *   (256 x 56,458) from random records (target: at least 50% of its bandwidth).
 * And the group `atari-million` (`npm run bench -- --case atari-million`, about 7.5 GB of RAM):
 * a million Atari transitions in memory storage, filled, sampled, saved and loaded, with the figures.
 *
 * The pushes are what an agent with a 4-frame stacking wrapper pushes: full stacks, zero-padded
 * before an episode's first frame, episodes of 400 to 1,600 steps (Atari games run hundreds to
 * thousands of agent steps an episode), frames drawn from a pool of random 84x84 frames.
 * @module
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReplayBuffer } from '../lib/index';
import { bufferState } from '../lib/buffer/base';
import type { Group, Result } from './run';
import { measureAll, now } from './run';

const FRAME = 84 * 84;
const F = 4;
export const ATARI_ROW_BYTES = 2 * F * FRAME + 4 + 4 + 1 + 1; // 56458: the plain layout
const CAPACITY = 100_000;
const CHUNK = 500;

/** Anonymous resident memory (RssAnon), bytes. */
function rssAnon(): number {
  const m = /^RssAnon:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error('no RssAnon in /proc/self/status (Linux only)');
  return Number(m[1]) * 1024;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** The explicit schema of an Atari transition, obs stored once and stacked. */
export function dedupAtari(capacity: number) {
  return new ReplayBuffer({
    capacity, seed: 1, frameStack: { field: 'obs', frames: F },
    fields: {
      obs: { shape: [F, 84, 84], dtype: 'uint8', next: 'nextObs' },
      action: { shape: [], dtype: 'int32' },
      reward: { shape: [], dtype: 'float32' },
      terminated: { shape: [], dtype: 'bool' },
      truncated: { shape: [], dtype: 'bool' },
    },
  });
}

/** Columns of CHUNK consecutive steps of one environment, refilled in place chunk after chunk. */
export class AtariSteps {
  readonly pool: Uint8Array[];
  readonly cols = {
    obs: new Uint8Array(CHUNK * F * FRAME), action: new Int32Array(CHUNK), reward: new Float32Array(CHUNK),
    nextObs: new Uint8Array(CHUNK * F * FRAME), terminated: new Uint8Array(CHUNK), truncated: new Uint8Array(CHUNK),
  };
  #step = 0;
  #length = 0;
  #frames: number[] = []; // pool indexes of the episode's last F frames
  #s = 12345;
  constructor() {
    this.pool = Array.from({ length: 64 }, () => {
      const f = new Uint8Array(FRAME);
      for (let i = 0; i < FRAME; i++) f[i] = this.#rand() & 255;
      return f;
    });
    this.#newEpisode();
  }
  #rand(): number {
    this.#s ^= this.#s << 13;
    this.#s ^= this.#s >>> 17;
    this.#s ^= this.#s << 5;
    return this.#s >>> 0;
  }
  #newEpisode(): void {
    this.#step = 0;
    this.#length = 400 + (this.#rand() % 1200);
    this.#frames = [this.#rand() % 64];
  }
  #stack(frames: number[], out: Uint8Array, at: number): void {
    for (let j = 0; j < F; j++) {
      const k = frames.length - F + j;
      if (k >= 0) out.set(this.pool[frames[k]], at + j * FRAME);
      else out.fill(0, at + j * FRAME, at + (j + 1) * FRAME);
    }
  }
  next(): typeof this.cols {
    const c = this.cols;
    for (let r = 0; r < CHUNK; r++) {
      this.#stack(this.#frames, c.obs, r * F * FRAME);
      this.#frames.push(this.#rand() % 64);
      if (this.#frames.length > F) this.#frames.shift();
      this.#stack(this.#frames, c.nextObs, r * F * FRAME);
      c.action[r] = this.#rand() % 18;
      c.reward[r] = (this.#rand() % 3) - 1;
      const ends = ++this.#step >= this.#length;
      c.terminated[r] = ends ? 1 : 0;
      c.truncated[r] = 0;
      if (ends) this.#newEpisode();
    }
    return c;
  }
}

/**
 * In a fresh process: RssAnon growth over filling `n` transitions (capacity n), per transition;
 * `full`: and sample(256); `archive`: and saveSync, close, loadSync (time, file size, RssAnon
 * after the load, and whether the loaded buffer draws the batch the saved one drew next).
 */
export function probeDedup(n: number, full: boolean, archive = false): Record<string, number> {
  const steps = new AtariSteps();
  steps.next();
  gc();
  const before = rssAnon();
  const b = dedupAtari(n);
  const t0 = now();
  for (let done = 0; done < n; done += CHUNK) b.pushBatch(steps.next());
  const fillS = Number(now() - t0) / 1e9;
  gc();
  const after = rssAnon();
  const stats = bufferState(b).native.stats();
  const out: Record<string, number> = {
    transitions: n, fillSeconds: fillS, rssGrowthBytes: after - before, bytesPerTransition: (after - before) / n,
    storageBytes: stats.bytes, sideBytes: stats.sideBytes, rssAfterMB: after / 2 ** 20,
  };
  if (full) {
    let batch = b.sample(256);
    const t1 = now();
    const reps = 200;
    for (let i = 0; i < reps; i++) batch = b.sample(256, { out: batch });
    out.sample256Us = Number(now() - t1) / 1e3 / reps;
    out.sampleGBps = (256 * ATARI_ROW_BYTES) / (out.sample256Us * 1e3);
    if (archive) {
      // Save, free the buffer, load: the loaded buffer's first batch is the one the saved buffer
      // draws next (exact resume), compared whole.
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rk-atari-million-')), 'million.rkb');
      try {
        const t2 = now();
        b.saveSync(file);
        out.saveSeconds = Number(now() - t2) / 1e9;
        out.fileBytes = fs.statSync(file).size;
        const expected = b.sample(256);
        b.close();
        gc();
        const beforeLoad = rssAnon();
        const t3 = now();
        const loaded = ReplayBuffer.loadSync(file);
        out.loadSeconds = Number(now() - t3) / 1e9;
        gc();
        out.rssAfterLoadMB = rssAnon() / 2 ** 20;
        out.loadGrowthBytes = rssAnon() - beforeLoad;
        const got = loaded.sample(256);
        out.sameBatchAfterLoad = (['obs', 'nextObs', 'action', 'reward', 'indices'] as const).every((k) =>
          Buffer.from((got[k] as Uint8Array).buffer, (got[k] as Uint8Array).byteOffset, (got[k] as Uint8Array).byteLength).equals(
            Buffer.from((expected[k] as Uint8Array).buffer, (expected[k] as Uint8Array).byteOffset, (expected[k] as Uint8Array).byteLength))) ? 1 : 0;
        loaded.close();
      } finally {
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
      }
      return out;
    }
  }
  b.close();
  return out;
}

function probe(n: number, full: boolean, archive = false): Record<string, number> {
  const r = spawnSync(process.execPath, ['--expose-gc', require.resolve('./run'), '--dedup-probe', String(n), archive ? 'archive' : full ? 'full' : 'memory'],
    { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`dedup probe failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, number>;
}

/** The atari group's dedup cases (run by run.ts's atari group, before the plain ones). */
export async function atariDedupCases(roof: { command(c: string): Promise<unknown>; time(c: string): Promise<number> },
  wanted: (name: string) => boolean, opts: Parameters<typeof measureAll>[1], log: (s: string) => void): Promise<Result[]> {
  const out: Result[] = [];
  if (wanted('atari dedup bytes/transition')) {
    log('  atari dedup bytes/transition (fresh process, 100,000 transitions) ...');
    const p = probe(CAPACITY, false);
    const target = ATARI_ROW_BYTES / 7;
    out.push({
      case: 'atari dedup bytes/transition', unit: 'bytes/transition', median: p.bytesPerTransition, min: p.bytesPerTransition,
      max: p.bytesPerTransition, runs: 1, rawBytes: ATARI_ROW_BYTES, vsRaw: p.bytesPerTransition / ATARI_ROW_BYTES,
      storageBytesPerTransition: p.storageBytes / CAPACITY, sideBytesPerTransition: p.sideBytes / CAPACITY,
      target: `<= 1/7 of ${ATARI_ROW_BYTES} (${target.toFixed(0)})`, met: p.bytesPerTransition <= target,
      note: 'RssAnon growth over filling 100,000 transitions (frameStack 4 + next), fresh process; episodes of 400-1,600 steps',
    } as Result);
    log(`    ${p.bytesPerTransition.toFixed(0)} bytes/transition (${(ATARI_ROW_BYTES / p.bytesPerTransition).toFixed(2)}x less than ${ATARI_ROW_BYTES})`);
  }
  if (wanted('atari dedup sample(256)')) {
    log('  filling a deduplicated Atari buffer (100,000 transitions, about 0.7 GB) ...');
    const b = dedupAtari(CAPACITY);
    const steps = new AtariSteps();
    for (let done = 0; done < CAPACITY; done += CHUNK) b.pushBatch(steps.next());
    await roof.command(`setup-gather ${Math.floor(2 ** 30 / ATARI_ROW_BYTES)} ${ATARI_ROW_BYTES}`);
    let batch = b.sample(256);
    for (let t0 = now(); Number(now() - t0) < 2e9;) batch = b.sample(256, { out: batch }); // warm the pages
    for (let i = 0; i < 100; i++) await roof.time('gather 256 5');
    out.push(...await measureAll({
      name: 'atari dedup sample(256)', unit: 'us/batch', bytesPerOp: 256 * ATARI_ROW_BYTES,
      contenders: [
        { role: 'replaykit', label: 'replaykit (stacks rebuilt)', time: (k) => { const t = now(); for (let i = 0; i < k; i++) batch = b.sample(256, { out: batch }); return Number(now() - t) / k; } },
        { role: 'roofline', label: 'memcpy (random records)', time: (k) => roof.time(`gather 256 ${k}`) },
      ],
      target: { text: '>= 50% of memcpy bandwidth', minVsRoofline: 0.5 },
      note: 'frameStack 4 + next: obs and nextObs stacks rebuilt from 5 stored frames an item; output arrays reused (out)',
    }, opts, log));
    b.close();
    await roof.command('free');
  }
  return out;
}

/** A million Atari transitions in memory storage (opt-in: `--case atari-million`). */
export const atariMillion: Group = {
  name: 'atari-million',
  cases: ['million atari transitions'],
  async run(_roof, wanted, _opts, log) {
    // Opt-in only (it needs about 7.5 GB): named on the command line, never part of a full run.
    if (!wanted('million atari transitions') || !process.argv.some((a) => a.split(',').includes('atari-million'))) return [];
    log('  a million deduplicated Atari transitions (fresh process; about 7.5 GB of RAM) ...');
    const p = probe(1_000_000, true, true);
    log(`    filled in ${p.fillSeconds.toFixed(1)} s, ${(p.rssGrowthBytes / 2 ** 30).toFixed(2)} GiB resident, sample(256) ${p.sample256Us.toFixed(0)} us`);
    log(`    saved in ${p.saveSeconds.toFixed(1)} s (${(p.fileBytes / 2 ** 30).toFixed(2)} GiB, ${(p.fileBytes / 1e6).toFixed(0)} bytes a transition), loaded in ${p.loadSeconds.toFixed(1)} s, ${(p.rssAfterLoadMB / 1024).toFixed(2)} GiB resident after, same next batch: ${p.sameBatchAfterLoad === 1}`);
    return [{
      case: 'million atari transitions', unit: 'bytes/transition', median: p.bytesPerTransition, min: p.bytesPerTransition,
      max: p.bytesPerTransition, runs: 1, rawBytes: ATARI_ROW_BYTES, vsRaw: p.bytesPerTransition / ATARI_ROW_BYTES,
      storageBytesPerTransition: p.storageBytes / 1e6, residentGiB: p.rssGrowthBytes / 2 ** 30, fillSeconds: p.fillSeconds,
      sample256Us: p.sample256Us, sampleGBps: p.sampleGBps, plainGiB: (1e6 * ATARI_ROW_BYTES) / 2 ** 30,
      saveSeconds: p.saveSeconds, archiveGiB: p.fileBytes / 2 ** 30, archiveBytesPerTransition: p.fileBytes / 1e6,
      loadSeconds: p.loadSeconds, rssAfterLoadGiB: p.rssAfterLoadMB / 1024, loadGrowthGiB: p.loadGrowthBytes / 2 ** 30,
      sameBatchAfterLoad: p.sameBatchAfterLoad === 1,
      note: 'capacity 1,000,000, memory storage, frameStack 4 + next; RssAnon growth over the fill; sample(256) mean of 200 (out reused); saveSync, close, loadSync (memory storage): RssAnon after the load',
    } as Result];
  },
};
