/**
 * The learner side: entries read from a stream's consumer group, checked, pushed into a
 * buffer exactly once, then acknowledged.
 * @module
 */
import type { FieldsSpec } from '../schema/types';
import { ShapeError, StateError } from '../errors';
import { decodeEntry, EntryError, wireSchema, type WireSchema } from './codec';
import { close, connect, isReplyError, readEntries, sleep, streamLag, withRetry, type Connection, type ConnectionOptions, type StreamEntry } from './client';
import { RemoteError } from './errors';

/** What {@link RedisIngest} needs of a buffer: a `ReplayBuffer` or `PrioritizedReplayBuffer` (any storage). */
export interface IngestTarget {
  readonly schema: FieldsSpec;
  pushBatch(columns: never, options?: { priorities?: Float64Array }): void;
}

/**
 * The exactly-once state: per actor id, the last sequence number applied to the buffer.
 * Plain JSON. Keep it together with the buffer's archive (see {@link RedisIngest.checkpoint}).
 */
export interface IngestState {
  readonly version: 1;
  readonly stream: string;
  readonly actors: { readonly [actorId: string]: number };
}

/** Options of {@link RedisIngest}. */
export interface RedisIngestOptions extends ConnectionOptions {
  /** The stream key the actors write to. Refused entries go to `<stream>:dead`. */
  stream: string;
  /** The consumer group (created at `start()`, from the stream's beginning, when missing). */
  group: string;
  /** This learner's consumer name in the group. */
  consumer: string;
  /** Entries per `XREADGROUP`; default 16. */
  batchEntries?: number;
  /** `BLOCK` milliseconds of one read (bounds how long `stop()` waits); default 200. */
  blockMs?: number;
  /** Entries pending this long (ms) with another consumer are claimed (XAUTOCLAIM); default 30,000. */
  claimIdleMs?: number;
  /** The state saved with the archive the buffer was loaded from: entries it already holds are skipped. */
  resumeState?: IngestState;
  /** Called with an error the ingest loop recovered from (e.g. Redis unreachable for a while); default: none. */
  onError?: (error: unknown) => void;
}

/** Counters of {@link RedisIngest.stats}. */
export interface IngestStats {
  /** Entries applied to the buffer. */
  entries: number;
  /** Rows applied to the buffer. */
  rows: number;
  /** Bytes of the applied entries (on the wire, header included). */
  bytes: number;
  /** Entries skipped because their sequence number was not above the actor's last applied one (retries, redeliveries, replays). */
  duplicatesSkipped: number;
  /** Entries moved to `<stream>:dead` (malformed, other schema, refused by the buffer). */
  deadLettered: number;
  /** The group's lag (entries not yet delivered) at the last check, about once a second. */
  lag: number;
}

/**
 * Feeds a buffer from a Redis stream. `start()` creates the consumer group if needed and
 * runs a loop: this consumer's pending entries first (`XREADGROUP ... 0`, after a restart),
 * then entries of dead consumers (`XAUTOCLAIM`, idle `claimIdleMs`), then new ones
 * (`XREADGROUP ... >`, `BLOCK blockMs`). Each entry is checked (format, checksum, schema
 * hash, sizes), its rows pushed with `pushBatch` (priorities included for a prioritized
 * buffer), then it is acknowledged. A refused entry goes to `<stream>:dead` with fields
 * `id`, `reason`, `entry` and is acknowledged; the loop never stops on bad input and
 * retries a lost connection forever (reporting to `onError`).
 *
 * Exactly once: the last applied sequence number per actor is kept ({@link state}); an
 * entry at or below it is skipped. To survive a crash, save {@link state} together with
 * the buffer's archive through {@link checkpoint} and pass it back as `resumeState`.
 * (Embedding it inside the archive itself is pending a core archive change.)
 *
 * Source: lib/redis/ingest.ts.
 */
export class RedisIngest {
  readonly #buffer: IngestTarget;
  readonly #conn: Connection;
  readonly #ws: WireSchema;
  readonly #stream: string;
  readonly #dead: string;
  readonly #group: string;
  readonly #consumer: string;
  readonly #batchEntries: number;
  readonly #blockMs: number;
  readonly #claimIdleMs: number;
  readonly #onError: ((e: unknown) => void) | undefined;
  readonly #prioritized: boolean;
  readonly #last = new Map<string, number>();
  readonly #stats: IngestStats = { entries: 0, rows: 0, bytes: 0, duplicatesSkipped: 0, deadLettered: 0, lag: 0 };
  #loop: Promise<void> | undefined;
  #stopping = false;
  #closed = false;
  #paused: Promise<void> | undefined;
  #idle: (() => void) | undefined;
  #busy = false;

  /**
   * @throws {@link ShapeError} for a missing stream, group or consumer name or a bad
   *   `resumeState`; {@link DependencyError} when `url` is given and ioredis is missing.
   */
  constructor(buffer: IngestTarget, options: RedisIngestOptions) {
    const where = 'RedisIngest';
    for (const k of ['stream', 'group', 'consumer'] as const) {
      if (typeof options?.[k] !== 'string' || options[k].length === 0) throw new ShapeError(`${where}: ${k} must be a non-empty string`);
    }
    if (!buffer || typeof buffer.pushBatch !== 'function') throw new ShapeError(`${where}: buffer must be a replaykit buffer`);
    this.#buffer = buffer;
    this.#ws = wireSchema(buffer.schema);
    this.#prioritized = typeof (buffer as { updatePriorities?: unknown }).updatePriorities === 'function';
    this.#stream = options.stream;
    this.#dead = `${options.stream}:dead`;
    this.#group = options.group;
    this.#consumer = options.consumer;
    this.#batchEntries = options.batchEntries ?? 16;
    this.#blockMs = options.blockMs ?? 200;
    this.#claimIdleMs = options.claimIdleMs ?? 30_000;
    if (!Number.isInteger(this.#batchEntries) || this.#batchEntries < 1) throw new ShapeError(`${where}: batchEntries must be a positive integer`);
    this.#onError = options.onError;
    const rs = options.resumeState;
    if (rs !== undefined) {
      if (rs === null || typeof rs !== 'object' || rs.version !== 1 || typeof rs.actors !== 'object' || rs.actors === null) throw new ShapeError(`${where}: resumeState is not an IngestState`);
      if (rs.stream !== options.stream) throw new ShapeError(`${where}: resumeState is of stream ${rs.stream}, not ${options.stream}`);
      for (const [a, s] of Object.entries(rs.actors)) {
        if (!Number.isSafeInteger(s) || s < 0) throw new ShapeError(`${where}: resumeState has a bad sequence number for ${a}`);
        this.#last.set(a, s);
      }
    }
    this.#conn = connect(options, where);
  }

  /** A copy of the counters. */
  get stats(): IngestStats {
    return { ...this.#stats };
  }

  /** The exactly-once state now: per actor, the last sequence number applied. A fresh plain object. */
  state(): IngestState {
    return { version: 1, stream: this.#stream, actors: Object.fromEntries(this.#last) };
  }

  /**
   * Creates the group when missing (from the stream's start, `MKSTREAM`) and starts the loop.
   * @throws {@link RemoteError} when Redis is unreachable past `retryMs`; {@link StateError} when started twice or after `stop()`.
   */
  async start(): Promise<void> {
    if (this.#loop || this.#closed) throw new StateError('RedisIngest: already started or stopped');
    try {
      await withRetry(this.#conn, `RedisIngest XGROUP CREATE ${this.#stream}`, async () => {
        try {
          await this.#conn.client.call('XGROUP', 'CREATE', this.#stream, this.#group, '0', 'MKSTREAM');
        } catch (e) {
          if (!(isReplyError(e) && /BUSYGROUP/.test((e as Error).message))) throw e;
        }
      });
    } catch (e) {
      this.#closed = true;
      await close(this.#conn);
      throw e;
    }
    this.#loop = this.#run();
  }

  /** Stops after the entry being applied (at most one `blockMs` read later) and closes a connection replaykit opened. Idempotent. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#closed = true;
    await this.#loop;
    await close(this.#conn);
  }

  /**
   * Runs `fn` (e.g. `() => buffer.save(path)`) while no entry is being applied, and returns
   * the state matching the buffer during `fn`. Save both together: after a crash, load the
   * archive and pass the state as `resumeState`.
   * @throws what `fn` throws.
   */
  async checkpoint(fn: () => unknown | Promise<unknown>): Promise<IngestState> {
    let release!: () => void;
    const paused = new Promise<void>((r) => (release = r));
    while (this.#paused) await this.#paused;
    this.#paused = paused;
    try {
      if (this.#busy) await new Promise<void>((r) => (this.#idle = r));
      const state = this.state();
      await fn();
      return state;
    } finally {
      this.#paused = undefined;
      release();
    }
  }

  async #run(): Promise<void> {
    let phase: 'pending' | 'claim' | 'new' = 'pending';
    let claimCursor = '0-0';
    let lastClaim = Date.now();
    let lastLag = 0;
    while (!this.#stopping) {
      try {
        if (this.#paused) await this.#paused;
        if (Date.now() - lastLag > 1000) {
          lastLag = Date.now();
          this.#stats.lag = await streamLag(this.#conn, this.#stream, this.#group);
        }
        let entries: StreamEntry[];
        if (phase === 'pending') {
          entries = await this.#read('0', false);
          if (entries.length === 0) phase = 'claim';
        } else if (phase === 'claim') {
          const r = (await this.#conn.client.callBuffer('XAUTOCLAIM', this.#stream, this.#group, this.#consumer, this.#claimIdleMs, claimCursor, 'COUNT', this.#batchEntries)) as [Buffer, [Buffer, Buffer[] | null][]];
          claimCursor = r[0].toString();
          entries = r[1] ?? [];
          if (claimCursor === '0-0') {
            phase = 'new';
            lastClaim = Date.now();
          }
        } else {
          entries = await this.#read('>', true);
          if (Date.now() - lastClaim > this.#claimIdleMs) phase = 'claim';
        }
        if (entries.length > 0) await this.#apply(entries);
      } catch (e) {
        if (this.#stopping) break;
        this.#onError?.(e);
        // After a reconnect, this consumer's pending list may hold entries read but not acknowledged.
        phase = 'pending';
        await sleep(100);
      }
    }
  }

  async #read(id: string, block: boolean): Promise<StreamEntry[]> {
    const args: (string | number)[] = ['GROUP', this.#group, this.#consumer, 'COUNT', this.#batchEntries];
    if (block) args.push('BLOCK', this.#blockMs);
    args.push('STREAMS', this.#stream, id);
    return readEntries(await this.#conn.client.callBuffer('XREADGROUP', ...args));
  }

  async #apply(entries: StreamEntry[]): Promise<void> {
    this.#busy = true;
    const ids: Buffer[] = [];
    try {
      for (const [id, fields] of entries) {
        ids.push(id);
        // A pending entry deleted from the stream (XDEL, trimming) comes back with no fields.
        if (!fields) continue;
        const raw = fieldValue(fields, 'e');
        let reason: string | undefined;
        try {
          if (!raw) throw new EntryError("entry has no field 'e'");
          const d = decodeEntry(this.#ws, raw);
          const last = this.#last.get(d.actorId);
          if (last !== undefined && d.sequence <= last) {
            this.#stats.duplicatesSkipped++;
            continue;
          }
          const options = this.#prioritized && d.priorities ? { priorities: d.priorities } : undefined;
          try {
            this.#buffer.pushBatch(d.columns as never, options);
          } catch (e) {
            throw new EntryError(`refused by the buffer: ${(e as Error)?.message ?? e}`);
          }
          this.#last.set(d.actorId, d.sequence);
          this.#stats.entries++;
          this.#stats.rows += d.rows;
          this.#stats.bytes += raw.length;
        } catch (e) {
          if (!(e instanceof EntryError)) throw e;
          reason = e.message;
        }
        if (reason !== undefined) {
          await this.#conn.client.callBuffer('XADD', this.#dead, '*', 'id', id, 'reason', reason, 'entry', raw ?? Buffer.alloc(0));
          this.#stats.deadLettered++;
        }
      }
    } finally {
      this.#busy = false;
      const idle = this.#idle;
      this.#idle = undefined;
      idle?.();
    }
    // Acknowledged after the rows are in the buffer: a crash before this line re-reads them
    // (and the sequence numbers skip what the saved state says the archive holds).
    if (ids.length > 0) await this.#conn.client.callBuffer('XACK', this.#stream, this.#group, ...ids);
  }
}

function fieldValue(fields: (Buffer | null)[], name: string): Buffer | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]?.toString() === name) return fields[i + 1] ?? undefined;
  return undefined;
}

