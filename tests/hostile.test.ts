/**
 * The hostile-input suite of issue #12, beside the fuzzer: seeded randomized inputs (pure-rand,
 * fixed seeds, bounded counts) for the constructor options, push, pushBatch, sampling and
 * epochs, storage options, loading mutated archive files, and misuse while a save runs, after
 * close() and from inside the buffer's own calls (getters).
 *
 * The rule checked on every call: it succeeds, or it throws an instance of ReplayError (never
 * a plain TypeError / RangeError / Error, never a crash), and when it throws, the buffer is as
 * it was (length, generator state, every item, and for prioritized buffers beta's progress,
 * the priority statistics and every priority) and no file was lost or left behind.
 *
 * Each family gathers its violations, grouped by operation and outcome with one example
 * input, and expects none: a failing family lists every kind of bad outcome at once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { openArchive, PrioritizedReplayBuffer, ReplayBuffer, ReplayError, StateError } from 'replaykit';
import { plain, snapshot, tempDir } from './misuse-helpers';

// Hostile input does not type-check, on purpose.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;
const AnyRB = ReplayBuffer as Any;
const AnyPER = PrioritizedReplayBuffer as Any;

const tmp = tempDir('replaykit-hostile-');
afterAll(() => tmp.cleanup());

/** A seeded source of choices. */
class Gen {
  readonly #rng: ReturnType<typeof xoroshiro128plus>;
  constructor(seed: number) {
    this.#rng = xoroshiro128plus(seed);
  }
  int(from: number, to: number): number {
    return uniformInt(this.#rng, from, to);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)];
  }
  chance(p: number): boolean {
    return this.int(0, 9999) < p * 10000;
  }
}

// ---- hostile values ----

const detached = <T extends ArrayBufferView>(a: T): T => {
  structuredClone(a, { transfer: [a.buffer as ArrayBuffer] });
  return a;
};
/** An array-like whose length grows by one at each read (a value that changes between a check and its use). */
const shifty = (start: number) => {
  let n = start;
  return {
    get length() {
      return n++;
    },
  };
};

const NUMBERS = [0, -0, 1, -1, 2, 3, 7, 16, 0.5, -0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 33, 2 ** 40, 2 ** 40 + 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e308, -1e308, 5e-324, 1e-300];

/** Fresh hostile values of every kind (factories: some are consumed or detached by use). */
const OTHERS: (() => unknown)[] = [
  () => undefined,
  () => null,
  () => true,
  () => false,
  () => '',
  () => '3',
  () => 'abc',
  () => 'a\0b',
  () => 3n,
  () => -1n,
  () => 2n ** 64n,
  () => Symbol('s'),
  () => ({}),
  () => [],
  () => [1],
  () => [1, 2, 3],
  () => [NaN],
  () => [undefined],
  // eslint-disable-next-line no-sparse-arrays
  () => [, 4],
  () => new Array(7),
  () => Object.create(null),
  () => ({ length: -2 }),
  () => ({ length: 2 ** 40 }),
  () => ({ length: 1.5 }),
  () => ({ length: '3' }),
  () => ({ length: 3, 0: 1, 1: 2, 2: 3 }),
  () => shifty(3),
  () => () => 1,
  () => new Date(0),
  () => new Float32Array(0),
  () => new Float32Array(3),
  () => new Float64Array(3),
  () => new Int32Array(2),
  () => new BigInt64Array(2),
  () => Uint8Array.of(2),
  () => Uint8Array.of(0, 255),
  () => new Uint8ClampedArray(3),
  () => new Int8Array(3),
  () => new Uint32Array(3),
  () => new DataView(new ArrayBuffer(8)),
  () => new ArrayBuffer(16),
  () => new Float32Array(new SharedArrayBuffer(12)),
  () => detached(new Float32Array(4)),
  () => new Proxy([1, 2, 3], { get: (t, k) => (k === 'length' ? 3 : NaN) }),
  () => JSON.parse('{"__proto__": 1}'),
];

function hostile(g: Gen): unknown {
  return g.chance(0.4) ? g.pick(NUMBERS) : g.pick(OTHERS)();
}

/** A short description of a value for the report. */
function show(v: unknown, depth = 0): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol') return v.toString();
  if (typeof v === 'string') {
    const t = v.startsWith(tmp.dir) ? '<tmp>' + v.slice(tmp.dir.length) : v;
    return JSON.stringify(t.length > 50 ? t.slice(0, 50) + '…' : t);
  }
  if (typeof v === 'function') return 'function';
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v !== 'object' || v === null) return String(v);
  if (ArrayBuffer.isView(v)) {
    const tag = Object.prototype.toString.call(v).slice(8, -1);
    let len: number | string = '?';
    try {
      len = (v as unknown as { byteLength: number }).byteLength === 0 && (v as unknown as { buffer: { byteLength: number } }).buffer.byteLength === 0 ? 'detached' : (v as unknown as { length?: number }).length ?? '?';
    } catch {
      /* ignore */
    }
    return `${tag}(${len})`;
  }
  if (depth > 1) return Array.isArray(v) ? `Array(${v.length})` : '{…}';
  if (Array.isArray(v)) return `[${Array.from({ length: Math.min(v.length, 4) }, (_, i) => (i in v ? show(v[i], depth + 1) : '<hole>')).join(', ')}${v.length > 4 ? ', …' : ''}]`;
  let keys: string[];
  try {
    keys = Object.keys(v);
  } catch {
    return '{?}';
  }
  const parts: string[] = [];
  for (const k of keys.slice(0, 6)) {
    let val: unknown;
    try {
      val = (v as Record<string, unknown>)[k];
    } catch {
      val = '<getter throws>';
    }
    parts.push(`${k}: ${show(val, depth + 1)}`);
  }
  return `{${parts.join(', ')}${keys.length > 6 ? ', …' : ''}}`;
}

// ---- the rule and its report ----

/** Violations of one family: by kind, a count and the first example. */
class Violations {
  readonly #byKind = new Map<string, { count: number; example: string }>();
  add(kind: string, example: string): void {
    const v = this.#byKind.get(kind);
    if (v) v.count++;
    else this.#byKind.set(kind, { count: 1, example });
  }
  /** For toEqual({}): each kind with its count and example. */
  summary(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of [...this.#byKind].sort()) out[k] = `${v.count}x, e.g. ${v.example}`;
    return out;
  }
}

/** The class name and message start of an error, as a violation kind. */
function kindOf(e: unknown): string {
  if (typeof e !== 'object' || e === null) return `threw a non-error ${typeof e}`;
  const msg = String((e as Error).message ?? '')
    .replace(/\/tmp\/\S+/g, '<path>')
    .replace(/\d+/g, 'N')
    .slice(0, 70);
  return `${(e as object).constructor?.name ?? 'Object'}: ${msg}`;
}

/**
 * Runs one call against the rule: success, or a ReplayError with `rb` unchanged (when given).
 * Returns what the call returned and whether it threw.
 */
function check(v: Violations, op: string, input: string, rb: Any | null, call: () => unknown): { ok: boolean; value?: unknown; error?: unknown } {
  const before = rb ? snapshot(rb) : null;
  try {
    return { ok: true, value: call() };
  } catch (e) {
    if (!(e instanceof ReplayError)) v.add(`${op}: ${kindOf(e)} (not a ReplayError)`, input);
    else if (rb && !rb.closed) {
      const after = snapshot(rb);
      if (!sameSnapshot(before, after)) v.add(`${op}: refused (${(e as Error).name}) but the buffer changed`, `${input} -> ${(e as Error).message.slice(0, 80)}`);
    }
    return { ok: false, error: e };
  }
}

/** As check, for calls that may return a promise (awaited). */
async function checkAsync(v: Violations, op: string, input: string, rb: Any | null, call: () => unknown): Promise<{ ok: boolean; value?: unknown; error?: unknown }> {
  const before = rb ? snapshot(rb) : null;
  try {
    return { ok: true, value: await call() };
  } catch (e) {
    if (!(e instanceof ReplayError)) v.add(`${op}: ${kindOf(e)} (not a ReplayError)`, input);
    else if (rb && !rb.closed && !sameSnapshot(before, snapshot(rb))) v.add(`${op}: refused (${(e as Error).name}) but the buffer changed`, input);
    return { ok: false, error: e };
  }
}

function sameSnapshot(a: unknown, b: unknown): boolean {
  try {
    expect(b).toEqual(a);
    return true;
  } catch {
    return false;
  }
}

// ---- buffers and valid input ----

interface Kind {
  name: string;
  make: (seed: number, extra?: object) => Any;
  /** A valid value of field `f` (for row `id`). */
  fields: Record<string, { shape: number[]; dtype: string }>;
}
const wideFields = {
  i64: { shape: [2], dtype: 'int64' },
  flag: { shape: [], dtype: 'bool' },
  u8: { shape: [2, 2], dtype: 'uint8' },
  f64: { shape: [], dtype: 'float64' },
};
const stdFields = {
  obs: { shape: [3], dtype: 'float32' },
  action: { shape: [], dtype: 'int32' },
  reward: { shape: [], dtype: 'float32' },
  nextObs: { shape: [3], dtype: 'float32' },
  terminated: { shape: [], dtype: 'bool' },
  truncated: { shape: [], dtype: 'bool' },
};
const KINDS: Kind[] = [
  { name: 'uniform', fields: stdFields, make: (seed, extra = {}) => new AnyRB({ capacity: 16, obsShape: [3], actionDtype: 'int32', seed, ...extra }) },
  { name: 'prioritized', fields: stdFields, make: (seed, extra = {}) => new AnyPER({ capacity: 16, obsShape: [3], actionDtype: 'int32', seed, alpha: 0.7, ...extra }) },
  { name: 'prioritized-lowest', fields: wideFields, make: (seed, extra = {}) => new AnyPER({ capacity: 8, fields: wideFields, seed, eviction: 'lowest-priority', ...extra }) },
  { name: 'uniform-wide', fields: wideFields, make: (seed, extra = {}) => new AnyRB({ capacity: 8, fields: wideFields, seed, ...extra }) },
];
const CTORS: Record<string, { BYTES_PER_ELEMENT: number; new (n: number): Any }> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};
const elemsOf = (f: { shape: number[] }) => f.shape.reduce((a, b) => a * b, 1);

/** A valid column of `rows` rows for field `f`, values derived from `id`. */
function validColumn(f: { shape: number[]; dtype: string }, rows: number, id: number): Any {
  const a = new CTORS[f.dtype](rows * elemsOf(f));
  for (let i = 0; i < a.length; i++) a[i] = f.dtype === 'int64' ? BigInt(id + i) : f.dtype === 'bool' ? (id + i) % 2 : f.dtype === 'uint8' ? (id + i) % 256 : id + i;
  return a;
}

/** A valid value of field `f` for push: a scalar, a plain array or a typed array. */
function validValue(g: Gen, f: { shape: number[]; dtype: string }, id: number): unknown {
  const col = validColumn(f, 1, id);
  if (elemsOf(f) === 1 && f.shape.length === 0 && g.chance(0.5)) return f.dtype === 'bool' ? col[0] === 1 : col[0];
  return g.chance(0.3) ? Array.from(col) : col;
}

/** Values that are near misses for field `f`: the wrong dtype, length, range. */
function nearMiss(g: Gen, f: { shape: number[]; dtype: string }, rows: number): unknown {
  const n = rows * elemsOf(f);
  const choices: (() => unknown)[] = [
    () => new CTORS[f.dtype](n + 1),
    () => new CTORS[f.dtype](Math.max(0, n - 1)),
    () => new (f.dtype === 'float32' ? Float64Array : Float32Array)(n),
    () => detached(new CTORS[f.dtype](n)),
    () => Array.from({ length: n }, () => hostile(g)),
    () => ({ length: n }),
    () => Array.from({ length: n }, () => (f.dtype === 'int64' ? 2n ** 63n : f.dtype === 'uint8' ? 256 : f.dtype === 'bool' ? 2 : f.dtype === 'int32' ? 2 ** 31 : NaN)),
    () => (f.dtype === 'bool' || f.dtype === 'uint8' ? Uint8Array.from({ length: n }, () => g.pick([0, 1, 2, 255])) : new CTORS[f.dtype](n)),
    () => new Array(n),
    () => new Proxy(new Array(n).fill(0), { get: (t, k) => (k === 'length' ? n : hostile(g)) }),
  ];
  return g.pick(choices)();
}

/**
 * The values a push of `v` into field `f` must store (`rows` rows), as plain numbers/bigints,
 * or null when `v` is not plainly valid input (then the call is only held to the basic rule).
 * Read twice: a value that reads differently each time (a proxy, a getter) is not compared.
 */
function expectedValues(f: { shape: number[]; dtype: string }, v: unknown, rows: number): unknown[] | null {
  const once = (): unknown[] | null => {
    let xs: unknown[];
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) xs = Array.from(v as unknown as ArrayLike<unknown>);
    else if (Array.isArray(v)) xs = Array.from(v);
    else if (rows === 1 && elemsOf(f) === 1 && ['number', 'boolean', 'bigint'].includes(typeof v)) xs = [v];
    else return null;
    if (xs.length !== rows * elemsOf(f)) return null;
    const out: unknown[] = [];
    for (const x of xs) {
      if (f.dtype === 'int64') {
        if (typeof x === 'bigint') out.push(BigInt.asIntN(64, x));
        else if (typeof x === 'number' && Number.isSafeInteger(x)) out.push(BigInt(x));
        else return null;
      } else if (f.dtype === 'bool' && typeof x === 'boolean') out.push(x ? 1 : 0);
      else if (typeof x !== 'number') return null;
      else out.push(f.dtype === 'float32' ? Math.fround(x) : x);
    }
    return out;
  };
  try {
    const a = once();
    const b = once();
    return a && b && sameValues(a, b) ? a : null;
  } catch {
    return null;
  }
}

function sameValues(a: ArrayLike<unknown>, b: ArrayLike<unknown>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!(a[i] === b[i] || (a[i] !== a[i] && b[i] !== b[i]))) return false;
  return true;
}

/** After a successful push of `rows` rows whose values were `expected` (per field), checks the newest stored rows. */
function checkStored(v: Violations, op: string, input: string, rb: Any, kind: Kind, expected: (unknown[] | null)[], rows: number): void {
  const keep = Math.min(rows, rb.capacity);
  if (keep === 0) return;
  const names = Object.keys(kind.fields);
  const batch = rb.sampleByIndex(Array.from({ length: keep }, (_, i) => rb.length - keep + i));
  names.forEach((n, i) => {
    const want = expected[i];
    if (!want) return;
    const e = elemsOf(kind.fields[n]);
    const got = Array.from(batch[n] as ArrayLike<unknown>);
    const given = want.slice((rows - keep) * e);
    if (!sameValues(got, given)) {
      const at = got.findIndex((x, j) => !sameValues([x], [given[j]]));
      v.add(`${op}: succeeded but stored other values than given (a ${kind.fields[n].dtype} field)`, `field '${n}' value ${at}: given ${show(given[at])}, stored ${show(got[at])}; input ${input}`);
    }
  });
}

// ---- families ----

const SEEDS = { files: 1001, ctor: 101, push: 202, batch: 303, sample: 404, storage: 505, archive: 606, save: 707, closed: 808, reentrant: 909 };

describe('hostile input: each call succeeds or throws a ReplayError, and a refused call changes nothing', () => {
  test('constructor options', () => {
    const g = new Gen(SEEDS.ctor);
    const v = new Violations();
    const dir = path.join(tmp.dir, 'ctor');
    fs.mkdirSync(dir);
    let n = 0;
    const keys = ['capacity', 'seed', 'obsShape', 'obsDtype', 'actionShape', 'actionDtype', 'extraFields', 'fields', 'storage', 'alpha', 'betaStart', 'betaEnd', 'betaFrames', 'epsilon', 'eviction', 'sed', 'alhpa', '__proto__', 'constructor', 'toString'];
    const special: Record<string, (() => unknown)[]> = {
      capacity: [() => g.int(1, 64), () => 16n, () => '16', () => 2 ** 40],
      seed: [() => g.int(-1e9, 1e9), () => Number.MAX_SAFE_INTEGER, () => Number.MIN_SAFE_INTEGER],
      obsShape: [() => [], () => [g.int(1, 5)], () => [2, 2], () => [0], () => [-1], () => [2 ** 31, 2 ** 31], () => ['3'], () => [1.5]],
      actionShape: [() => [], () => [2], () => [0]],
      obsDtype: [() => g.pick(['float32', 'float64', 'int32', 'int64', 'uint8', 'bool', 'float16', 'Float32', 'toString', '__proto__'])],
      actionDtype: [() => g.pick(['int32', 'float32', 'bool', 'int8', 'constructor'])],
      fields: [() => ({}), () => ({ a: { shape: [], dtype: 'float32' } }), () => ({ a: { shape: [2], dtype: 'int64' }, b: hostile(g) }), () => ({ a: { shape: hostile(g), dtype: 'float32' } }), () => ({ a: { shape: [], dtype: hostile(g) } }), () => JSON.parse('{"__proto__": {"shape": [], "dtype": "float32"}}'), () => ({ indices: { shape: [], dtype: 'float32' } })],
      extraFields: [() => ({ logp: { shape: [], dtype: 'float32' } }), () => ({ obs: { shape: [], dtype: 'float32' } }), () => ({ x: hostile(g) })],
      storage: [() => ({ type: 'memory' }), () => ({ type: 'mmap', path: path.join(dir, `s${n++}.rkb`) }), () => ({ type: 'tiered', hotCapacity: g.int(0, 20), path: path.join(dir, `s${n++}.rkb`) }), () => ({ type: hostile(g), path: path.join(dir, `s${n++}.rkb`) })],
      alpha: [() => g.pick([0, 0.6, 1, 2])],
      eviction: [() => g.pick(['fifo', 'lowest-priority', 'lowest', 'FIFO'])],
      betaFrames: [() => g.int(1, 100)],
    };
    for (let i = 0; i < 1500; i++) {
      const base: Record<string, unknown> = g.chance(0.5) ? { capacity: 16, obsShape: [3], seed: 1 } : { capacity: 8, seed: 2, fields: { a: { shape: [2], dtype: 'int64' }, b: { shape: [], dtype: 'bool' } } };
      let options: unknown = base;
      if (g.chance(0.05)) options = hostile(g);
      else
        for (let k = g.int(1, 3); k > 0; k--) {
          const key = g.pick(keys);
          if (g.chance(0.1)) delete base[key];
          else Object.defineProperty(base, key, { value: Object.hasOwn(special, key) && g.chance(0.6) ? g.pick(special[key])() : hostile(g), enumerable: true, configurable: true, writable: true });
        }
      if (typeof options === 'object' && options !== null) {
        const o = options as Record<string, Any>;
        // Disk storage only with a small capacity: a hostile one would reserve terabytes on disk.
        if (typeof o.storage === 'object' && o.storage !== null && o.storage.type !== 'memory') o.capacity = g.int(1, 64);
        // No capacity that allocates (and zeroes) gigabytes: past 4096, only ones no machine can hold.
        if (typeof o.capacity === 'number' && o.capacity > 4096 && o.capacity < 2 ** 40) o.capacity = 2 ** 40;
      }
      const Ctor = g.chance(0.5) ? AnyRB : AnyPER;
      const r = check(v, `new ${Ctor === AnyRB ? 'ReplayBuffer' : 'PrioritizedReplayBuffer'}`, show(options), null, () => new Ctor(options));
      if (r.ok) (r.value as Any).close();
    }
    const left = fs.readdirSync(dir);
    if (left.length) v.add('files left behind by refused or closed buffers', left.slice(0, 3).join(', '));
    expect(v.summary()).toEqual({});
  });

  test('push (and its priority option)', () => {
    const g = new Gen(SEEDS.push);
    const v = new Violations();
    for (const kind of KINDS) {
      const rb = kind.make(7);
      const names = Object.keys(kind.fields);
      for (let i = 0; i < 5; i++) rb.pushBatch(Object.fromEntries(names.map((n) => [n, validColumn(kind.fields[n], 1, i)])));
      for (let i = 0; i < 400; i++) {
        let t: Any = Object.fromEntries(names.map((n) => [n, validValue(g, kind.fields[n], 100 + i)]));
        const m = g.int(0, 9);
        if (m <= 4) t[g.pick(names)] = nearMiss(g, kind.fields[g.pick(names)], 1);
        else if (m <= 6) t[g.pick(names)] = hostile(g);
        else if (m === 7) delete t[g.pick(names)];
        else if (m === 8) t[g.pick(['extra', 'indices', 'weights', '__proto__', 'toString', 'Obs'])] = 1;
        else t = hostile(g);
        const opts = g.chance(0.7) ? [] : [g.chance(0.5) ? { priority: hostile(g) } : hostile(g)];
        const before = rb.length;
        const input = `${show(t)}${opts.length ? ` opts ${show(opts[0])}` : ''}`;
        const expected = typeof t === 'object' && t !== null && !Array.isArray(t) ? names.map((n) => expectedValues(kind.fields[n], (t as Any)[n], 1)) : [];
        const r = check(v, `${kind.name}.push`, input, rb, () => rb.push(t, ...opts));
        if (r.ok && rb.length !== Math.min(before + 1, rb.capacity)) v.add(`${kind.name}.push: succeeded but the length is wrong`, show(t));
        if (r.ok && kind.name !== 'prioritized-lowest') checkStored(v, `${kind.name}.push`, input, rb, kind, expected, 1);
      }
      rb.close();
    }
    expect(v.summary()).toEqual({});
  });

  test('pushBatch (and its priorities option)', () => {
    const g = new Gen(SEEDS.batch);
    const v = new Violations();
    for (const kind of KINDS) {
      const rb = kind.make(8);
      const names = Object.keys(kind.fields);
      for (let i = 0; i < 400; i++) {
        const rows = g.pick([0, 1, 2, 3, 5, 17]);
        let c: Any = Object.fromEntries(names.map((n) => [n, g.chance(0.2) ? Array.from(validColumn(kind.fields[n], rows, i)) : validColumn(kind.fields[n], rows, i)]));
        const m = g.int(0, 9);
        if (m <= 4) {
          const n = g.pick(names);
          c[n] = nearMiss(g, kind.fields[n], rows);
        } else if (m <= 5) c[g.pick(names)] = hostile(g);
        else if (m === 6) {
          for (const n of names) if (ArrayBuffer.isView(c[n])) detached(c[n]);
        } else if (m === 7) delete c[g.pick(names)];
        else if (m === 8) c.extra = new Float32Array(rows);
        else c = hostile(g);
        const pr = g.int(0, 3);
        const opts = pr <= 1 ? [] : pr === 2 ? [{ priorities: g.chance(0.5) ? Array.from({ length: rows }, () => g.pick(NUMBERS)) : hostile(g) }] : [hostile(g)];
        const before = rb.length;
        const input = `rows ${rows}: ${show(c)}${opts.length ? ` opts ${show(opts[0])}` : ''}`;
        const expected = typeof c === 'object' && c !== null && !Array.isArray(c) ? names.map((n) => expectedValues(kind.fields[n], (c as Any)[n], rows)) : [];
        const r = check(v, `${kind.name}.pushBatch`, input, rb, () => rb.pushBatch(c, ...opts));
        if (r.ok && rb.length !== Math.min(before + rows, rb.capacity)) v.add(`${kind.name}.pushBatch: succeeded but stored ${rb.length - before} of ${rows} rows`, show(c));
        else if (r.ok && kind.name !== 'prioritized-lowest') checkStored(v, `${kind.name}.pushBatch`, input, rb, kind, expected, rows);
      }
      rb.close();
    }
    expect(v.summary()).toEqual({});
  });

  test('sample, sampleByIndex(Fields), sampleAll, top, updatePriorities, epochs and their options, generator state', () => {
    const g = new Gen(SEEDS.sample);
    const v = new Violations();
    const count = () => (g.chance(0.5) ? g.int(0, 20) : g.pick(NUMBERS));
    const arg = () => (g.chance(0.5) ? count() : hostile(g));
    const positions = (len: number) =>
      g.pick<() => unknown>([
        () => Array.from({ length: g.int(0, 5) }, () => g.int(-1, len)),
        () => Float64Array.from({ length: g.int(0, 5) }, () => g.pick(NUMBERS)),
        () => Array.from({ length: g.int(0, 5) }, () => hostile(g)),
        () => new Float32Array(2),
        () => new Int32Array(2),
        () => hostile(g),
      ])();
    const epochOptions = () =>
      g.chance(0.1) ? hostile(g) : { batchSize: arg(), epochs: g.chance(0.5) ? undefined : arg(), nEpochs: g.chance(0.5) ? undefined : arg(), shuffle: g.chance(0.7) ? undefined : hostile(g), dropLast: g.chance(0.7) ? undefined : hostile(g), maxIter: g.chance(0.3) ? undefined : arg() };
    const outOf = (kind: Kind, n: number): unknown =>
      g.pick<() => unknown>([
        () => undefined,
        () => ({}),
        () => hostile(g),
        () => ({ out: hostile(g) }),
        () => ({ out: { [g.pick(Object.keys(kind.fields).concat(['indices', 'weights']))]: g.chance(0.5) ? hostile(g) : nearMiss(g, { shape: [], dtype: 'float32' }, typeof n === 'number' && n >= 0 && n < 100 ? n : 1) } }),
        () => ({ beta: hostile(g) }),
        () => ({ beta: g.pick(NUMBERS) }),
      ])();
    for (const kind of KINDS) {
      const rb = kind.make(9);
      const names = Object.keys(kind.fields);
      rb.pushBatch(Object.fromEntries(names.map((n) => [n, validColumn(kind.fields[n], 11, 0)])));
      const per = typeof rb.top === 'function';
      for (let i = 0; i < 400; i++) {
        const op = g.int(0, per ? 13 : 11);
        let name = '';
        let input = '';
        let call: () => unknown = () => undefined;
        if (op === 0 || op === 1) {
          const n = arg();
          const o = outOf(kind, n as number);
          [name, input, call] = ['sample', `${show(n)}, ${show(o)}`, () => rb.sample(n, o)];
        } else if (op === 2) {
          const p = positions(rb.length);
          [name, input, call] = ['sampleByIndex', show(p), () => rb.sampleByIndex(p)];
        } else if (op === 3) {
          const p = positions(rb.length);
          const f = g.pick<unknown>([[g.pick(names)], ['nope'], [], g.pick(names), ['toString'], ['__proto__'], hostile(g)]);
          [name, input, call] = ['sampleByIndexFields', `${show(p)}, ${show(f)}`, () => rb.sampleByIndexFields(p, f)];
        } else if (op === 4) [name, input, call] = ['sampleAll', '', () => rb.sampleAll()];
        else if (op === 5 || op === 6) {
          const o = epochOptions();
          const how = g.pick(['epochs', 'createEpochIterator', 'getStepsAndIterator']);
          [name, input, call] = [how, show(o), () => rb[how](o)];
        } else if (op === 7) [name, input, call] = ['getNextBatch', '', () => rb.getNextBatch()];
        else if (op === 8) {
          const n = arg();
          const how = g.pick(['isReady', 'calculateNumBatches']);
          [name, input, call] = [how, show(n), () => rb[how](n)];
        } else if (op === 9 || op === 10) {
          const s = g.pick<() => unknown>([() => [0, 0, 0, 0], () => [1, 2, 3], () => [1, 2, 3, 2 ** 32], () => [1, 2, 3, NaN], () => [1, 2, 3, 4], () => Array.from({ length: 4 }, () => hostile(g)), () => Int32Array.of(1, 2, 3, 4), () => hostile(g)])();
          [name, input, call] = ['setRngState', show(s), () => rb.setRngState(s)];
        } else if (op === 11) {
          const it = rb.epochs({ batchSize: g.int(1, 6), epochs: 1 });
          [name, input, call] = ['epoch next', '', () => it.next()];
        } else if (op === 12) {
          const k = arg();
          [name, input, call] = ['top', show(k), () => rb.top(k)];
        } else {
          const idx = g.chance(0.5) ? Array.from(rb.sample(3).indices) : positions(rb.length);
          const td = g.chance(0.5) ? Array.from({ length: Array.isArray(idx) ? idx.length : 3 }, () => g.pick(NUMBERS)) : hostile(g);
          [name, input, call] = ['updatePriorities', `${show(idx)}, ${show(td)}`, () => rb.updatePriorities(idx, td)];
        }
        const r = check(v, `${kind.name}.${name}`, input, rb, call);
        // Iterators: each next() is a call of its own.
        const it = r.ok && r.value && typeof (r.value as Any).next === 'function' ? (r.value as Any) : null;
        for (let b = 0; it && b < 3; b++) {
          const step = check(v, `${kind.name}.${name}(...).next`, input, rb, () => it.next());
          if (!step.ok || (step.value as Any).done) break;
        }
      }
      rb.close();
    }
    expect(v.summary()).toEqual({});
  });

  test('storage options: paths that exist, symlinks, directories, bad names; nothing outside the buffer\'s own file is touched', () => {
    const g = new Gen(SEEDS.storage);
    const v = new Violations();
    const dir = path.join(tmp.dir, 'storage');
    fs.mkdirSync(dir);
    const precious = path.join(dir, 'precious.txt');
    const content = 'not replaykit\'s\n';
    fs.writeFileSync(precious, content);
    const link = path.join(dir, 'link.rkb');
    fs.symlinkSync(precious, link);
    const sub = path.join(dir, 'sub');
    fs.mkdirSync(sub);
    const fixtures = ['link.rkb', 'precious.txt', 'sub'];
    let n = 0;
    const paths: (() => unknown)[] = [
      () => path.join(dir, `ok-${n++}.rkb`),
      () => precious,
      () => link,
      () => sub,
      () => dir,
      () => path.join(dir, 'missing-dir', 'x.rkb'),
      () => path.join(dir, 'a\0b.rkb'),
      () => '',
      () => path.join(dir, 'x'.repeat(300)),
      () => path.join(dir, `ok-${n++}.rkb`) + '/',
      () => path.join(precious, 'under-a-file.rkb'),
      () => hostile(g),
    ];
    const open: [Any, string][] = [];
    /** Checks (and restores) the files that are not replaykit's after `action`. */
    const fixturesIntact = (action: string) => {
      if (!fs.existsSync(precious) || fs.readFileSync(precious, 'utf8') !== content) {
        v.add('a file that is not replaykit\'s was changed or deleted', action);
        fs.writeFileSync(precious, content);
      }
      if (!fs.readdirSync(dir).includes('link.rkb') || !fs.lstatSync(link).isSymbolicLink()) {
        v.add('a symlink that is not replaykit\'s was replaced or deleted', action);
        fs.rmSync(link, { force: true });
        fs.symlinkSync(precious, link);
      }
      if (!fs.statSync(sub).isDirectory()) v.add('a directory was replaced', action);
    };
    for (let i = 0; i < 150; i++) {
      const type = g.pick<unknown>(['mmap', 'tiered', 'tiered', 'memory', 'Mmap', hostile(g)]);
      const storage: Record<string, unknown> = { type, path: g.pick(paths)() };
      if (type === 'tiered' || g.chance(0.2)) storage.hotCapacity = g.chance(0.7) ? g.int(0, 20) : hostile(g);
      if (g.chance(0.1)) storage.extra = 1;
      const r = check(v, `new buffer with storage`, show(storage), null, () => new AnyRB({ capacity: 16, obsShape: [3], seed: 1, storage }));
      fixturesIntact(`constructing with ${show(storage)}`);
      if (r.ok) {
        open.push([r.value, show(storage)]);
        if (open.length > 3 || g.chance(0.5)) {
          const [b, desc] = open.shift() as [Any, string];
          b.close();
          fixturesIntact(`closing the buffer made with ${desc}`);
        }
      }
    }
    for (const [b, desc] of open) {
      b.close();
      fixturesIntact(`closing the buffer made with ${desc}`);
    }
    const left = fs.readdirSync(dir).filter((f) => !fixtures.includes(f));
    if (left.length) v.add('files left behind after every buffer was closed', left.slice(0, 3).join(', '));
    expect(v.summary()).toEqual({});
  });

  test('loading mutated archive files (flipped bytes, truncation, extension, zeroed ranges), and hostile load options', async () => {
    const g = new Gen(SEEDS.archive);
    const v = new Violations();
    const dir = path.join(tmp.dir, 'archive');
    fs.mkdirSync(dir);
    const goods: Buffer[] = [];
    for (const kind of KINDS) {
      const rb = kind.make(11);
      const names = Object.keys(kind.fields);
      rb.pushBatch(Object.fromEntries(names.map((n) => [n, validColumn(kind.fields[n], 20, 0)])));
      rb.sample(4);
      rb.createEpochIterator({ batchSize: 3, nEpochs: 2 });
      rb.getNextBatch();
      const f = path.join(dir, `good-${kind.name}.rkb`);
      rb.saveSync(f);
      goods.push(fs.readFileSync(f));
      rb.close();
    }
    let n = 0;
    for (let i = 0; i < 400; i++) {
      const good = g.pick(goods);
      let bad = Buffer.from(good);
      const m = g.int(0, 4);
      let what = '';
      if (m <= 1) {
        const flips = g.int(1, 4);
        for (let k = 0; k < flips; k++) {
          const at = g.chance(0.5) ? g.int(0, Math.min(bad.length - 1, 2047)) : g.int(0, bad.length - 1);
          bad[at] ^= 1 << g.int(0, 7);
        }
        what = `${flips} bit flips`;
      } else if (m === 2) {
        const cut = g.int(0, bad.length - 1);
        bad = bad.subarray(0, cut);
        what = `truncated to ${cut}`;
      } else if (m === 3) {
        bad = Buffer.concat([bad, Buffer.alloc(g.int(1, 5000), g.int(0, 255))]);
        what = `extended to ${bad.length}`;
      } else {
        const from = g.int(0, bad.length - 1);
        const to = Math.min(bad.length, from + g.int(1, 512));
        bad.fill(g.pick([0, 0xff]), from, to);
        what = `filled [${from}, ${to})`;
      }
      const f = path.join(dir, `bad-${n++}.rkb`);
      fs.writeFileSync(f, bad);
      const loaded = check(v, 'loadSync', what, null, () => AnyRB.loadSync(f));
      if (loaded.ok) {
        const b = loaded.value as Any;
        check(v, 'use of a loaded mutated archive', what, b, () => b.sample(Math.min(2, b.length) || 1));
        b.close();
      }
      if (g.chance(0.3)) {
        const r = await checkAsync(v, 'load', what, null, () => AnyRB.load(f));
        if (r.ok) (r.value as Any).close();
      }
      const opened = check(v, 'openArchive', what, null, () => openArchive(f));
      if (opened.ok) {
        const a = opened.value as Any;
        check(v, 'Archive.verify', what, null, () => a.verify());
        for (const name of Object.keys(a.schema)) check(v, 'Archive.field', what, null, () => a.field(name));
        check(v, 'Archive.priorities', what, null, () => a.priorities());
        a.close();
      }
      if (!fs.readFileSync(f).equals(bad)) v.add('reading a mutated archive changed the file', what);
    }
    // Hostile load options on a good archive: each succeeds or is refused, and the archive stays.
    const good = path.join(dir, 'good-uniform.rkb');
    const bytes = fs.readFileSync(good);
    for (let i = 0; i < 60; i++) {
      const o = g.chance(0.2)
        ? hostile(g)
        : { [g.pick(['storage', 'ifMissing', 'onProgress', 'capacity', 'seed', 'alpha', 'obsShape', 'fields', 'storge'])]: g.chance(0.3) ? g.pick<unknown>([{ type: 'mmap', path: path.join(dir, `cold-${n++}.rkb`) }, { type: 'tiered', hotCapacity: 4, path: path.join(dir, `cold-${n++}.rkb`) }, 'empty', 'error', () => 1]) : hostile(g) };
      const how = g.pick(['loadSync', 'load']);
      const r = await checkAsync(v, `${how} with options`, show(o), null, () => AnyRB[how](good, o));
      if (r.ok) (r.value as Any).close();
      if (!fs.readFileSync(good).equals(bytes)) {
        v.add('loading with hostile options changed the archive', show(o));
        fs.writeFileSync(good, bytes);
      }
    }
    expect(v.summary()).toEqual({});
  });

  test('save, saveSync, load, loadSync and openArchive arguments: paths and options', async () => {
    const g = new Gen(SEEDS.files);
    const v = new Violations();
    const dir = path.join(tmp.dir, 'files');
    fs.mkdirSync(dir);
    const precious = path.join(dir, 'precious.txt');
    fs.writeFileSync(precious, 'keep\n');
    const sub = path.join(dir, 'sub');
    fs.mkdirSync(sub);
    let n = 0;
    const paths: (() => unknown)[] = [
      () => path.join(dir, `ok-${n++}.rkb`),
      () => path.join(dir, `ok-${n++}.rkb`),
      () => sub,
      () => path.join(dir, 'missing', 'x.rkb'),
      () => path.join(dir, `ok-${n++}\0.rkb`),
      () => path.join(dir, 'x'.repeat(300)),
      () => path.join(precious, 'under-a-file.rkb'),
      () => '',
      () => hostile(g),
    ];
    const options = (): unknown =>
      g.pick<() => unknown>([
        () => undefined,
        () => ({}),
        () => hostile(g),
        () => ({ onProgress: hostile(g) }),
        () => ({ chunkBytes: g.chance(0.5) ? g.pick(NUMBERS) : hostile(g) }),
        () => ({ signal: hostile(g) }),
        () => ({ signal: AbortSignal.abort() }),
        () => ({ onProgress: () => undefined, chunkBytes: 4096 }),
      ])();
    for (let i = 0; i < 120; i++) {
      const kind = g.pick(KINDS);
      const rb = kind.make(21 + i);
      const names = Object.keys(kind.fields);
      rb.pushBatch(Object.fromEntries(names.map((f) => [f, validColumn(kind.fields[f], 5, i)])));
      const p = g.pick(paths)();
      const o = options();
      const how = g.pick(['saveSync', 'save']);
      const input = `${show(p)}, ${show(o)}`;
      // An aborted signal's rejection is its own reason, as documented: not a violation.
      const signal = (o as { signal?: unknown } | null)?.signal;
      const aborted = signal instanceof AbortSignal && signal.aborted;
      const r = await checkAsync(v, `${kind.name}.${how}`, input, rb, async () => {
        try {
          return await rb[how](p, o);
        } catch (e) {
          if (aborted && how === 'save' && e === (signal as AbortSignal).reason) return 'aborted';
          throw e;
        }
      });
      if (r.ok && r.value !== 'aborted' && typeof p === 'string') {
        const loaded = check(v, 'loadSync of what save wrote', input, null, () => AnyRB.loadSync(p));
        if (loaded.ok) (loaded.value as Any).close();
      }
      rb.close();
      const temps = fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));
      if (temps.length) {
        v.add(`${how}: left a temporary file`, input);
        for (const t of temps) fs.rmSync(path.join(dir, t));
      }
      if (fs.readFileSync(precious, 'utf8') !== 'keep\n') v.add(`${how}: changed a file that is not replaykit's`, input);
      const lp = g.pick(paths)();
      const lo = g.chance(0.5) ? undefined : g.pick<unknown>([hostile(g), { onProgress: hostile(g) }, { ifMissing: hostile(g) }, { ifMissing: 'empty' }]);
      const lhow = g.pick(['loadSync', 'load', 'openArchive']);
      const lr = await checkAsync(v, lhow, `${show(lp)}, ${show(lo)}`, null, () => (lhow === 'openArchive' ? openArchive(lp as string) : AnyRB[lhow](lp, lo)));
      if (lr.ok) (lr.value as Any).close();
    }
    expect(v.summary()).toEqual({});
  });

  test('calls during an async save: changes are refused with a StateError, the archive holds the state from when the save began', async () => {
    const g = new Gen(SEEDS.save);
    const v = new Violations();
    const dir = path.join(tmp.dir, 'save');
    fs.mkdirSync(dir);
    let callsDuringSaves = 0;
    for (let round = 0; round < 24; round++) {
      const kind = KINDS[round % KINDS.length];
      const rb = kind.make(13 + round);
      const names = Object.keys(kind.fields);
      rb.pushBatch(Object.fromEntries(names.map((n) => [n, validColumn(kind.fields[n], 30, round)])));
      const atStart = snapshot(rb);
      const target = path.join(dir, `ckpt-${round}.rkb`);
      const per = typeof rb.top === 'function';
      const calls: [string, boolean, () => unknown][] = [
        // [name, changes the buffer (must be a StateError now), call]
        ['push', true, () => rb.push(Object.fromEntries(names.map((n) => [n, validColumn(kind.fields[n], 1, 99)])))],
        ['pushBatch', true, () => rb.pushBatch(Object.fromEntries(names.map((n) => [n, validColumn(kind.fields[n], 2, 98)])))],
        ['clear', true, () => rb.clear()],
        ['close', true, () => rb.close()],
        ['setRngState', true, () => rb.setRngState([1, 2, 3, 4])],
        ['saveSync', true, () => rb.saveSync(path.join(dir, `other-${round}.rkb`))],
        ['save', true, () => rb.save(path.join(dir, `other-${round}.rkb`))],
        ['sample', false, () => rb.sample(g.int(1, 5))],
        ['sampleAll', false, () => rb.sampleAll()],
        ['epochs', false, () => [...rb.epochs({ batchSize: 7 })]],
        ['getStepsAndIterator', false, () => rb.getStepsAndIterator({ nEpochs: 1, maxIter: 5, batchSize: 4 })],
        ['hostile push', true, () => rb.push(hostile(g))],
      ];
      if (per) calls.push(['updatePriorities', true, () => rb.updatePriorities([0, 1], [0.5, 2])], ['top', false, () => rb.top(3)]);
      const saving = rb.save(target, { chunkBytes: 4096 });
      // Only calls made while the save is in flight are held to the StateError rule.
      let finished = false;
      saving.then(
        () => (finished = true),
        () => (finished = true),
      );
      for (let i = 0; i < 10; i++) {
        if (finished) break;
        callsDuringSaves++;
        const [name, changes, call] = g.pick(calls);
        const r = await checkAsync(v, `during save: ${name}`, kind.name, null, call);
        if (changes && name !== 'hostile push' && !(r.error instanceof StateError)) v.add(`during save: ${name} was not refused with a StateError`, `${kind.name}: ${r.ok ? 'succeeded' : (r.error as Error).name}`);
        if (g.chance(0.5)) await new Promise((resolve) => setImmediate(resolve));
      }
      const saved = await checkAsync(v, 'the save itself', kind.name, null, () => saving);
      if (rb.closed) {
        v.add('during save: close() closed the buffer', kind.name);
        continue;
      }
      if (!saved.ok) {
        rb.close();
        continue;
      }
      if (!sameSnapshot(plain(rb.sampleAll()), atStart.all)) v.add('the buffer\'s items changed during the save', kind.name);
      const loaded = check(v, 'loading the archive written meanwhile', kind.name, null, () => AnyRB.loadSync(target));
      if (loaded.ok) {
        const b = loaded.value as Any;
        if (!sameSnapshot(snapshot(b), atStart)) v.add('the archive does not hold the state from when the save began', kind.name);
        b.close();
      }
      rb.close();
    }
    expect(v.summary()).toEqual({});
    expect(callsDuringSaves).toBeGreaterThan(100); // the family is not vacuous: most calls landed during a save
  });

  test('calls after close() are a StateError, whatever their arguments', () => {
    const g = new Gen(SEEDS.closed);
    const v = new Violations();
    const methods = ['push', 'pushBatch', 'sample', 'sampleByIndex', 'sampleByIndexFields', 'sampleAll', 'epochs', 'createEpochIterator', 'getNextBatch', 'calculateNumBatches', 'getStepsAndIterator', 'isReady', 'clear', 'getRngState', 'setRngState', 'saveSync', 'updatePriorities', 'top'];
    const getters = ['length', 'beta', 'totalPriority', 'maxPriority', 'minPriority'];
    for (const kind of KINDS) {
      const rb = kind.make(5);
      rb.pushBatch(Object.fromEntries(Object.keys(kind.fields).map((n) => [n, validColumn(kind.fields[n], 3, 0)])));
      rb.close();
      rb.close(); // idempotent
      for (let i = 0; i < 80; i++) {
        const m = g.pick(methods);
        if (typeof rb[m] !== 'function') continue;
        const args = Array.from({ length: g.int(0, 2) }, () => hostile(g));
        const r = check(v, `after close: ${m}`, args.map((a) => show(a)).join(', '), null, () => rb[m](...args));
        if (!(r.error instanceof StateError)) v.add(`after close: ${m} is not a StateError`, r.ok ? 'succeeded' : kindOf(r.error));
      }
      for (const name of getters) {
        if (!(name in rb)) continue;
        const r = check(v, `after close: ${name}`, '', null, () => rb[name]);
        if (!(r.error instanceof StateError)) v.add(`after close: ${name} is not a StateError`, r.ok ? 'succeeded' : kindOf(r.error));
      }
    }
    expect(v.summary()).toEqual({});
  });

  test('calls from inside the buffer\'s own calls (getters of a transition, columns or `out`) are a StateError', async () => {
    const g = new Gen(SEEDS.reentrant);
    const v = new Violations();
    const dir = path.join(tmp.dir, 'reentrant');
    fs.mkdirSync(dir);
    let n = 0;
    for (let i = 0; i < 120; i++) {
      const kind = g.pick(KINDS);
      const rb = kind.make(17 + i);
      const names = Object.keys(kind.fields);
      rb.pushBatch(Object.fromEntries(names.map((f) => [f, validColumn(kind.fields[f], 6, i)])));
      const per = typeof rb.top === 'function';
      const inners: [string, () => unknown][] = [
        ['push', () => rb.push(Object.fromEntries(names.map((f) => [f, validColumn(kind.fields[f], 1, 77)])))],
        ['pushBatch', () => rb.pushBatch(Object.fromEntries(names.map((f) => [f, validColumn(kind.fields[f], 2, 78)])))],
        ['sample', () => rb.sample(2)],
        ['clear', () => rb.clear()],
        ['close', () => rb.close()],
        ['setRngState', () => rb.setRngState([5, 6, 7, 8])],
        ['saveSync', () => rb.saveSync(path.join(dir, `r-${n++}.rkb`))],
        ['save', () => rb.save(path.join(dir, `r-${n++}.rkb`))],
      ];
      if (per) inners.push(['updatePriorities', () => rb.updatePriorities([0], [3])]);
      const [innerName, inner] = g.pick(inners);
      let innerResult: Promise<unknown> | null = null;
      let calls = 0;
      const trap = (value: unknown) => () => {
        if (calls++ === 0)
          innerResult = (async () => {
            try {
              await inner();
              return undefined;
            } catch (e) {
              return e;
            }
          })();
        return value;
      };
      const field = g.pick(names);
      const outerKind = g.int(0, 2);
      let outer: () => unknown;
      if (outerKind === 0) {
        const t: Any = Object.fromEntries(names.map((f) => [f, validColumn(kind.fields[f], 1, 50)]));
        Object.defineProperty(t, field, { enumerable: true, get: trap(t[field]) });
        outer = () => rb.push(t);
      } else if (outerKind === 1) {
        const c: Any = Object.fromEntries(names.map((f) => [f, validColumn(kind.fields[f], 3, 60)]));
        Object.defineProperty(c, field, { enumerable: true, get: trap(c[field]) });
        outer = () => rb.pushBatch(c);
      } else {
        const out: Any = {};
        Object.defineProperty(out, field, { enumerable: true, configurable: true, get: trap(new CTORS[kind.fields[field].dtype](3 * elemsOf(kind.fields[field]))) });
        outer = () => rb.sample(3, { out });
      }
      const outerName = ['push', 'pushBatch', 'sample'][outerKind];
      check(v, `${outerName} with ${innerName} inside`, `${kind.name}, getter on ${field}`, rb, outer);
      const innerError = innerResult ? await (innerResult as Promise<unknown>) : 'the getter never ran';
      if (!(innerError instanceof StateError)) v.add(`${innerName} inside ${outerName} is not a StateError`, `${kind.name}: ${innerError === undefined ? 'succeeded' : kindOf(innerError)}`);
      if (!rb.closed) rb.close();
    }
    expect(v.summary()).toEqual({});
  });
});
