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
import { PrioritizedReplayBuffer, ReplayBuffer } from '../lib/index';
import { PlainColumns, PlainField, PlainPrioritized, PlainReplay } from './reference';
import { buildRoofline, Roofline } from './roofline';

// ---------------------------------------------------------------------------
// Options

interface Options {
  json: boolean;
  cases: string[];
  runs: number;
  runMs: number;
  warmup: number;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { json: false, cases: [], runs: 7, runMs: 25, warmup: 2 };
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
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: npm run bench -- [--json] [--case NAME[,NAME...]] [--runs N>=5] [--run-ms MS] [--warmup N]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  return o;
}

// ---------------------------------------------------------------------------
// Measurement

type Unit = 'transitions/s' | 'us/batch' | 'us/step' | 'bytes/transition';
type Role = 'replaykit' | 'roofline' | 'ts' | 'core';

/** Runs `iters` repetitions; returns nanoseconds per repetition. */
type Timer = (iters: number) => number | Promise<number>;

interface Contender {
  role: Role;
  label: string;
  time: Timer;
}

interface Target {
  text: string;
  /** replaykit's speed as a fraction of the roofline's must be at least this. */
  minVsRoofline?: number;
  /** replaykit must be at least this many times faster than the plain TypeScript reference. */
  minVsTs?: number;
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
interface Result {
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

const now = (): bigint => process.hrtime.bigint();

function stat(values: readonly number[]): Stat {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  const median = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  return { median, min: s[0], max: s[s.length - 1], runs: s.length };
}

function toUnit(spec: CaseSpec, nsPerOp: number): number {
  if (spec.unit === 'transitions/s') return ((spec.rowsPerOp ?? 1) * 1e9) / nsPerOp;
  return nsPerOp / 1000;
}

function collectGarbage(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) g();
}

async function measure(spec: CaseSpec, opts: Options, log: (s: string) => void): Promise<Result> {
  // Calibrate: grow the repetitions until a call takes >= 2 ms, then size runs to opts.runMs.
  const iters = new Map<Contender, number>();
  for (const c of spec.contenders) {
    let it = 1;
    let ns = await c.time(it);
    while (ns * it < 2e6 && it < 1e7) {
      it *= 4;
      ns = await c.time(it);
    }
    iters.set(c, Math.max(1, Math.min(1e7, Math.round((opts.runMs * 1e6) / ns))));
  }
  const samples = new Map<Contender, number[]>(spec.contenders.map((c) => [c, []]));
  const total = opts.warmup + opts.runs;
  for (let r = 0; r < total; r++) {
    const k = r % spec.contenders.length;
    const order = [...spec.contenders.slice(k), ...spec.contenders.slice(0, k)];
    for (const c of order) {
      const ns = await c.time(iters.get(c)!);
      if (r >= opts.warmup) samples.get(c)!.push(toUnit(spec, ns));
    }
  }
  const byRole = (role: Role): Reference | undefined => {
    const c = spec.contenders.find((x) => x.role === role);
    return c ? { label: c.label, ...stat(samples.get(c)!) } : undefined;
  };
  const rk = byRole('replaykit')!;
  const result: Result = { case: spec.name, unit: spec.unit, median: rk.median, min: rk.min, max: rk.max, runs: rk.runs };
  const rate = spec.unit === 'transitions/s';
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
  if (spec.bytesPerOp) {
    const nsPerOp = rate ? ((spec.rowsPerOp ?? 1) * 1e9) / rk.median : rk.median * 1000;
    result.gbPerSecond = spec.bytesPerOp / nsPerOp;
  }
  if (spec.target) {
    result.target = spec.target.text;
    let met = true;
    if (spec.target.minVsRoofline !== undefined) met &&= (result.vsRoofline ?? 0) >= spec.target.minVsRoofline;
    if (spec.target.minVsTs !== undefined) met &&= (result.vsTs ?? 0) >= spec.target.minVsTs;
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

const MUJOCO_CAPACITY = 1_000_000;
const MUJOCO_ROW_BYTES = 17 * 4 + 6 * 4 + 4 + 17 * 4 + 1 + 1; // 166
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

function mujocoColumns(n: number) {
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

function newMujoco() {
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

interface Group {
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
  cases: ['atari sample(32)', 'atari sample(256)', 'atari sample(256) fresh'],
  async run(roof, wanted, opts, log) {
    const out: Result[] = [];
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
    storage = b['_native'].stats().bytes / MUJOCO_CAPACITY;
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

const GROUPS: Group[] = [memory, push, uniform, prioritized, atari];

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
  if (r.unit === 'transitions/s') return `${(100 * r.vsRoofline).toFixed(0)}% of its rate`;
  return `${(1 / r.vsRoofline).toFixed(2)}x its time`;
}

function table(results: readonly Result[]): string {
  const head = ['case', 'unit', 'replaykit median', 'min .. max', 'roofline', 'vs roofline', 'core, no Node', 'plain TS', 'vs plain TS', 'target', 'met'];
  const rows = results.map((r) => {
    if (r.unit === 'bytes/transition')
      return [r.case, r.unit, fmt(r.median), '', `raw ${r.rawBytes as number}`, `${(r.vsRaw as number).toFixed(2)}x raw`, `storage ${fmt(r.storageBytesPerTransition as number)}`,
        r.ts ? fmt(r.ts.median) : '', '', `RSS ${fmt(r.residentMB as number)} MB`, ''];
    return [
      r.case, r.unit, fmt(r.median), `${fmt(r.min)} .. ${fmt(r.max)}`,
      r.roofline ? `${fmt(r.roofline.median)} (${r.roofline.label})` : '',
      vsRooflineText(r) + (r.gbPerSecond ? `, ${r.gbPerSecond.toFixed(1)} GB/s` : ''),
      r.core ? fmt(r.core.median) : '',
      r.ts ? fmt(r.ts.median) : '',
      r.vsTs !== undefined ? `${r.vsTs.toFixed(1)}x faster` : '',
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
