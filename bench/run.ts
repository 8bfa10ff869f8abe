/**
 * replaykit's benchmark suite (`npm run bench`; see bench/README.md).
 *
 *   npm run bench                      every case, as a table
 *   npm run -s bench -- --json         one JSON object per case (case, unit, median, min, max, runs, ...)
 *   npm run bench -- --case per        a subset: group names or case-name substrings, comma-separated
 *   npm run bench -- --runs 9 --run-ms 30
 *
 * Every timed case runs replaykit and its references (the native roofline, the plain
 * TypeScript reference, and replaykit's core without Node where it applies) in the same
 * process run, interleaved run by run (rotating the order), after a warm-up; each run
 * is a block of repetitions lasting about --run-ms; medians are over --runs runs.
 * @module
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openArchive, PrioritizedReplayBuffer, ReplayBuffer } from '../lib/index';
import { bufferState } from '../lib/buffer/base';
import { PlainColumns, PlainField, PlainPrioritized, PlainReplay } from './reference';
import { buildRoofline, Roofline } from './roofline';
import { actors } from './actors';
import { episodes } from './episodes';
import { redis } from './redis';
import { atariDedupCases, atariMillion, probeDedup } from './atari-dedup';

// ---------------------------------------------------------------------------
// Options

interface Options {
  json: boolean;
  cases: string[];
  runs: number;
  runMs: number;
  warmup: number;
  /** Runs of the slow cases (archive saves and loads, full epochs: seconds each), after one warm-up run. */
  slowRuns: number;
  /** Time whole epochs even when one takes longer than EPOCH_SLOW_MS (see the epochs group). */
  fullEpochs: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { json: false, cases: [], runs: 7, runMs: 25, warmup: 2, slowRuns: 5, fullEpochs: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--json') o.json = true;
    else if (a === '--case' || a === '--cases') o.cases.push(...value().split(',').filter(Boolean));
    else if (a === '--runs') o.runs = Math.max(5, Number.parseInt(value(), 10));
    else if (a === '--run-ms') o.runMs = Math.max(1, Number(value()));
    else if (a === '--warmup') o.warmup = Math.max(1, Number.parseInt(value(), 10));
    else if (a === '--full-epochs') o.fullEpochs = true;
    else if (a === '--slow-runs') o.slowRuns = Math.max(5, Number.parseInt(value(), 10));
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: npm run bench -- [--json] [--case NAME[,NAME...]] [--runs N>=5] [--run-ms MS] [--warmup N] [--slow-runs N>=5] [--full-epochs]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  return o;
}

// ---------------------------------------------------------------------------
// Measurement

type Unit = 'transitions/s' | 'bytes/s' | 'us/batch' | 'us/step' | 'us/call' | 'bytes/transition' | 'MB RssAnon';

/** Units of rates (higher is better); the others are times per repetition, or memory. */
const isRate = (u: Unit): boolean => u === 'transitions/s' || u === 'bytes/s';
type Role = 'replaykit' | 'roofline' | 'ts' | 'core';

/** Runs `iters` repetitions; returns nanoseconds per repetition. */
type Timer = (iters: number) => number | Promise<number>;

interface Contender {
  role: Role;
  label: string;
  time: Timer;
  /**
   * For a case with more than one replaykit contender (e.g. tiered and mmap storage against
   * the same memory-storage reference, in the same interleaved runs): this one's case name,
   * and its own target and note.
   */
  caseName?: string;
  target?: Target;
  note?: string;
}

interface Target {
  text: string;
  /** replaykit's speed as a fraction of the roofline's must be at least this. */
  minVsRoofline?: number;
  /** replaykit must be at least this many times faster than the plain TypeScript reference. */
  minVsTs?: number;
  /** replaykit's median must be at most this (in the case's unit). */
  maxMedian?: number;
}

interface CaseSpec {
  name: string;
  unit: Unit;
  /** Transitions per repetition, for rate units. */
  rowsPerOp?: number;
  /** Bytes moved per repetition (reported as GB/s). */
  bytesPerOp?: number;
  contenders: Contender[];
  target?: Target;
  note?: string;
  /** Runs and warm-up runs for this case (default --runs and --warmup). */
  runs?: number;
  warmup?: number;
  /** Repetitions per run, skipping calibration (for repetitions of seconds, e.g. a 1 GB save). */
  iters?: number;
}

interface Stat {
  median: number;
  min: number;
  max: number;
  runs: number;
}

interface Reference extends Stat {
  label: string;
}

/** One case's result: the JSON line printed with --json. */
export interface Result {
  case: string;
  unit: Unit;
  median: number;
  min: number;
  max: number;
  runs: number;
  roofline?: Reference;
  /** replaykit's speed as a fraction of the roofline's (1 = as fast; time ratio = 1 / this). */
  vsRoofline?: number;
  ts?: Reference;
  /** How many times faster than the plain TypeScript reference. */
  vsTs?: number;
  core?: Reference;
  gbPerSecond?: number;
  target?: string;
  met?: boolean;
  note?: string;
  [extra: string]: unknown;
}

export const now = (): bigint => process.hrtime.bigint();

function stat(values: readonly number[]): Stat {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  const median = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  return { median, min: s[0], max: s[s.length - 1], runs: s.length };
}

function toUnit(spec: CaseSpec, nsPerOp: number): number {
  if (spec.unit === 'transitions/s') return ((spec.rowsPerOp ?? 1) * 1e9) / nsPerOp;
  if (spec.unit === 'bytes/s') return ((spec.bytesPerOp ?? 1) * 1e9) / nsPerOp;
  return nsPerOp / 1000;
}

function collectGarbage(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) g();
}

async function measure(spec: CaseSpec, opts: Options, log: (s: string) => void): Promise<Result> {
  return (await measureAll(spec, opts, log))[0];
}

/** Measures a case; one result per replaykit contender (each against the same references). */
export async function measureAll(spec: CaseSpec, opts: Options, log: (s: string) => void): Promise<Result[]> {
  // Calibrate: grow the repetitions until a call takes >= 2 ms, then size runs to opts.runMs.
  const iters = new Map<Contender, number>();
  for (const c of spec.contenders) {
    if (spec.iters !== undefined) {
      iters.set(c, spec.iters);
      continue;
    }
    let it = 1;
    let ns = await c.time(it);
    while (ns * it < 2e6 && it < 1e7) {
      it *= 4;
      ns = await c.time(it);
    }
    iters.set(c, Math.max(1, Math.min(1e7, Math.round((opts.runMs * 1e6) / ns))));
  }
  const samples = new Map<Contender, number[]>(spec.contenders.map((c) => [c, []]));
  const warmup = spec.warmup ?? opts.warmup;
  const total = warmup + (spec.runs ?? opts.runs);
  for (let r = 0; r < total; r++) {
    const k = r % spec.contenders.length;
    const order = [...spec.contenders.slice(k), ...spec.contenders.slice(0, k)];
    for (const c of order) {
      const ns = await c.time(iters.get(c)!);
      if (r >= warmup) samples.get(c)!.push(toUnit(spec, ns));
    }
  }
  const byRole = (role: Role): Reference | undefined => {
    const c = spec.contenders.find((x) => x.role === role);
    return c ? { label: c.label, ...stat(samples.get(c)!) } : undefined;
  };
  return spec.contenders.filter((c) => c.role === 'replaykit').map((c) => {
    const rk = { label: c.label, ...stat(samples.get(c)!) };
    return resultOf({ ...spec, name: c.caseName ?? spec.name, target: c.target ?? spec.target, note: c.note ?? spec.note }, rk, byRole, log);
  });
}

function resultOf(spec: CaseSpec, rk: Reference, byRole: (role: Role) => Reference | undefined, log: (s: string) => void): Result {
  const result: Result = { case: spec.name, unit: spec.unit, median: rk.median, min: rk.min, max: rk.max, runs: rk.runs };
  const rate = isRate(spec.unit);
  const speed = (ref: Reference): number => (rate ? rk.median / ref.median : ref.median / rk.median);
  const roof = byRole('roofline');
  if (roof) {
    result.roofline = roof;
    result.vsRoofline = speed(roof);
  }
  const ts = byRole('ts');
  if (ts) {
    result.ts = ts;
    result.vsTs = speed(ts);
  }
  const core = byRole('core');
  if (core) result.core = core;
  if (spec.unit === 'bytes/s') result.gbPerSecond = rk.median / 1e9;
  else if (spec.bytesPerOp) {
    const nsPerOp = rate ? ((spec.rowsPerOp ?? 1) * 1e9) / rk.median : rk.median * 1000;
    result.gbPerSecond = spec.bytesPerOp / nsPerOp;
  }
  if (spec.target) {
    result.target = spec.target.text;
    let met = true;
    if (spec.target.minVsRoofline !== undefined) met &&= (result.vsRoofline ?? 0) >= spec.target.minVsRoofline;
    if (spec.target.minVsTs !== undefined) met &&= (result.vsTs ?? 0) >= spec.target.minVsTs;
    if (spec.target.maxMedian !== undefined) met &&= result.median <= spec.target.maxMedian;
    result.met = met;
  }
  if (spec.note) result.note = spec.note;
  log(`  ${spec.name}: ${fmt(result.median)} ${spec.unit}`);
  return result;
}

// ---------------------------------------------------------------------------
// Data

let seed = 0x9e3779b9;
/** A fast deterministic fill (xorshift32), so that setup does not dominate the run time. */
function nextWord(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
function randomF32(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = nextWord() / 4294967296 - 0.5;
  return a;
}
function randomU8(n: number, max = 256): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = nextWord() % max;
  return a;
}

export const MUJOCO_CAPACITY = 1_000_000;
export const MUJOCO_ROW_BYTES = 17 * 4 + 6 * 4 + 4 + 17 * 4 + 1 + 1; // 166
const MUJOCO_PLAIN: PlainField[] = [
  { name: 'obs', elems: 17, kind: 'f32' },
  { name: 'action', elems: 6, kind: 'f32' },
  { name: 'reward', elems: 1, kind: 'f32' },
  { name: 'nextObs', elems: 17, kind: 'f32' },
  { name: 'terminated', elems: 1, kind: 'u8' },
  { name: 'truncated', elems: 1, kind: 'u8' },
];
const ATARI_CAPACITY = 100_000;
const ATARI_OBS = 4 * 84 * 84;
const ATARI_ROW_BYTES = 2 * ATARI_OBS + 4 + 4 + 1 + 1; // 56458
const ATARI_PLAIN: PlainField[] = [
  { name: 'obs', elems: ATARI_OBS, kind: 'u8' },
  { name: 'action', elems: 1, kind: 'f32' }, // int32 in replaykit: the same 4 bytes
  { name: 'reward', elems: 1, kind: 'f32' },
  { name: 'nextObs', elems: ATARI_OBS, kind: 'u8' },
  { name: 'terminated', elems: 1, kind: 'u8' },
  { name: 'truncated', elems: 1, kind: 'u8' },
];

export function mujocoColumns(n: number) {
  return {
    obs: randomF32(n * 17),
    action: randomF32(n * 6),
    reward: randomF32(n),
    nextObs: randomF32(n * 17),
    terminated: randomU8(n, 2),
    truncated: randomU8(n, 2),
  };
}

function atariColumns(n: number) {
  return {
    obs: randomU8(n * ATARI_OBS),
    action: Int32Array.from(randomU8(n, 18)),
    reward: randomF32(n),
    nextObs: randomU8(n * ATARI_OBS),
    terminated: randomU8(n, 2),
    truncated: randomU8(n, 2),
  };
}

function plainColumns<C extends Record<string, ArrayLike<number>>>(cols: C, fields: readonly PlainField[]): PlainColumns {
  const out: PlainColumns = {};
  for (const f of fields) {
    const v = cols[f.name] as unknown as Float32Array | Uint8Array | Int32Array;
    out[f.name] = f.kind === 'u8' ? (v as Uint8Array) : v instanceof Float32Array ? v : Float32Array.from(v);
  }
  return out;
}

export function newMujoco() {
  return new ReplayBuffer({ capacity: MUJOCO_CAPACITY, obsShape: [17], actionShape: [6], seed: 1 });
}
function newMujocoPer() {
  return new PrioritizedReplayBuffer({ capacity: MUJOCO_CAPACITY, obsShape: [17], actionShape: [6], seed: 1, alpha: 0.6 });
}

/** Fills a buffer to capacity from a few distinct chunks of `chunk` rows. */
function fill(push: (c: number) => void, capacity: number, chunk: number): void {
  for (let done = 0; done < capacity; done += chunk) push(done / chunk);
}

/** Random |TD errors|, in a pool read through rotating views. */
class Deltas {
  readonly pool = randomF32(1 << 16).map(Math.abs);
  #at = 0;
  next(n: number): Float32Array {
    if (this.#at + n > this.pool.length) this.#at = 0;
    const v = this.pool.subarray(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }
}

// ---------------------------------------------------------------------------
// Groups of cases (each sets up its buffers once)

export interface Group {
  name: string;
  cases: string[];
  run(roof: Roofline, wanted: (name: string) => boolean, opts: Options, log: (s: string) => void): Promise<Result[]>;
}

const loopTimer = (fn: () => void): Timer => (iters) => {
  const t0 = now();
  for (let i = 0; i < iters; i++) fn();
  return Number(now() - t0) / iters;
};

const push: Group = {
  name: 'push',
  cases: ['pushBatch(1000)', 'push'],
  async run(roof, wanted, opts, log) {
    const out: Result[] = [];
    const rk = newMujoco();
    const ts = new PlainReplay(MUJOCO_CAPACITY, MUJOCO_PLAIN);
    const chunks = [mujocoColumns(1000), mujocoColumns(1000)];
    const plainChunks = chunks.map((c) => plainColumns(c, MUJOCO_PLAIN));
    log('  filling (1,000,000 transitions) ...');
    fill((k) => rk.pushBatch(chunks[k % 2]), MUJOCO_CAPACITY, 1000); // every page touched: steady state
    fill((k) => ts.pushBatch(plainChunks[k % 2], 1000), MUJOCO_CAPACITY, 1000);
    await roof.command(`setup-push ${MUJOCO_CAPACITY} 1000`);
    if (wanted('pushBatch(1000)')) {
      let k = 0;
      out.push(await measure({
        name: 'pushBatch(1000)', unit: 'transitions/s', rowsPerOp: 1000, bytesPerOp: 1000 * MUJOCO_ROW_BYTES,
        contenders: [
          { role: 'replaykit', label: 'replaykit', time: loopTimer(() => rk.pushBatch(chunks[k++ & 1])) },
          { role: 'roofline', label: 'memcpy', time: (n) => roof.time(`memcpy-batch ${n}`) },
          { role: 'ts', label: 'plain TS', time: loopTimer(() => ts.pushBatch(plainChunks[k++ & 1], 1000)) },
        ],
        target: { text: '>= 40% of memcpy bytes/s', minVsRoofline: 0.4 },
      }, opts, log));
    }
    if (wanted('push')) {
      const c = chunks[0];
      const row = { obs: c.obs.subarray(0, 17), action: c.action.subarray(0, 6), reward: 0.5, nextObs: c.nextObs.subarray(0, 17), terminated: false, truncated: false };
      const plainRow = { obs: row.obs, action: row.action, reward: 0.5, nextObs: row.nextObs, terminated: 0, truncated: 0 };
      out.push(await measure({
        name: 'push', unit: 'transitions/s', rowsPerOp: 1, bytesPerOp: MUJOCO_ROW_BYTES,
        contenders: [
          { role: 'replaykit', label: 'replaykit', time: loopTimer(() => rk.push(row)) },
          { role: 'roofline', label: 'memcpy per row', time: (n) => roof.time(`memcpy-row ${n}`) },
          { role: 'ts', label: 'plain TS', time: loopTimer(() => ts.push(plainRow)) },
        ],
        note: 'one transition per call, typed-array fields',
      }, opts, log));
    }
    rk.close();
    await roof.command('free');
    return out;
  },
};

const uniform: Group = {
  name: 'uniform',
  cases: ['uniform sample(256)', 'uniform sample(256) out'],
  async run(roof, wanted, opts, log) {
    const out: Result[] = [];
    const rk = newMujoco();
    const ts = new PlainReplay(MUJOCO_CAPACITY, MUJOCO_PLAIN);
    const chunks = [mujocoColumns(1000), mujocoColumns(1000), mujocoColumns(1000)];
    log('  filling (1,000,000 transitions) ...');
    fill((k) => rk.pushBatch(chunks[k % 3]), MUJOCO_CAPACITY, 1000);
    fill((k) => ts.pushBatch(plainColumns(chunks[k % 3], MUJOCO_PLAIN), 1000), MUJOCO_CAPACITY, 1000);
    await roof.command(`setup-gather ${MUJOCO_CAPACITY} ${MUJOCO_ROW_BYTES}`);
    await roof.command(`setup-core ${MUJOCO_CAPACITY} 0`);
    const refs = (): Contender[] => [
      { role: 'roofline', label: 'random gather', time: (n) => roof.time(`gather 256 ${n}`) },
      { role: 'core', label: 'core, no Node', time: (n) => roof.time(`core-sample 256 ${n}`) },
    ];
    const target: Target = { text: '<= 2.5x random-gather time', minVsRoofline: 0.4 };
    if (wanted('uniform sample(256)')) {
      out.push(await measure({
        name: 'uniform sample(256)', unit: 'us/batch', bytesPerOp: 256 * MUJOCO_ROW_BYTES,
        contenders: [
          { role: 'replaykit', label: 'replaykit', time: loopTimer(() => rk.sample(256)) },
          ...refs(),
          { role: 'ts', label: 'plain TS', time: loopTimer(() => ts.sample(256)) },
        ],
        target, note: 'fresh output arrays every call',
      }, opts, log));
    }
    if (wanted('uniform sample(256) out')) {
      let b = rk.sample(256);
      const tb = ts.newBatch(256);
      const slots = new Uint32Array(256);
      out.push(await measure({
        name: 'uniform sample(256) out', unit: 'us/batch', bytesPerOp: 256 * MUJOCO_ROW_BYTES,
        contenders: [
          { role: 'replaykit', label: 'replaykit', time: loopTimer(() => { b = rk.sample(256, { out: b }); }) },
          ...refs(),
          { role: 'ts', label: 'plain TS', time: loopTimer(() => ts.sample(256, tb, slots)) },
        ],
        target, note: 'output arrays reused (out)',
      }, opts, log));
    }
    rk.close();
    await roof.command('free');
    return out;
  },
};

const prioritized: Group = {
  name: 'per',
  cases: ['per sample(256)', 'per step(256)'],
  async run(roof, wanted, opts, log) {
    const out: Result[] = [];
    const rk = newMujocoPer();
    const ts = new PlainPrioritized(MUJOCO_CAPACITY, MUJOCO_PLAIN, 0.6);
    const chunks = [mujocoColumns(1000), mujocoColumns(1000), mujocoColumns(1000)];
    log('  filling (1,000,000 transitions) and randomising priorities ...');
    fill((k) => rk.pushBatch(chunks[k % 3]), MUJOCO_CAPACITY, 1000);
    fill((k) => ts.pushBatch(plainColumns(chunks[k % 3], MUJOCO_PLAIN), 1000), MUJOCO_CAPACITY, 1000);
    const deltas = new Deltas();
    const keys = new Float64Array(10_000);
    const slots = new Uint32Array(10_000);
    for (let start = 0; start < MUJOCO_CAPACITY; start += keys.length) {
      for (let i = 0; i < keys.length; i++) slots[i] = keys[i] = start + i;
      const d = deltas.next(keys.length);
      rk.updatePriorities(keys, d);
      ts.updatePriorities(slots, d, 1e-6);
    }
    await roof.command(`setup-tree ${2 ** 20} ${MUJOCO_CAPACITY}`);
    await roof.command(`setup-gather ${MUJOCO_CAPACITY} ${MUJOCO_ROW_BYTES}`);
    await roof.command(`setup-core ${MUJOCO_CAPACITY} 1`);
    let b = rk.sample(256);
    const tb = ts.newBatch(256);
    const tslots = new Uint32Array(256);
    const tweights = new Float32Array(256);
    if (wanted('per sample(256)')) {
      out.push(await measure({
        name: 'per sample(256)', unit: 'us/batch', bytesPerOp: 256 * MUJOCO_ROW_BYTES,
        contenders: [
          { role: 'replaykit', label: 'replaykit', time: loopTimer(() => { b = rk.sample(256, { out: b }); }) },
          { role: 'roofline', label: 'binary sum-tree + gather', time: (n) => roof.time(`tree-sample-gather 256 ${n}`) },
          { role: 'core', label: 'core, no Node', time: (n) => roof.time(`core-sample 256 ${n}`) },
          { role: 'ts', label: 'plain TS', time: loopTimer(() => ts.samplePrioritized(256, 0.4, tb, tslots, tweights)) },
        ],
        note: 'stratified, with IS weights; output arrays reused (out)',
      }, opts, log));
    }
    if (wanted('per step(256)')) {
      out.push(await measure({
        name: 'per step(256)', unit: 'us/step',
        contenders: [
          {
            role: 'replaykit', label: 'replaykit', time: loopTimer(() => {
              b = rk.sample(256, { out: b });
              rk.updatePriorities(b.indices, deltas.next(256));
            }),
          },
          { role: 'roofline', label: 'binary sum-tree', time: (n) => roof.time(`tree-step 256 ${n}`) },
          { role: 'core', label: 'core, no Node', time: (n) => roof.time(`core-step 256 ${n}`) },
          {
            role: 'ts', label: 'plain TS', time: loopTimer(() => {
              ts.samplePrioritized(256, 0.4, tb, tslots, tweights);
              ts.updatePriorities(tslots, deltas.next(256), 1e-6);
            }),
          },
        ],
        target: { text: '<= 2x binary sum-tree time (stretch: <= 1x); >= 10x plain TS', minVsRoofline: 0.5, minVsTs: 10 },
        note: 'sample(256, { out }) then updatePriorities of those 256',
      }, opts, log));
    }
    rk.close();
    await roof.command('free');
    return out;
  },
};

const atari: Group = {
  name: 'atari',
  cases: ['atari dedup bytes/transition', 'atari dedup sample(256)', 'atari sample(32)', 'atari sample(256)', 'atari sample(256) fresh'],
  async run(roof, wanted, opts, log) {
    // Each frame stored once (bench/atari-dedup.ts) first: it needs 1 GB, the plain layout 12.
    const out: Result[] = await atariDedupCases(roof, wanted, opts, log);
    if (!['atari sample(32)', 'atari sample(256)', 'atari sample(256) fresh'].some(wanted)) return out;
    const need = 2 * ATARI_CAPACITY * ATARI_ROW_BYTES + 2 ** 30;
    if (os.freemem() < need + 2 ** 30)
      log(`  warning: ${(os.freemem() / 2 ** 30).toFixed(1)} GiB free; this group needs about ${(need / 2 ** 30).toFixed(1)} GiB`);
    const rk = new ReplayBuffer({ capacity: ATARI_CAPACITY, obsShape: [4, 84, 84], obsDtype: 'uint8', actionDtype: 'int32', seed: 1 });
    const ts = new PlainReplay(ATARI_CAPACITY, ATARI_PLAIN);
    const chunks = [atariColumns(500), atariColumns(500)];
    const plain = chunks.map((c) => plainColumns(c, ATARI_PLAIN));
    log('  filling (100,000 Atari transitions, twice 5.6 GB) ...');
    fill((k) => rk.pushBatch(chunks[k % 2]), ATARI_CAPACITY, 500);
    fill((k) => ts.pushBatch(plain[k % 2], 500), ATARI_CAPACITY, 500);
    // The roofline copies the same bytes from random records of a 1 GiB pool (four times the L3 here).
    const poolRecords = Math.floor(2 ** 30 / ATARI_ROW_BYTES);
    await roof.command(`setup-gather ${poolRecords} ${ATARI_ROW_BYTES}`);
    // On these VMs the first random reads of freshly filled gigabytes run several times
    // slower than later ones (seen as 2-8x on the first few hundred batches, for replaykit,
    // the plain TS buffer and the roofline's pool alike): sample each for a while first, so
    // that the timed runs see the steady state.
    log('  warming up (sampling each buffer and the roofline\'s pool for about 3 s) ...');
    {
      let wb = rk.sample(32);
      const wtb = ts.newBatch(32);
      const wslots = new Uint32Array(32);
      for (const [label, fn] of [['replaykit', () => { wb = rk.sample(32, { out: wb }); }], ['plain TS', () => ts.sample(32, wtb, wslots)]] as const) {
        const t0 = now();
        let calls = 0;
        while (Number(now() - t0) < 3e9) {
          fn();
          calls++;
        }
        log(`    ${label}: ${calls} batches`);
      }
      const t0 = now();
      let calls = 0;
      while (Number(now() - t0) < 3e9) {
        await roof.time('gather 32 200');
        calls += 200;
      }
      log(`    roofline: ${calls} batches`);
    }
    for (const n of [32, 256]) {
      const name = `atari sample(${n})`;
      if (!wanted(name)) continue;
      let b = rk.sample(n);
      const tb = ts.newBatch(n);
      const slots = new Uint32Array(n);
      out.push(await measure({
        name, unit: 'us/batch', bytesPerOp: n * ATARI_ROW_BYTES,
        contenders: [
          { role: 'replaykit', label: 'replaykit', time: loopTimer(() => { b = rk.sample(n, { out: b }); }) },
          { role: 'roofline', label: 'memcpy (random records)', time: (k) => roof.time(`gather ${n} ${k}`) },
          { role: 'ts', label: 'plain TS', time: loopTimer(() => ts.sample(n, tb, slots)) },
        ],
        target: n === 256 ? { text: '>= 70% of memcpy bandwidth', minVsRoofline: 0.7 } : undefined,
        note: 'output arrays reused (out)',
      }, opts, log));
    }
    if (wanted('atari sample(256) fresh')) {
      out.push(await measure({
        name: 'atari sample(256) fresh', unit: 'us/batch', bytesPerOp: 256 * ATARI_ROW_BYTES,
        contenders: [
          { role: 'replaykit', label: 'replaykit', time: loopTimer(() => rk.sample(256)) },
          { role: 'roofline', label: 'memcpy (random records)', time: (k) => roof.time(`gather 256 ${k}`) },
          { role: 'ts', label: 'plain TS', time: loopTimer(() => ts.sample(256)) },
        ],
        note: 'fresh output arrays every call (14 MB of new pages per batch)',
      }, opts, log));
    }
    rk.close();
    await roof.command('free');
    return out;
  },
};

/** Resident-memory growth over filling one kind of buffer, measured in a fresh process. */
function probeMemory(kind: string): { perRow: number; storage: number; rssMB: number } {
  const rss = (): number => {
    collectGarbage();
    return process.memoryUsage().rss;
  };
  const chunk = mujocoColumns(1000);
  const plain = plainColumns(chunk, MUJOCO_PLAIN);
  const before = rss();
  let storage = MUJOCO_ROW_BYTES;
  if (kind === 'uniform' || kind === 'prioritized') {
    const b = kind === 'uniform' ? newMujoco() : newMujocoPer();
    fill(() => b.pushBatch(chunk), MUJOCO_CAPACITY, 1000);
    storage = bufferState(b).native.stats().bytes / MUJOCO_CAPACITY;
  } else {
    const t = kind === 'ts-uniform' ? new PlainReplay(MUJOCO_CAPACITY, MUJOCO_PLAIN) : new PlainPrioritized(MUJOCO_CAPACITY, MUJOCO_PLAIN, 0.6);
    fill(() => t.pushBatch(plain, 1000), MUJOCO_CAPACITY, 1000);
  }
  const after = rss();
  return { perRow: (after - before) / MUJOCO_CAPACITY, storage, rssMB: after / 2 ** 20 };
}

const memory: Group = {
  name: 'memory',
  cases: ['memory uniform', 'memory prioritized'],
  async run(_roof, wanted, _opts, log) {
    const out: Result[] = [];
    const probe = (kind: string): { perRow: number; storage: number; rssMB: number } => {
      const r = spawnSync(process.execPath, ['--expose-gc', __filename, '--memory-probe', kind], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`memory probe ${kind} failed:\n${r.stderr}`);
      return JSON.parse(r.stdout) as { perRow: number; storage: number; rssMB: number };
    };
    for (const kind of ['uniform', 'prioritized']) {
      const name = `memory ${kind}`;
      if (!wanted(name)) continue;
      log(`  ${name} ...`);
      const rk = probe(kind);
      const ts = probe(`ts-${kind}`);
      out.push({
        case: name, unit: 'bytes/transition', median: rk.perRow, min: rk.perRow, max: rk.perRow, runs: 1,
        rawBytes: MUJOCO_ROW_BYTES,
        vsRaw: rk.perRow / MUJOCO_ROW_BYTES,
        storageBytesPerTransition: rk.storage,
        residentMB: rk.rssMB,
        ts: { label: 'plain TS', median: ts.perRow, min: ts.perRow, max: ts.perRow, runs: 1 },
        note: 'resident-memory growth over filling 1,000,000 transitions, per transition (fresh process each)',
      });
    }
    return out;
  },
};

// ---------------------------------------------------------------------------
// Files: every file the bench makes lives in one directory under os.tmpdir(), removed at the
// end of its group, and at exit (also on an error, Ctrl-C or SIGTERM) if still there.

const tempDirs = new Set<string>();
let tempHooks = false;

function makeTempDir(): string {
  if (!tempHooks) {
    tempHooks = true;
    process.on('exit', () => {
      for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
    });
    for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) process.once(sig, () => process.exit(code));
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-bench-'));
  tempDirs.add(dir);
  return dir;
}

function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Anonymous resident memory (RssAnon in /proc/self/status), in bytes. */
function rssAnon(): number {
  const m = /^RssAnon:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error('no RssAnon in /proc/self/status (Linux only)');
  return Number(m[1]) * 1024;
}

// ---------------------------------------------------------------------------
// tiered (issue #4): Atari rows, a tiered buffer whose cold tier is 5x its hot tier

const TIERED_CAPACITY = 30_000;
const TIERED_HOT = 5_000;
const TIERED_FILL = TIERED_CAPACITY + TIERED_HOT; // past capacity: the ring has wrapped, both tiers full
const TIERED_BATCH = 32;

type TieredKind = 'memory' | 'tiered' | 'mmap';

function atariFields() {
  return {
    obs: { shape: [4, 84, 84], dtype: 'uint8' },
    action: { shape: [], dtype: 'int32' },
    reward: { shape: [], dtype: 'float32' },
    nextObs: { shape: [4, 84, 84], dtype: 'uint8' },
    terminated: { shape: [], dtype: 'bool' },
    truncated: { shape: [], dtype: 'bool' },
  } as const;
}

function newAtariStored(kind: TieredKind, file: string) {
  const storage = kind === 'memory' ? ({ type: 'memory' } as const)
    : kind === 'mmap' ? ({ type: 'mmap', path: file } as const)
    : ({ type: 'tiered', hotCapacity: TIERED_HOT, path: file } as const);
  return new ReplayBuffer({ capacity: TIERED_CAPACITY, fields: atariFields(), seed: 1, storage });
}

interface RssProbe {
  baselineMB: number;
  afterMB: number;
  growthMB: number;
}

/** In a fresh process: RssAnon before making a buffer (inputs already made) and after filling it past capacity. */
function probeRss(kind: TieredKind, file: string): RssProbe {
  const chunks = [atariColumns(TIERED_BATCH), atariColumns(TIERED_BATCH)];
  collectGarbage();
  const before = rssAnon();
  const b = newAtariStored(kind, file);
  fill((k) => b.pushBatch(chunks[k & 1]), TIERED_FILL, TIERED_BATCH);
  collectGarbage();
  const after = rssAnon();
  b.close();
  return { baselineMB: before / 2 ** 20, afterMB: after / 2 ** 20, growthMB: (after - before) / 2 ** 20 };
}

const tiered: Group = {
  name: 'tiered',
  cases: ['tiered pushBatch(32)', 'mmap pushBatch(32)', 'tiered sample(32)', 'mmap sample(32)', 'tiered sample(256)', 'mmap sample(256)',
    'tiered RssAnon', 'memory RssAnon', 'mmap RssAnon'],
  async run(_roof, wanted, opts, log) {
    const out: Result[] = [];
    const dir = makeTempDir();
    const bufs: { close(): void }[] = [];
    try {
      const hotMB = (TIERED_HOT * ATARI_ROW_BYTES) / 2 ** 20;
      const allMB = (TIERED_CAPACITY * ATARI_ROW_BYTES) / 2 ** 20;
      // Memory first, each in a fresh process, so that nothing else here is resident.
      for (const kind of ['tiered', 'memory', 'mmap'] as const) {
        const name = `${kind} RssAnon`;
        if (!wanted(name)) continue;
        log(`  ${name} (fresh process) ...`);
        const r = spawnSync(process.execPath, ['--expose-gc', __filename, '--rss-probe', kind, path.join(dir, `probe-${kind}.rkb`)], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`RssAnon probe ${kind} failed:\n${r.stderr}`);
        const p = JSON.parse(r.stdout) as RssProbe;
        const refMB = kind === 'tiered' ? hotMB : allMB;
        const res: Result = {
          case: name, unit: 'MB RssAnon', median: p.growthMB, min: p.growthMB, max: p.growthMB, runs: 1,
          baselineMB: p.baselineMB, afterMB: p.afterMB,
          referenceLabel: kind === 'tiered' ? 'hot tier' : 'all items', referenceMB: refMB, vsReference: p.growthMB / refMB,
          note: `RssAnon growth over filling ${TIERED_FILL} Atari transitions (capacity ${TIERED_CAPACITY}` +
            `${kind === 'tiered' ? `, hotCapacity ${TIERED_HOT}` : ''}), fresh process, baseline taken before making the buffer`,
        };
        if (kind === 'tiered') {
          res.target = 'RssAnon <= baseline + 1.3x hot tier';
          res.met = p.growthMB <= 1.3 * hotMB;
        }
        log(`  ${name}: +${fmt(p.growthMB)} MB over a ${fmt(p.baselineMB)} MB baseline (${(p.growthMB / refMB).toFixed(2)}x ${res.referenceLabel as string})`);
        out.push(res);
      }
      const speedCases = tiered.cases.filter((c) => !c.includes('RssAnon') && wanted(c));
      if (speedCases.length === 0) return out;
      log(`  filling three Atari buffers (memory, tiered, mmap; ${TIERED_FILL} transitions each, ${(allMB / 1024).toFixed(1)} GiB) ...`);
      const chunks = [atariColumns(TIERED_BATCH), atariColumns(TIERED_BATCH), atariColumns(TIERED_BATCH)];
      const made = (['memory', 'tiered', 'mmap'] as const).map((kind) => {
        const b = newAtariStored(kind, path.join(dir, `${kind}.rkb`));
        bufs.push(b);
        fill((k) => b.pushBatch(chunks[k % 3]), TIERED_FILL, TIERED_BATCH);
        return b;
      });
      const [mem, tier, mm] = made;
      const of = (kind: 'tiered' | 'mmap', what: string): string => `${kind} ${what}`;
      const wantedBoth = (what: string): boolean => wanted(of('tiered', what)) || wanted(of('mmap', what));
      const contenders = (what: string, time: (b: typeof mem) => Timer, refLabel = 'memory storage'): Contender[] => [
        ...(wanted(of('tiered', what)) ? [{ role: 'replaykit' as const, label: 'tiered', caseName: of('tiered', what), time: time(tier) }] : []),
        ...(wanted(of('mmap', what)) ? [{ role: 'replaykit' as const, label: 'mmap', caseName: of('mmap', what), time: time(mm) }] : []),
        { role: 'roofline', label: refLabel, time: time(mem) },
      ];
      const what = `pushBatch(${TIERED_BATCH})`;
      if (wantedBoth(what)) {
        let k = 0;
        out.push(...await measureAll({
          name: what, unit: 'transitions/s', rowsPerOp: TIERED_BATCH, bytesPerOp: TIERED_BATCH * ATARI_ROW_BYTES,
          contenders: contenders(what, (b) => loopTimer(() => b.pushBatch(chunks[k++ % 3]))),
          note: `full ring (steady state), capacity ${TIERED_CAPACITY}, hotCapacity ${TIERED_HOT}; against the same buffer on memory storage`,
        }, opts, log));
      }
      for (const n of [32, 256]) {
        const w = `sample(${n})`;
        if (!wantedBoth(w)) continue;
        const outs = new Map(made.map((b) => [b, b.sample(n)]));
        out.push(...await measureAll({
          name: w, unit: 'us/batch', bytesPerOp: n * ATARI_ROW_BYTES,
          contenders: contenders(w, (b) => loopTimer(() => { outs.set(b, b.sample(n, { out: outs.get(b) })); })),
          note: `output arrays reused (out); ${((TIERED_CAPACITY - TIERED_HOT) / TIERED_CAPACITY * 100).toFixed(0)}% of draws from the cold tier (page cache); against memory storage`,
        }, opts, log));
      }
    } finally {
      for (const b of bufs) b.close();
      removeTempDir(dir);
    }
    return out;
  },
};

// ---------------------------------------------------------------------------
// archive (issue #5): save and load of a ~1 GB buffer against plain sequential file I/O

const ARCHIVE_CAPACITY = 5_500_000; // MuJoCo rows: 913 MB of field data, ~1 GB of archive
const SMALL_ARCHIVE_CAPACITY = 1_000;
const IO_CHUNK = 16 << 20;

function writeFileChunked(file: string, src: Uint8Array): void {
  const fd = fs.openSync(file, 'w', 0o644);
  try {
    for (let at = 0; at < src.length; at += IO_CHUNK) fs.writeSync(fd, src, at, Math.min(IO_CHUNK, src.length - at), at);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function readFileChunked(file: string, bytes: number): Uint8Array {
  const dst = new Uint8Array(bytes); // fresh, as load's buffer is: its pages are faulted in by the read
  const fd = fs.openSync(file, 'r');
  try {
    for (let at = 0; at < bytes;) {
      const got = fs.readSync(fd, dst, at, Math.min(IO_CHUNK, bytes - at), at);
      if (got <= 0) throw new Error(`short read of ${file}`);
      at += got;
    }
  } finally {
    fs.closeSync(fd);
  }
  return dst;
}

/** Times one async call per repetition. */
const asyncTimer = (fn: () => Promise<void>): Timer => async (iters) => {
  const t0 = now();
  for (let i = 0; i < iters; i++) await fn();
  return Number(now() - t0) / iters;
};

const archive: Group = {
  name: 'archive',
  cases: ['archive saveSync', 'archive save', 'archive loadSync', 'archive load', 'openArchive(1 GB)'],
  async run(_roof, wanted, opts, log) {
    const out: Result[] = [];
    const dir = makeTempDir();
    let rk: ReturnType<typeof newMujoco> | undefined;
    let small: ReturnType<typeof newMujoco> | undefined;
    try {
      const free = fs.statfsSync(dir);
      if (free.bavail * free.bsize < 4 * 2 ** 30) log(`  warning: ${((free.bavail * free.bsize) / 2 ** 30).toFixed(1)} GiB free in ${dir}; this group needs about 3 GiB`);
      rk = new ReplayBuffer({ capacity: ARCHIVE_CAPACITY, obsShape: [17], actionShape: [6], seed: 1 });
      log(`  filling (${ARCHIVE_CAPACITY.toLocaleString('en')} MuJoCo transitions) ...`);
      const chunks = [mujocoColumns(10_000), mujocoColumns(10_000), mujocoColumns(10_000)];
      const big = rk;
      fill((k) => big.pushBatch(chunks[k % 3]), ARCHIVE_CAPACITY, 10_000);
      const bigPath = path.join(dir, 'big.rkb');
      const plainPath = path.join(dir, 'plain.bin');
      big.saveSync(bigPath); // the archive the load cases read (saves below overwrite it in place)
      const bytes = fs.statSync(bigPath).size;
      log(`  archive: ${(bytes / 2 ** 20).toFixed(0)} MiB`);
      // The same number of bytes for the plain write: a random 16 MiB block, repeated.
      const src = new Uint8Array(bytes);
      src.set(randomU8(Math.min(IO_CHUNK, bytes)));
      for (let have = Math.min(IO_CHUNK, bytes); have < bytes; have *= 2) src.copyWithin(have, 0, Math.min(have, bytes - have));
      writeFileChunked(plainPath, src);
      const io = { runs: opts.slowRuns, warmup: 1, iters: 1, bytesPerOp: bytes };
      const saves = ['archive saveSync', 'archive save'].filter(wanted);
      if (saves.length) {
        out.push(...await measureAll({
          name: 'archive save', unit: 'bytes/s', ...io,
          contenders: [
            ...(wanted('archive saveSync') ? [{ role: 'replaykit' as const, label: 'saveSync', caseName: 'archive saveSync', time: loopTimer(() => big.saveSync(bigPath)) }] : []),
            ...(wanted('archive save') ? [{ role: 'replaykit' as const, label: 'save', caseName: 'archive save', time: asyncTimer(() => big.save(bigPath)) }] : []),
            { role: 'roofline', label: 'writeSync 16 MiB chunks + fsync', time: loopTimer(() => writeFileChunked(plainPath, src)) },
          ],
          note: `${(bytes / 2 ** 20).toFixed(0)} MiB archive (${ARCHIVE_CAPACITY} MuJoCo transitions), temporary file + fsync + rename; reference: the same bytes written sequentially to a file, fsync`,
        }, opts, log));
      }
      if (['archive loadSync', 'archive load'].some(wanted)) {
        out.push(...await measureAll({
          name: 'archive load', unit: 'bytes/s', ...io,
          contenders: [
            ...(wanted('archive loadSync') ? [{ role: 'replaykit' as const, label: 'loadSync', caseName: 'archive loadSync', time: loopTimer(() => { ReplayBuffer.loadSync(bigPath).close(); collectGarbage(); }) }] : []),
            ...(wanted('archive load') ? [{ role: 'replaykit' as const, label: 'load', caseName: 'archive load', time: asyncTimer(async () => { (await ReplayBuffer.load(bigPath)).close(); collectGarbage(); }) }] : []),
            { role: 'roofline', label: 'readSync 16 MiB chunks', time: loopTimer(() => { readFileChunked(plainPath, bytes); collectGarbage(); }) },
          ],
          note: 'files in the page cache (just written): memory-speed reads; load verifies every checksum and copies into a new memory buffer; reference: readSync of the same bytes into a fresh array',
        }, opts, log));
      }
      if (wanted('openArchive(1 GB)')) {
        small = new ReplayBuffer({ capacity: SMALL_ARCHIVE_CAPACITY, obsShape: [17], actionShape: [6], seed: 1 });
        const s = small;
        fill((k) => s.pushBatch(chunks[k % 3]), SMALL_ARCHIVE_CAPACITY, 1_000);
        const smallPath = path.join(dir, 'small.rkb');
        s.saveSync(smallPath);
        const smallBytes = fs.statSync(smallPath).size;
        out.push(...await measureAll({
          name: 'openArchive(1 GB)', unit: 'us/call',
          contenders: [
            { role: 'replaykit', label: 'openArchive', time: loopTimer(() => openArchive(bigPath).close()) },
            { role: 'roofline', label: `openArchive of ${(smallBytes / 1024).toFixed(0)} KiB`, time: loopTimer(() => openArchive(smallPath).close()) },
          ],
          note: `openArchive + close of the ${(bytes / 2 ** 20).toFixed(0)} MiB archive, against a ${(smallBytes / 1024).toFixed(0)} KiB one (${SMALL_ARCHIVE_CAPACITY} items)`,
        }, opts, log));
      }
    } finally {
      rk?.close();
      small?.close();
      removeTempDir(dir);
    }
    return out;
  },
};

// ---------------------------------------------------------------------------
// epochs (issue #6): full sweeps of a 1,000,000-item MuJoCo buffer against a sequential read

/** An epoch estimated to take longer than this is timed over its first EPOCH_PART_BATCHES batches. */
const EPOCH_SLOW_MS = 5000;
const EPOCH_PART_BATCHES = 400;

const epochs: Group = {
  name: 'epochs',
  cases: ['epoch(256) shuffled', 'epoch(256) in order'],
  async run(roof, wanted, opts, log) {
    const rk = newMujoco();
    try {
      log('  filling (1,000,000 transitions) ...');
      const cols = mujocoColumns(MUJOCO_CAPACITY);
      const plain = Object.values(cols) as (Float32Array | Uint8Array)[];
      for (let at = 0; at < MUJOCO_CAPACITY; at += 10_000) {
        const part = (a: Float32Array | Uint8Array, elems: number) => a.subarray(at * elems, (at + 10_000) * elems);
        rk.pushBatch({
          obs: part(cols.obs, 17) as Float32Array, action: part(cols.action, 6) as Float32Array, reward: part(cols.reward, 1) as Float32Array,
          nextObs: part(cols.nextObs, 17) as Float32Array, terminated: part(cols.terminated, 1) as Uint8Array, truncated: part(cols.truncated, 1) as Uint8Array,
        });
      }
      const elems = [17, 6, 1, 17, 1, 1];
      const batch = 256;
      await roof.command(`setup-seq ${MUJOCO_CAPACITY * MUJOCO_ROW_BYTES} ${batch * MUJOCO_ROW_BYTES}`);
      let sink = 0;
      // The first `batches` batches of an epoch (all of them by default); returns the rows got.
      const sweep = (shuffle: boolean, batches: number): number => {
        const it = rk.epochs({ batchSize: batch, shuffle });
        let rows = 0;
        for (let i = 0; i < batches; i++) {
          const r = it.next();
          if (r.done) break;
          rows += r.value.reward.length;
        }
        return rows;
      };
      // A whole epoch per repetition, unless one would take more than EPOCH_SLOW_MS: then the
      // first EPOCH_PART_BATCHES batches (the epoch's setup, listing and shuffling every key,
      // included), scaled to the epoch's 1,000,000 rows.
      const allBatches = Math.ceil(MUJOCO_CAPACITY / batch);
      const t0 = now();
      sweep(true, 40);
      const estimateMs = (Number(now() - t0) / 1e6 / 40) * allBatches;
      const batches = opts.fullEpochs || estimateMs <= EPOCH_SLOW_MS ? allBatches : EPOCH_PART_BATCHES;
      if (batches < allBatches)
        log(`  an epoch would take ~${(estimateMs / 1000).toFixed(1)} s: timing its first ${batches} batches, scaled to the epoch (--full-epochs for whole ones)`);
      const epoch = (shuffle: boolean): Timer => (iters) => {
        let rows = 0;
        const t = now();
        for (let i = 0; i < iters; i++) rows += sweep(shuffle, batches);
        return (Number(now() - t) / rows) * MUJOCO_CAPACITY; // ns per 1,000,000 rows
      };
      const timedNote = batches < allBatches ? `; timed over the first ${batches} of ${allBatches} batches of each epoch, scaled` : '; whole epochs timed';
      const results = await measureAll({
        name: 'epoch(256)', unit: 'transitions/s', rowsPerOp: MUJOCO_CAPACITY, bytesPerOp: MUJOCO_CAPACITY * MUJOCO_ROW_BYTES,
        runs: opts.slowRuns, warmup: 1, iters: 1, // one repetition = one whole epoch (seconds)
        contenders: [
          ...(wanted('epoch(256) shuffled') ? [{ role: 'replaykit' as const, label: 'shuffle: true', caseName: 'epoch(256) shuffled', time: epoch(true),
            note: `rb.epochs({ batchSize: 256, shuffle: true }) over 1,000,000 items (fresh arrays per batch)${timedNote}; reference: a sequential read of the same bytes` }] : []),
          ...(wanted('epoch(256) in order') ? [{ role: 'replaykit' as const, label: 'shuffle: false', caseName: 'epoch(256) in order', time: epoch(false),
            note: `rb.epochs({ batchSize: 256, shuffle: false }) over 1,000,000 items, oldest first (fresh arrays per batch)${timedNote}` }] : []),
          { role: 'roofline', label: 'sequential read', time: (n) => roof.time(`seq-read ${n}`) },
          {
            role: 'ts', label: 'JS slice per column', time: loopTimer(() => {
              for (let at = 0; at < MUJOCO_CAPACITY; at += batch) {
                const end = Math.min(MUJOCO_CAPACITY, at + batch);
                for (let f = 0; f < plain.length; f++) sink += plain[f].slice(at * elems[f], end * elems[f]).length;
              }
            }),
          },
        ],
      }, opts, log);
      if (sink < 0) log('');
      await roof.command('free');
      for (const r of results) r.batchesTimed = batches;
      return results;
    } finally {
      rk.close();
    }
  },
};

const GROUPS: Group[] = [memory, push, uniform, prioritized, atari, tiered, archive, epochs, actors, episodes, redis as unknown as Group, atariMillion];

// ---------------------------------------------------------------------------
// Output

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e6) return v.toExponential(2);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function vsRooflineText(r: Result): string {
  if (r.vsRoofline === undefined) return '';
  if (isRate(r.unit)) return `${(100 * r.vsRoofline).toFixed(r.vsRoofline < 0.01 ? 2 : 0)}% of its rate`;
  return `${(1 / r.vsRoofline).toFixed(2)}x its time`;
}

function table(results: readonly Result[]): string {
  const head = ['case', 'unit', 'replaykit median', 'min .. max', 'roofline', 'vs roofline', 'core, no Node', 'plain TS', 'vs plain TS', 'target', 'met'];
  const rows = results.map((r) => {
    if (r.unit === 'bytes/transition')
      return [r.case, r.unit, fmt(r.median), '', `raw ${r.rawBytes as number}`, `${(r.vsRaw as number).toFixed(2)}x raw`, `storage ${fmt(r.storageBytesPerTransition as number)}`,
        r.ts ? fmt(r.ts.median) : '', '', r.residentMB === undefined ? '' : `RSS ${fmt(r.residentMB as number)} MB`, ''];
    if (r.unit === 'MB RssAnon')
      return [r.case, r.unit, fmt(r.median), '', `${r.referenceLabel as string} ${fmt(r.referenceMB as number)} MB`, `${(r.vsReference as number).toFixed(2)}x ${r.referenceLabel as string}`,
        '', '', '', r.target ?? `baseline ${fmt(r.baselineMB as number)} MB`, r.met === undefined ? '' : r.met ? 'yes' : 'NO'];
    return [
      r.case, r.unit, fmt(r.median), `${fmt(r.min)} .. ${fmt(r.max)}`,
      r.roofline ? `${fmt(r.roofline.median)} (${r.roofline.label})` : '',
      vsRooflineText(r) + (r.gbPerSecond ? `, ${r.gbPerSecond.toFixed(r.gbPerSecond < 0.1 ? 3 : 1)} GB/s` : ''),
      r.core ? fmt(r.core.median) : '',
      r.ts ? fmt(r.ts.median) : '',
      r.vsTs !== undefined ? `${r.vsTs < 0.1 ? r.vsTs.toPrecision(2) : r.vsTs.toFixed(1)}x faster` : '',
      r.target ?? '', r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------

function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'binding.gyp'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the package root (binding.gyp) above ' + __dirname);
    dir = up;
  }
}

/** The bench measures build/Release/replaykit.node as it is: says so when a native source is newer. */
function warnIfStale(root: string, log: (s: string) => void): void {
  const addon = path.join(root, 'build', 'Release', 'replaykit.node');
  if (!fs.existsSync(addon)) throw new Error('build/Release/replaykit.node is missing: run `npm run build:native` first');
  const built = fs.statSync(addon).mtimeMs;
  const newer: string[] = [];
  for (const dir of ['native/core', 'native/binding']) {
    for (const f of fs.readdirSync(path.join(root, dir)))
      if (fs.statSync(path.join(root, dir, f)).mtimeMs > built) newer.push(`${dir}/${f}`);
  }
  if (newer.length) log(`warning: ${newer.join(', ')} changed after the addon was built; run \`npm run build:native\` to measure them`);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--memory-probe') {
    process.stdout.write(JSON.stringify(probeMemory(process.argv[3] ?? 'uniform')));
    return;
  }
  if (process.argv[2] === '--dedup-probe') {
    process.stdout.write(JSON.stringify(probeDedup(Number(process.argv[3]), process.argv[4] === 'full' || process.argv[4] === 'archive', process.argv[4] === 'archive')));
    return;
  }
  if (process.argv[2] === '--rss-probe') {
    process.stdout.write(JSON.stringify(probeRss(process.argv[3] as TieredKind, process.argv[4])));
    return;
  }
  const opts = parseArgs(process.argv.slice(2));
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  // A group's name selects its cases; anything else is a substring of case names.
  const groupNames = new Set(GROUPS.map((g) => g.name));
  const wantedCase = (group: Group, name: string): boolean =>
    opts.cases.length === 0 ||
    opts.cases.some((c) => (groupNames.has(c) ? c === group.name : name.toLowerCase().includes(c.toLowerCase())));
  const groups = GROUPS.filter((g) => g.cases.some((c) => wantedCase(g, c)));
  if (groups.length === 0) throw new Error(`no case matches ${opts.cases.join(', ')}; groups: ${GROUPS.map((g) => g.name).join(', ')}`);
  if (!(globalThis as { gc?: unknown }).gc) log('note: run node with --expose-gc for exact memory figures');

  warnIfStale(packageRoot(), log);
  log('building the roofline program (cmake, build-bench/native) ...');
  const roof = new Roofline(buildRoofline(packageRoot()));
  log(`replaykit bench: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ` +
    `${opts.runs} runs of ~${opts.runMs} ms after ${opts.warmup} warm-up`);
  const results: Result[] = [];
  try {
    for (const g of groups) {
      log(`[${g.name}]`);
      const got = await g.run(roof, (name) => wantedCase(g, name), opts, log);
      for (const r of got) {
        results.push(r);
        if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      }
      collectGarbage();
    }
  } finally {
    await roof.close();
  }
  if (!opts.json) process.stdout.write(`\n${table(results)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
