/**
 * Helpers of the issue-12 tests (regressions-12.test.ts, hostile.test.ts): a snapshot of
 * everything a refused call must leave as it was, error capture for sync and async calls,
 * temporary directories, and a child-process runner against the built package (dist/) for
 * the cases that could hang or kill the test process on a broken build.
 * They use only the public API, so they hold whatever the library's internal layout.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** What a buffer shows through its public API; compared with toEqual before and after a refused call. */
export interface Snapshot {
  length: number;
  rng: number[];
  all: unknown;
  prioritized?: { beta: number; total: number; max: number; min: number; top: unknown };
}

/** Anything with the public read API of both buffer kinds (typed loosely: the tests feed it hostile input). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyBuffer = any;

/**
 * Length, generator state, every stored item (sampleAll, which draws nothing) and, for a
 * prioritized buffer, beta's progress, the priority statistics and every item's priority
 * (top(length), which draws nothing either).
 */
export function snapshot(rb: AnyBuffer): Snapshot {
  const length = rb.length as number;
  const s: Snapshot = { length, rng: rb.getRngState(), all: plain(rb.sampleAll()) };
  if (typeof rb.top === 'function')
    s.prioritized = { beta: rb.beta, total: rb.totalPriority, max: rb.maxPriority, min: rb.minPriority, top: plain(rb.top(length)) };
  return s;
}

/** A batch as plain data (each typed array as a tagged plain array), so toEqual compares values and types. */
export function plain(batch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(batch).sort()) {
    const v = batch[k];
    out[k] = ArrayBuffer.isView(v) ? [Object.prototype.toString.call(v), Array.from(v as unknown as ArrayLike<unknown>)] : v;
  }
  return out;
}

/** The error `fn` throws, or undefined when it returns. */
export function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The error of a call that may throw at once or return a promise that rejects; undefined when it succeeds. */
export async function settledError(fn: () => unknown): Promise<unknown> {
  let r: unknown;
  try {
    r = fn();
  } catch (e) {
    return e;
  }
  try {
    await r;
  } catch (e) {
    return e;
  }
  return undefined;
}

/** A describable summary of a thrown value for failure messages: its class name and message. */
export function describeError(e: unknown): string {
  if (e === undefined) return '(nothing thrown)';
  if (typeof e === 'object' && e !== null) return `${(e as object).constructor?.name}: ${(e as Error).message}`;
  return `${typeof e}: ${String(e)}`;
}

/** A fresh temporary directory under the OS's, removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; fresh: (name?: string) => string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  let n = 0;
  return {
    dir,
    fresh: (name = 'f.rkb') => path.join(dir, `${n++}-${name}`),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** The built package that child processes load (npm run build:ts makes it). */
export const distEntry = path.join(__dirname, '..', 'dist', 'lib', 'index.js');

/** How a child process ended. */
export interface Outcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when it was killed for running past `timeoutMs` (a hang). */
  timedOut: boolean;
}

/**
 * Runs `script` in a fresh node process with `rk` (the built package), `fs`, `path` and
 * `report(value)` (prints one JSON line) in scope; killed after `timeoutMs`.
 */
export function child(script: string, timeoutMs = 30_000): Outcome {
  if (!fs.existsSync(distEntry)) throw new Error('run `npm run build:ts` first: child-process tests load dist/');
  const prelude = `
    const rk = require(${JSON.stringify(distEntry)});
    const fs = require('node:fs');
    const path = require('node:path');
    const report = (v) => console.log(JSON.stringify(v));
    const errName = (e) => e === undefined ? null : (e instanceof rk.ReplayError ? 'ReplayError:' : 'other:') + (e && e.constructor && e.constructor.name) + ':' + (e && e.message);
  `;
  const r = spawnSync(process.execPath, ['-e', `${prelude}\n${script}`], { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', timedOut };
}

/** The last JSON line a child printed with `report`. */
export function lastReport(o: Outcome): unknown {
  const lines = o.stdout.trim().split('\n').filter(Boolean);
  if (lines.length === 0) throw new Error(`the child printed nothing: ${JSON.stringify({ status: o.status, signal: o.signal, timedOut: o.timedOut, stderr: o.stderr.slice(0, 2000) })}`);
  return JSON.parse(lines[lines.length - 1]);
}

/** Names of save temporaries (`.<name>.tmp-<pid>-<hex>`) in `dir`. */
export function saveTemporaries(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => /^\..*\.tmp-\d+-[0-9a-f]+$/.test(f));
}
