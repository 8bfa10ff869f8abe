/**
 * The learner side: entries read from a stream's consumer group, checked, pushed into a
 * buffer exactly once, then acknowledged.
 *
 * Longer than 300 lines because the read loop, the exactly-once state kept in the buffer's
 * archives and the acknowledgement policy share one bookkeeping of entries (applied,
 * archived, acknowledged) that would be harder to follow split across files.
 * @module
 */
import { createHash } from 'node:crypto';
import type { FieldsSpec } from '../schema/types';
import { ShapeError, StateError } from '../errors';
import { bufferState } from '../buffer/base';
import type { BufferCore } from '../buffer/core';
import { decodeEntry, EntryError, wireSchema, type WireSchema } from './codec';
import { close, connect, isReplyError, readEntries, sleep, streamLag, withRetry, type Connection, type ConnectionOptions, type StreamEntry } from './client';
import { RemoteError } from './errors';
import { LIMITS } from '../native/addon';

/** What {@link RedisIngest} feeds: a `ReplayBuffer` or `PrioritizedReplayBuffer` (any storage). */
export interface IngestTarget {
  readonly schema: FieldsSpec;
  /** `options`: `{ priorities }` for a prioritized buffer, nothing for a uniform one. */
  pushBatch(columns: never, options?: object): void;
}

/**
 * The exactly-once state: per actor id, the last sequence number applied to the buffer. It
 * lives with the buffer and in the buffer's archives (an extension section named
 * `replaykit/redis:<stream>`); {@link RedisIngest.state} returns a copy.
 */
export interface IngestState {
  readonly version: 1;
  readonly stream: string;
  readonly actors: { readonly [actorId: string]: number };
  /** Buffers that keep episodes: the env stream each actor's rows go to (absent in archives of earlier versions: none assigned yet). */
  readonly envs?: { readonly [actorId: string]: number };
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
  /** Entries pending this long (ms) with another consumer are claimed (XPENDING, XCLAIM); default 30,000. */
  claimIdleMs?: number;
  /**
   * When entries are acknowledged (`XACK`): `'saved'` (default) once an archive of the buffer
   * holding their rows is saved (`buffer.save`/`saveSync` after they were applied), so a
   * learner killed at any moment and restarted from its last archive, with the same
   * `consumer` name, re-reads from its pending entries all it had not archived: no row lost,
   * none twice. `'applied'`: as soon as their rows are in the buffer (nothing stays pending;
   * rows applied after the last archive are lost if the learner dies).
   */
  acknowledge?: 'saved' | 'applied';
  /** Called with an error the ingest loop recovered from (e.g. Redis unreachable for a while); default: none. */
  onError?: (error: unknown) => void;
  /**
   * Buffers that keep episodes (`episodes`, `nStep`, a `next` field): each actor's rows are
   * one env stream of the buffer, so n-step returns and sequences never mix two actors. The
   * first actor seen gets env `firstEnv`, the next `firstEnv + 1`, and so on (kept with the
   * buffer and in its archives, like the sequence numbers). An actor must therefore send one
   * environment's transitions (a vectorised actor: one RedisActor, with its own actorId, per
   * environment), and the learner's own pushes into the same buffer should use env ids
   * outside those. Default 0.
   */
  firstEnv?: number;
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
  /** Entries read but not yet acknowledged (with `acknowledge: 'saved'`, until the next save). */
  unacknowledged: number;
}

/**
 * Feeds a buffer from a Redis stream. `start()` creates the consumer group if needed and
 * runs a loop: this consumer's pending entries first (`XREADGROUP ... 0`, after a restart),
 * then entries of dead consumers (`XCLAIM`, idle `claimIdleMs`), then new ones
 * (`XREADGROUP ... >`, `BLOCK blockMs`). Each entry is checked (format, checksum, schema
 * hash, sizes), its rows pushed with `pushBatch` (priorities included for a prioritized
 * buffer), then acknowledged (see `acknowledge`). A refused entry goes to `<stream>:dead`
 * with fields `id`, `reason`, `entry`; the loop never stops on bad input and retries a
 * lost connection forever (reporting to `onError`). While the buffer is being saved, the
 * loop waits; a closed buffer stops it.
 *
 * Exactly once: the last applied sequence number per actor is kept with the buffer and
 * saved in its archives; an entry at or below it is skipped (an actor's retried `XADD`, a
 * redelivery, a replay). Load the buffer from its archive and make a new `RedisIngest` over
 * it: it continues from the archived state.
 *
 * Source: lib/redis/ingest.ts.
 */
export class RedisIngest {
  readonly #buffer: IngestTarget;
  readonly #core: BufferCore;
  readonly #stateName: string;
  readonly #ackOnSave: boolean;
  // Entries processed and not yet acknowledged, oldest first; the first #planned are held by the last archive planned.
  #unacked: Buffer[] = [];
  // Their ids as text: an entry delivered again (a re-read pending list, a claim of our own idle entries) is listed once.
  readonly #unackedIds = new Set<string>();
  #planned = 0;
  #acking: Promise<void> = Promise.resolve();
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
  // Buffers that keep episodes: the env stream of each actor (assigned in order of first entry).
  readonly #envOf = new Map<string, number>();
  readonly #episodes: boolean;
  readonly #firstEnv: number;
  readonly #stats: IngestStats = { entries: 0, rows: 0, bytes: 0, duplicatesSkipped: 0, deadLettered: 0, lag: 0, unacknowledged: 0 };
  #loop: Promise<void> | undefined;
  #stopping = false;
  #closed = false;

  /**
   * @param buffer a `ReplayBuffer` or `PrioritizedReplayBuffer`, new or loaded from an archive
   *   (then the archived exactly-once state of this stream is taken up).
   * @throws `ShapeError` for a missing stream, group or consumer name, or a buffer that
   *   is not a replaykit buffer; {@link StateError} when another RedisIngest of this stream
   *   feeds the buffer, or its archived state is damaged; {@link DependencyError} when `url`
   *   is given and ioredis is missing.
   */
  constructor(buffer: IngestTarget, options: RedisIngestOptions) {
    const where = 'RedisIngest';
    for (const k of ['stream', 'group', 'consumer'] as const) {
      if (typeof options?.[k] !== 'string' || options[k].length === 0) throw new ShapeError(`${where}: ${k} must be a non-empty string`);
    }
    let core: BufferCore;
    try {
      core = bufferState(buffer as never);
    } catch {
      throw new ShapeError(`${where}: buffer must be a replaykit ReplayBuffer or PrioritizedReplayBuffer`);
    }
    core.assertOpen();
    this.#buffer = buffer;
    this.#core = core;
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
    this.#episodes = core.episodes !== null;
    this.#firstEnv = options.firstEnv ?? 0;
    if (!Number.isInteger(this.#firstEnv) || this.#firstEnv < 0 || this.#firstEnv >= LIMITS.maxEnvStreams)
      throw new ShapeError(`${where}: firstEnv must be an integer in [0, ${LIMITS.maxEnvStreams})`);
    const ack = options.acknowledge ?? 'saved';
    if (ack !== 'saved' && ack !== 'applied') throw new ShapeError(`${where}: acknowledge must be 'saved' or 'applied'`);
    this.#ackOnSave = ack === 'saved';
    // The state's name in the buffer's archives: one per stream (names are at most 256 bytes).
    const plain = `replaykit/redis:${options.stream}`;
    this.#stateName = Buffer.byteLength(plain) <= 256 ? plain : `replaykit/redis#${createHash('sha256').update(options.stream).digest('hex')}`;
    const held = core.extensions.get(this.#stateName);
    if (held !== undefined && !ArrayBuffer.isView(held)) throw new StateError(`${where}: another RedisIngest of stream ${options.stream} feeds this buffer; stop it first`);
    if (held !== undefined) this.#takeState(held, options.stream);
    this.#conn = connect(options, where);
    core.extensions.set(this.#stateName, { data: () => this.#stateBytes(), saved: () => this.#archived() });
  }

  #takeState(bytes: Uint8Array, stream: string): void {
    let st: IngestState;
    try {
      st = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as IngestState;
    } catch {
      throw new StateError(`RedisIngest: the buffer's archived state of stream ${stream} is not JSON`);
    }
    if (st === null || typeof st !== 'object' || st.version !== 1 || st.stream !== stream || typeof st.actors !== 'object' || st.actors === null)
      throw new StateError(`RedisIngest: the buffer's archived state of stream ${stream} is damaged`);
    for (const [a, q] of Object.entries(st.actors)) {
      if (!Number.isSafeInteger(q) || q < 0) throw new StateError(`RedisIngest: the buffer's archived state has a bad sequence number for actor ${a}`);
      this.#last.set(a, q);
    }
    if (st.envs !== undefined && (typeof st.envs !== 'object' || st.envs === null)) throw new StateError(`RedisIngest: the buffer's archived state of stream ${stream} is damaged`);
    for (const [a, e] of Object.entries(st.envs ?? {})) {
      if (!Number.isInteger(e) || e < 0 || e >= LIMITS.maxEnvStreams) throw new StateError(`RedisIngest: the buffer's archived state has a bad env stream for actor ${a}`);
      this.#envOf.set(a, e);
    }
  }

  // Called when a save plans its archive: the state now, and the entries it holds.
  #stateBytes(): Uint8Array {
    this.#planned = this.#unacked.length;
    return Buffer.from(JSON.stringify(this.state()), 'utf8');
  }

  // That archive is in place: its entries can be acknowledged.
  #archived(): void {
    if (!this.#ackOnSave || this.#planned === 0) return;
    const ids = this.#unacked.splice(0, this.#planned);
    for (const id of ids) this.#unackedIds.delete(id.toString());
    this.#planned = 0;
    this.#queueAck(ids);
  }

  #queueAck(ids: Buffer[]): void {
    if (ids.length === 0) return;
    this.#acking = this.#acking.then(() =>
      withRetry(this.#conn, `RedisIngest XACK ${this.#stream}`, () => this.#conn.client.callBuffer('XACK', this.#stream, this.#group, ...ids)).then(
        () => undefined,
        (e) => {
          // Still pending in Redis: re-read after a restart and skipped by sequence number.
          this.#onError?.(e);
        },
      ),
    );
  }

  /** A copy of the counters. */
  get stats(): IngestStats {
    return { ...this.#stats, unacknowledged: this.#unacked.length };
  }

  /** The exactly-once state now: per actor, the last sequence number applied. A fresh plain object. */
  state(): IngestState {
    const st: IngestState = { version: 1, stream: this.#stream, actors: Object.fromEntries(this.#last) };
    return this.#envOf.size > 0 ? { ...st, envs: Object.fromEntries(this.#envOf) } : st;
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

  /**
   * Stops after the entry being applied (at most one `blockMs` read later), sends the
   * acknowledgements due, and closes a connection replaykit opened. The buffer keeps the
   * state (a later save archives it; a new RedisIngest may take it up). Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#closed && !this.#loop) return;
    this.#stopping = true;
    this.#closed = true;
    await this.#loop;
    this.#loop = undefined;
    await this.#acking;
    // Leave the state in the buffer as bytes: saved with its archives, and free for another ingest.
    if (!this.#core.closed) this.#core.extensions.set(this.#stateName, Buffer.from(JSON.stringify(this.state()), 'utf8'));
    await close(this.#conn);
  }

  async #run(): Promise<void> {
    let phase: 'pending' | 'claim' | 'new' = 'pending';
    let pendingCursor = '0';
    let claimCursor = '-';
    let lastClaim = Date.now();
    let lastLag = 0;
    let prefetch: Promise<StreamEntry[]> | undefined;
    while (!this.#stopping) {
      try {
        if (this.#core.closed) {
          this.#onError?.(new StateError('RedisIngest: the buffer was closed; the ingest stops'));
          break;
        }
        if (Date.now() - lastLag > 1000) {
          lastLag = Date.now();
          this.#stats.lag = await streamLag(this.#conn, this.#stream, this.#group);
        }
        let entries: StreamEntry[];
        if (phase === 'pending') {
          // Pending entries stay pending until acknowledged: walk them with a cursor.
          entries = await this.#read(pendingCursor, false);
          if (entries.length === 0) phase = 'claim';
          else pendingCursor = entries[entries.length - 1][0].toString();
        } else if (phase === 'claim') {
          // Other consumers' entries idle past claimIdleMs (a learner that died under another
          // name), listed with XPENDING and taken with XCLAIM. Ours are not claimed: with
          // acknowledge 'saved' they wait for a save, and re-reading them would cost bandwidth.
          const listed = (await this.#conn.client.call('XPENDING', this.#stream, this.#group, 'IDLE', this.#claimIdleMs, claimCursor, '+', this.#batchEntries)) as [string, string, number, number][];
          const theirs = listed.filter((p) => String(p[1]) !== this.#consumer).map((p) => String(p[0]));
          entries = theirs.length > 0 ? ((await this.#conn.client.callBuffer('XCLAIM', this.#stream, this.#group, this.#consumer, this.#claimIdleMs, ...theirs)) as StreamEntry[]) : [];
          if (listed.length < this.#batchEntries) {
            phase = 'new';
            claimCursor = '-';
            lastClaim = Date.now();
          } else {
            claimCursor = `(${String(listed[listed.length - 1][0])}`;
          }
        } else {
          entries = await (prefetch ?? this.#read('>', true));
          prefetch = undefined;
          // The next read travels while this one is applied (Redis and the learner work at
          // once). Entries it delivers and this process never applies stay pending: re-read
          // from the pending list after an error or a restart.
          if (entries.length === this.#batchEntries && !this.#stopping) {
            prefetch = this.#read('>', true);
            prefetch.catch(() => undefined); // awaited next turn, or dropped with its entries pending
          } else if (Date.now() - lastClaim > this.#claimIdleMs) phase = 'claim';
        }
        if (entries.length > 0) await this.#apply(entries);
      } catch (e) {
        if (prefetch) await prefetch.catch(() => undefined);
        prefetch = undefined;
        if (this.#stopping) break;
        this.#onError?.(e);
        // After a reconnect, this consumer's pending list may hold entries read but not acknowledged.
        phase = 'pending';
        pendingCursor = '0';
        await sleep(100);
      }
    }
    // Stopped with a read in flight: let it land (its entries stay pending for the next start).
    if (prefetch) await prefetch.catch(() => undefined);
  }

  // The env stream of an actor's rows (buffers that keep episodes): its own, assigned at its
  // first entry; an EntryError (dead-lettered) when the env ids run out.
  #envFor(actorId: string): number {
    let env = this.#envOf.get(actorId);
    if (env === undefined) {
      env = this.#firstEnv + this.#envOf.size;
      if (env >= LIMITS.maxEnvStreams) throw new EntryError(`no env stream left for actor ${actorId} (env ids are below ${LIMITS.maxEnvStreams})`);
      this.#envOf.set(actorId, env);
    }
    return env;
  }

  async #read(id: string, block: boolean): Promise<StreamEntry[]> {
    const args: (string | number)[] = ['GROUP', this.#group, this.#consumer, 'COUNT', this.#batchEntries];
    if (block) args.push('BLOCK', this.#blockMs);
    args.push('STREAMS', this.#stream, id);
    return readEntries(await this.#conn.client.callBuffer('XREADGROUP', ...args));
  }

  async #apply(entries: StreamEntry[]): Promise<void> {
    const ids: Buffer[] = [];
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
        // A save in progress refuses changes: wait for it (the archive gets the state before this entry).
        while (this.#core.saving) await sleep(2);
        if (this.#core.closed) throw new StateError('RedisIngest: the buffer was closed');
        const options: { priorities?: Float64Array; env?: number } = {};
        if (this.#prioritized && d.priorities) options.priorities = d.priorities;
        if (this.#episodes) options.env = this.#envFor(d.actorId);
        try {
          this.#buffer.pushBatch(d.columns as never, options);
        } catch (e) {
          throw new EntryError(`refused by the buffer: ${(e as Error)?.message ?? e}`);
        }
        // Synchronously after the push: a save plans its archive between entries, never inside one.
        this.#last.set(d.actorId, d.sequence);
        this.#stats.entries++;
        this.#stats.rows += d.rows;
        this.#stats.bytes += raw.length;
      } catch (e) {
        if (!(e instanceof EntryError)) throw e;
        reason = e.message;
      }
      if (reason !== undefined) {
        await withRetry(this.#conn, `RedisIngest XADD ${this.#dead}`, () =>
          this.#conn.client.callBuffer('XADD', this.#dead, '*', 'id', id, 'reason', reason, 'entry', raw ?? Buffer.alloc(0)),
        );
        this.#stats.deadLettered++;
      }
    }
    // Acknowledged after the rows are in the buffer (and, by default, in a saved archive): a
    // crash before re-reads them, and the sequence numbers skip what the buffer holds.
    if (this.#ackOnSave) {
      for (const id of ids) {
        const key = id.toString();
        if (this.#unackedIds.has(key)) continue;
        this.#unackedIds.add(key);
        this.#unacked.push(id);
      }
    }
    else this.#queueAck(ids);
  }
}

function fieldValue(fields: (Buffer | null)[], name: string): Buffer | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]?.toString() === name) return fields[i + 1] ?? undefined;
  return undefined;
}

