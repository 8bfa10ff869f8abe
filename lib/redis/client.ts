/**
 * The Redis connection: loads `ioredis` lazily (so that `replaykit` itself keeps no network
 * dependency), opens clients from a URL, and retries a command within a time budget.
 * @module
 */
import { DependencyError, RemoteError } from './errors';

/** The parts of an ioredis client replaykit uses (typed loosely so that ioredis stays optional at compile time). */
export interface RedisClient {
  call(command: string, ...args: (string | number | Buffer)[]): Promise<unknown>;
  callBuffer(command: string, ...args: (string | number | Buffer)[]): Promise<unknown>;
  disconnect(): void;
  quit(): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  duplicate(): RedisClient;
  /** A MULTI/EXEC transaction: commands queued, sent together, applied all or none. */
  multi(): RedisTransaction;
}

/** The parts of an ioredis transaction replaykit uses. */
export interface RedisTransaction {
  callBuffer(command: string, ...args: (string | number | Buffer)[]): unknown;
  /** Each command's [error, reply], or null when the transaction was discarded. */
  exec(): Promise<[Error | null, unknown][] | null>;
}

/** How to reach Redis: a URL (`redis://127.0.0.1:6379`) replaykit opens and closes, or a client you own (ioredis `Redis` or `Cluster`). */
export interface ConnectionOptions {
  /** A Redis URL, as ioredis takes it. One of `url` and `client` is required. */
  url?: string;
  /**
   * An ioredis client; replaykit never closes it. One of `url` and `client` is required. For
   * a learner, make it with `maxRetriesPerRequest: 0` (replaykit retries within `retryMs`
   * itself): a read ioredis resends after a lost reply delivers entries replaykit never sees
   * until a restart.
   */
  client?: unknown;
  /** How long, in milliseconds, a command is retried while Redis is unreachable before a {@link RemoteError}; default 10,000. */
  retryMs?: number;
}

let ioredis: { new (url: string, options: object): RedisClient } | undefined;

function loadIoredis(): { new (url: string, options: object): RedisClient } {
  if (ioredis) return ioredis;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('ioredis');
    ioredis = (mod.default ?? mod.Redis ?? mod) as typeof ioredis;
    return ioredis!;
  } catch (e) {
    throw new DependencyError("replaykit/redis needs the package 'ioredis' (an optional peer dependency): npm install ioredis");
  }
}

/** A connection: the client and whether replaykit owns it. */
export interface Connection {
  readonly client: RedisClient;
  readonly owned: boolean;
  readonly retryMs: number;
  /** The last connection error seen (for messages). */
  lastError: unknown;
}

/** Opens (or adopts) a client. Throws {@link DependencyError} when ioredis is missing and a URL is given. */
export function connect(options: ConnectionOptions, where: string): Connection {
  const retryMs = options.retryMs ?? 10_000;
  if (!(retryMs >= 0)) throw new RemoteError(`${where}: retryMs must be a number >= 0`);
  let client: RedisClient;
  let owned = false;
  if (options.client !== undefined) {
    client = options.client as RedisClient;
    if (typeof client?.call !== 'function' || typeof client?.callBuffer !== 'function' || typeof client?.multi !== 'function') throw new RemoteError(`${where}: client must be an ioredis client`);
  } else if (typeof options.url === 'string') {
    const Redis = loadIoredis();
    client = new Redis(options.url, {
      lazyConnect: false,
      // Reconnect forever (a restarted server is picked up); each command fails fast while
      // disconnected and is retried by withRetry within the caller's budget. No resend by
      // ioredis itself: a resent XREADGROUP '>' whose first reply was lost would leave the
      // entries it delivered pending and unseen, to be read again only after later ones.
      retryStrategy: (times: number) => Math.min(50 * times, 500),
      maxRetriesPerRequest: 0,
      enableOfflineQueue: true,
    });
    owned = true;
  } else {
    throw new RemoteError(`${where}: one of url and client is required`);
  }
  const conn: Connection = { client, owned, retryMs, lastError: undefined };
  // An 'error' event without a listener is logged by ioredis on every reconnect attempt.
  client.on('error', (e) => {
    conn.lastError = e;
  });
  return conn;
}

/** Whether an error is Redis answering (a command error), as opposed to the connection failing. */
export function isReplyError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as Error).name === 'ReplyError';
}

/**
 * Runs `op`, retrying connection failures with a growing pause until `conn.retryMs` has
 * passed, then throws {@link RemoteError}. A reply error (Redis answered) is not retried.
 */
export async function withRetry<T>(conn: Connection, what: string, op: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const deadline = Date.now() + conn.retryMs;
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await op();
    } catch (e) {
      if (isReplyError(e) && !/LOADING|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN/.test((e as Error).message)) throw new RemoteError(`${what}: Redis refused: ${(e as Error).message}`, { cause: e });
      conn.lastError = e;
      if (Date.now() >= deadline) throw new RemoteError(`${what}: Redis unreachable after ${conn.retryMs} ms (${(e as Error)?.message ?? e})`, { cause: e });
      await sleep(Math.min(20 * 2 ** attempt, 500), signal);
    }
  }
}

/** Waits `ms` milliseconds, or rejects with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Closes a client replaykit opened; leaves an adopted one alone. */
export async function close(conn: Connection): Promise<void> {
  if (!conn.owned) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // QUIT lets the server finish what it was sent; a dead server gets half a second.
    await Promise.race([conn.client.quit(), new Promise<void>((r) => (timer = setTimeout(r, 500)))]);
  } catch {
    // already gone
  } finally {
    clearTimeout(timer);
  }
  conn.client.disconnect();
}

/**
 * The largest `lag` over the stream's consumer groups (XINFO GROUPS, Redis >= 7.0), or 0
 * when the stream or its groups do not exist yet. Where Redis cannot tell the lag (it
 * reports nil after some deletions), the group's pending count stands in.
 */
export async function streamLag(conn: Connection, stream: string, group?: string): Promise<number> {
  let groups: unknown;
  try {
    groups = await conn.client.call('XINFO', 'GROUPS', stream);
  } catch (e) {
    if (isReplyError(e) && /no such key/i.test((e as Error).message)) return 0;
    throw e;
  }
  let lag = 0;
  for (const g of groups as unknown[]) {
    const info = asRecord(g);
    if (group !== undefined && String(info.name) !== group) continue;
    const l = info.lag === null || info.lag === undefined ? Number(info.pending ?? 0) : Number(info.lag);
    lag = Math.max(lag, l);
  }
  return lag;
}

/** A reply that is a map: a flat `[key, value, ...]` array (RESP2, RESP3 "legacy") or an object (RESP3 "resp3" mapping). */
function asRecord(reply: unknown): Record<string, unknown> {
  if (!Array.isArray(reply)) return (reply ?? {}) as Record<string, unknown>;
  const info: Record<string, unknown> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) info[String(reply[i])] = reply[i + 1];
  return info;
}

/** One stream entry as a read returns it: its id and its flat field/value list (null when deleted since delivery). */
export type StreamEntry = [id: Buffer, fields: (Buffer | null)[] | null];

/**
 * The entries of the first stream in an `XREADGROUP` reply, whatever the protocol: RESP2 gives
 * `[[stream, entries]]`, RESP3 (ioredis 6's default) a map, flat `[stream, entries]` or an object.
 */
export function readEntries(reply: unknown): StreamEntry[] {
  if (reply === null || reply === undefined) return [];
  if (Array.isArray(reply)) {
    if (reply.length === 0) return [];
    if (Array.isArray(reply[0])) return ((reply[0] as unknown[])[1] ?? []) as StreamEntry[];
    return (reply[1] ?? []) as StreamEntry[];
  }
  const first = Object.values(reply as Record<string, unknown>)[0];
  return (first ?? []) as StreamEntry[];
}
