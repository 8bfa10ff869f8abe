/** The real redis-server of the Redis tests (scripts/redis-server.js), typed, plus shared test schema helpers. */
import * as path from 'node:path';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly pid: number;
  shutdown(): Promise<void>;
  kill(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const script = require(path.join(__dirname, '..', '..', 'scripts', 'redis-server.js')) as {
  startRedis(options?: { appendonly?: boolean; port?: number; dir?: string }): Promise<RedisServer>;
};

export const startRedis = script.startRedis;

/**
 * A plain ioredis client for the tests' own commands (raw XADD, XRANGE, XPENDING...). Loaded
 * at run time: ioredis is an optional peer of the package, so no test file imports its types.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function rawRedis(url: string): any {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('ioredis');
  const Redis = mod.default ?? mod.Redis ?? mod;
  return new Redis(url, { maxRetriesPerRequest: 3 });
}

/** The schema of the Redis tests: `id` (float64) names each row so that every row can be counted. */
// As tests/redis/children/schema.js, which the child processes use (typed here for RedisActor<F>).
export const SCHEMA = {
  id: { shape: [], dtype: 'float64' },
  obs: { shape: [3], dtype: 'float32' },
  action: { shape: [], dtype: 'int32' },
  done: { shape: [], dtype: 'bool' },
} as const;

/** Row `id` of the test schema. */
export function row(id: number) {
  return { id, obs: Float32Array.of(id, id + 0.5, -id), action: id % 5, done: id % 7 === 0 };
}

/** Columns of rows first .. first+n-1. */
export function rows(first: number, n: number) {
  const id = new Float64Array(n);
  const obs = new Float32Array(3 * n);
  const action = new Int32Array(n);
  const done = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = row(first + i);
    id[i] = r.id;
    obs.set(r.obs, 3 * i);
    action[i] = r.action;
    done[i] = r.done ? 1 : 0;
  }
  return { id, obs, action, done };
}

/** Waits until `cond()` holds, polling; throws after `ms` (a bound, not a timed assertion). */
export async function until(cond: () => boolean | Promise<boolean>, ms = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Checks that a buffer's `id` column holds exactly ids 0..n-1 once each, and that every row's fields match its id. */
export function expectExactlyOnce(all: { id: Float64Array; obs: Float32Array; action: Int32Array; done: Uint8Array }, n: number): void {
  const ids = Array.from(all.id).sort((a, b) => a - b);
  expect(ids.length).toBe(n);
  for (let i = 0; i < n; i++) if (ids[i] !== i) throw new Error(`row ids: expected ${i} at sorted position ${i}, got ${ids[i]}`);
  for (let k = 0; k < all.id.length; k++) {
    const r = row(all.id[k]);
    expect(Array.from(all.obs.subarray(3 * k, 3 * k + 3))).toEqual(Array.from(r.obs));
    expect(all.action[k]).toBe(r.action);
    expect(all.done[k]).toBe(r.done ? 1 : 0);
  }
}
