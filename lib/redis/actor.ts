/**
 * The actor side: rows collected into binary entries and `XADD`ed to a stream, with
 * backpressure from the consumer group's lag.
 *
 * Just over 300 lines: the input checks and row staging of `push`/`pushBatch` are kept
 * with the send path they feed (the staged rows and the outbox are one state).
 * @module
 */
import { DTYPES, type AnyTypedArray } from '../schema/dtypes';
import type { Columns, FieldsSpec, Transition } from '../schema/types';
import { OutOfRangeError, ShapeError, StateError } from '../errors';
import { encodeEntry, wireSchema, type WireField, type WireSchema } from './codec';
import { close, connect, sleep, streamLag, withRetry, type Connection, type ConnectionOptions } from './client';
import { RemoteError } from './errors';

/** Options of {@link RedisActor}. */
export interface RedisActorOptions<F extends FieldsSpec> extends ConnectionOptions {
  /** The stream key the entries go to. */
  stream: string;
  /** This actor's name, 1..1024 UTF-8 bytes; the learner keeps the last sequence number applied per actor id. */
  actorId: string;
  /** The schema; the learner's buffer must have the same (compared by hash). A buffer's `schema` works. */
  schema: F;
  /** Wait while the consumer groups are more than this many entries behind (XINFO GROUPS lag); default: no limit. */
  maxLag?: number;
  /** Only this group's lag counts for `maxLag`; default: the largest lag of any group. */
  group?: string;
  /** Rows per entry: a full entry is sent at once; default 256. */
  flushRows?: number;
  /** A partial entry is sent this many milliseconds after its first row; default 100. 0 or Infinity: only by `flushRows` or `flush()`. */
  flushMs?: number;
  /** Default timeout in milliseconds of a backpressure wait; default Infinity. */
  timeoutMs?: number;
  /** Milliseconds between lag checks while waiting; default 20. */
  lagPollMs?: number;
  /**
   * The first sequence number; default `Date.now() * 1000`, so that an actor restarted
   * under the same id continues above the numbers it used before (the learner skips an
   * entry whose number is not above the last it applied for that actor).
   */
  firstSequence?: number;
}

/** Options of one `push`, `pushBatch` or `flush` call. */
export interface SendOptions {
  /** Give up a backpressure wait after this many milliseconds with a {@link RemoteError} whose `timedOut` is true; default the actor's `timeoutMs`. */
  timeoutMs?: number;
  /** Abort a backpressure wait or retry; the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Sends experience to a learner's buffer through a Redis stream. Rows are staged and sent
 * as one binary entry per `flushRows` rows or `flushMs` milliseconds (format in
 * `lib/redis/codec.ts`); each entry carries a per-actor sequence number, so a retried
 * `XADD` after a lost connection cannot duplicate rows in the learner's buffer.
 *
 * Calls are serialised: entries leave in the order their rows were pushed. A rejected
 * `flush` (Redis unreachable past `retryMs`, a backpressure timeout, an abort) keeps its
 * rows staged; the next `flush` sends them. Nothing is dropped silently.
 *
 * Source: lib/redis/actor.ts.
 */
export class RedisActor<F extends FieldsSpec = FieldsSpec> {
  readonly #conn: Connection;
  readonly #ws: WireSchema;
  readonly #byName: Map<string, WireField>;
  readonly #stream: string;
  readonly #actorId: string;
  readonly #maxLag: number;
  readonly #group: string | undefined;
  readonly #flushRows: number;
  readonly #flushMs: number;
  readonly #timeoutMs: number;
  readonly #lagPollMs: number;
  #sequence: number;
  // Staged rows: one column per field of flushRows rows; priorities when the staged rows have them.
  readonly #staged: Record<string, AnyTypedArray> = {};
  #stagedPriorities: Float64Array;
  #stagedRows = 0;
  #stagedHavePriorities = false;
  // Entries encoded but not yet acknowledged by Redis, oldest first (kept across a failed flush).
  readonly #outbox: Buffer[] = [];
  // Buffers of entries Redis has taken, for the next entries to be encoded into (an actor's
  // entries are mostly of one size): no allocation and no garbage an entry.
  readonly #spare: Buffer[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;
  #sentEntries = 0;
  #sentRows = 0;
  #sentBytes = 0;

  /**
   * @throws `ShapeError` for a bad schema or actor id; {@link OutOfRangeError} for a bad
   *   number option; {@link DependencyError} when `url` is given and ioredis is not installed;
   *   {@link RemoteError} when neither `url` nor `client` is given.
   */
  constructor(options: RedisActorOptions<F>) {
    const where = 'RedisActor';
    if (typeof options?.stream !== 'string' || options.stream.length === 0) throw new ShapeError(`${where}: stream must be a non-empty string`);
    if (typeof options.actorId !== 'string' || options.actorId.length === 0 || Buffer.byteLength(options.actorId) > 1024) throw new ShapeError(`${where}: actorId must be a string of 1..1024 UTF-8 bytes`);
    // A lone surrogate has no UTF-8 form: it would travel as U+FFFD, and two such actors would
    // share one id (and one sequence) at the learner, which would skip the second's rows.
    if (Buffer.from(options.actorId, 'utf8').toString('utf8') !== options.actorId) throw new ShapeError(`${where}: actorId must be well-formed Unicode (it has a lone surrogate), got ${JSON.stringify(options.actorId)}`);
    this.#ws = wireSchema(options.schema);
    this.#byName = new Map(this.#ws.fields.map((f) => [f.name, f]));
    this.#stream = options.stream;
    this.#actorId = options.actorId;
    this.#maxLag = positive(options.maxLag ?? Infinity, 'maxLag', true);
    this.#group = options.group;
    this.#flushRows = positive(options.flushRows ?? 256, 'flushRows', false);
    if (!Number.isInteger(this.#flushRows)) throw new OutOfRangeError(`${where}: flushRows must be a positive integer`);
    this.#flushMs = options.flushMs ?? 100;
    if (!(this.#flushMs >= 0)) throw new OutOfRangeError(`${where}: flushMs must be >= 0`);
    this.#timeoutMs = positive(options.timeoutMs ?? Infinity, 'timeoutMs', true);
    this.#lagPollMs = positive(options.lagPollMs ?? 20, 'lagPollMs', false);
    this.#sequence = options.firstSequence ?? Date.now() * 1000;
    if (!Number.isSafeInteger(this.#sequence) || this.#sequence < 0) throw new OutOfRangeError(`${where}: firstSequence must be a safe integer >= 0`);
    for (const f of this.#ws.fields) this.#staged[f.name] = new DTYPES[f.dtype].ctor(this.#flushRows * f.elements);
    this.#stagedPriorities = new Float64Array(this.#flushRows);
    this.#conn = connect(options, where);
  }

  /** Entries, rows and entry bytes Redis has acknowledged (`XADD` returned). */
  get stats(): { entries: number; rows: number; bytes: number; staged: number; unsent: number } {
    return { entries: this.#sentEntries, rows: this.#sentRows, bytes: this.#sentBytes, staged: this.#stagedRows, unsent: this.#outbox.length };
  }

  /** The sequence number the next entry gets. */
  get nextSequence(): number {
    return this.#sequence;
  }

  /**
   * Stages one row; sends the entry when it holds `flushRows` rows.
   * @param transition every field of the schema: a number (or boolean, or bigint for int64)
   *   for a one-element field, an array-like of `elements` values otherwise.
   * @param options `priority`: this row's priority for a prioritized learner (finite, > 0);
   *   rows with and without priorities never share an entry.
   * @throws `ShapeError` for a missing, unknown or wrong-sized field; {@link OutOfRangeError}
   *   for a bad priority; {@link StateError} after `close()`; as {@link flush} when it sends.
   */
  async push(transition: Transition<F>, options?: SendOptions & { priority?: number }): Promise<void> {
    this.#checkOpen();
    const t = transition as Record<string, unknown>;
    if (t === null || typeof t !== 'object') throw new ShapeError('RedisActor.push: transition must be an object');
    for (const k of Object.keys(t)) if (!this.#byName.has(k)) throw new ShapeError(`RedisActor.push: unknown field ${k}`);
    const p = options?.priority;
    if (p !== undefined && !(Number.isFinite(p) && p > 0)) throw new OutOfRangeError('RedisActor.push: priority must be finite and > 0');
    // Validate every field before writing any, so a rejected row leaves the staged rows intact.
    for (const f of this.#ws.fields) {
      const v = t[f.name];
      if (v === undefined) throw new ShapeError(`RedisActor.push: missing field ${f.name}`);
      const n = isScalar(v) ? 1 : (v as ArrayLike<unknown>).length;
      if (n !== f.elements) throw new ShapeError(`RedisActor.push: field ${f.name} has ${n} values, expected ${f.elements}`);
      if (isScalar(v)) checkValue(f, v, 'RedisActor.push');
      else for (let i = 0; i < n; i++) checkValue(f, (v as ArrayLike<unknown>)[i], 'RedisActor.push');
    }
    const switching = this.#stagedRows > 0 && this.#stagedHavePriorities !== (p !== undefined);
    this.#checkSequences(switching ? 2 : 1, 'RedisActor.push');
    // Encoding is synchronous, so staging never overflows even when callers do not await.
    if (switching) this.#encodeStaged();
    const r = this.#stagedRows;
    for (const f of this.#ws.fields) writeRow(this.#staged[f.name], f, r, t[f.name]);
    if (p !== undefined) this.#stagedPriorities[r] = p;
    this.#stagedHavePriorities = p !== undefined;
    this.#stagedRows++;
    if (this.#stagedRows >= this.#flushRows) {
      this.#encodeStaged();
      await this.flush(options);
    } else if (this.#stagedRows === 1 && this.#flushMs > 0 && Number.isFinite(this.#flushMs)) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush().catch(() => {
          // the rows stay staged; the next flush (or close) reports the error
        });
      }, this.#flushMs);
      this.#timer.unref?.();
    }
  }

  /**
   * Sends `n` rows, as entries of at most `flushRows` rows (staged rows go first).
   * @param columns one array per field of `n * elements` values, row-major, as a buffer's `pushBatch` takes.
   * @param options `priorities`: one per row (finite, > 0).
   * @throws `ShapeError` for missing, unknown or unequal columns; {@link OutOfRangeError}
   *   for bad priorities; {@link StateError} after `close()`; as {@link flush}.
   */
  async pushBatch(columns: Columns<F>, options?: SendOptions & { priorities?: ArrayLike<number> }): Promise<void> {
    this.#checkOpen();
    const c = columns as Record<string, ArrayLike<unknown>>;
    if (c === null || typeof c !== 'object') throw new ShapeError('RedisActor.pushBatch: columns must be an object');
    for (const k of Object.keys(c)) if (!this.#byName.has(k)) throw new ShapeError(`RedisActor.pushBatch: unknown field ${k}`);
    let n = -1;
    const typed: Record<string, AnyTypedArray> = {};
    for (const f of this.#ws.fields) {
      const v = c[f.name];
      if (v === undefined || v === null || typeof v.length !== 'number') throw new ShapeError(`RedisActor.pushBatch: missing field ${f.name}`);
      if (v.length % f.elements !== 0) throw new ShapeError(`RedisActor.pushBatch: field ${f.name} has ${v.length} values, not a multiple of ${f.elements}`);
      const rows = v.length / f.elements;
      if (n >= 0 && rows !== n) throw new ShapeError(`RedisActor.pushBatch: field ${f.name} has ${rows} rows, others ${n}`);
      n = rows;
      typed[f.name] = toTyped(v, f);
    }
    let pr: Float64Array | undefined;
    if (options?.priorities !== undefined) {
      pr = Float64Array.from(options.priorities);
      if (pr.length !== n) throw new ShapeError(`RedisActor.pushBatch: ${pr.length} priorities for ${n} rows`);
      if (!pr.every((x) => Number.isFinite(x) && x > 0)) throw new OutOfRangeError('RedisActor.pushBatch: priorities must be finite and > 0');
    }
    if (n === 0) return;
    this.#checkSequences((this.#stagedRows > 0 ? 1 : 0) + Math.ceil(n / this.#flushRows), 'RedisActor.pushBatch');
    await this.#serial(async () => {
      this.#encodeStaged();
      // The first group leaves as soon as it is encoded, and the rest are encoded while it
      // travels (the encoding is this thread's work, the sending Redis's and the network's).
      let sending: Promise<void> | undefined;
      for (let start = 0; start < n; start += this.#flushRows) {
        const rows = Math.min(this.#flushRows, n - start);
        const part: Record<string, AnyTypedArray> = {};
        for (const f of this.#ws.fields) part[f.name] = typed[f.name].subarray(start * f.elements, (start + rows) * f.elements) as AnyTypedArray;
        this.#outbox.push(encodeEntry(this.#ws, this.#actorId, this.#sequence++, rows, part, pr?.subarray(start, start + rows), this.#spare.pop()));
        if (sending === undefined && this.#outbox.length >= SEND_ENTRIES && start + rows < n) {
          sending = this.#sendGroup(options);
          sending.catch(() => undefined); // awaited below; its entries stay in the outbox if it fails
        }
      }
      if (sending !== undefined) await sending;
      await this.#drain(options);
    });
  }

  /**
   * Sends the staged rows (if any) and every entry a failed send left behind, waiting
   * while the learner lags more than `maxLag` entries.
   * @throws {@link RemoteError} when Redis stays unreachable past `retryMs`, or (with
   *   `timedOut` true) when the lag wait exceeds `timeoutMs`; the signal's reason when it
   *   aborts. The rows are kept for the next flush in every case.
   */
  flush(options?: SendOptions): Promise<void> {
    return this.#serial(async () => {
      this.#encodeStaged();
      await this.#drain(options);
    });
  }

  /**
   * Flushes, then closes the connection if replaykit opened it. Idempotent.
   * @throws as {@link flush}; the connection is closed in any case and the actor unusable.
   */
  async close(options?: SendOptions): Promise<void> {
    if (this.#closed) return;
    try {
      await this.flush(options);
    } finally {
      this.#closed = true;
      if (this.#timer) clearTimeout(this.#timer);
      await close(this.#conn);
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new StateError('RedisActor: closed');
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  // The learner refuses (dead-letters) a sequence number past 2^53 - 1, and past it a double
  // cannot count by one: refuse the call that would need one, before anything is staged.
  #checkSequences(entries: number, where: string): void {
    if (this.#sequence > Number.MAX_SAFE_INTEGER - (entries - 1)) // not sequence + entries: past 2^53 the sum rounds
      throw new OutOfRangeError(`${where}: this actor's sequence numbers are used up (next ${this.#sequence}, the last is 2^53 - 1); start an actor with a lower firstSequence`);
  }

  #encodeStaged(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#stagedRows === 0) return;
    const pr = this.#stagedHavePriorities ? this.#stagedPriorities : undefined;
    this.#outbox.push(encodeEntry(this.#ws, this.#actorId, this.#sequence++, this.#stagedRows, this.#staged, pr, this.#spare.pop()));
    this.#stagedRows = 0;
  }

  async #drain(options: SendOptions | undefined): Promise<void> {
    while (this.#outbox.length > 0) await this.#sendGroup(options);
  }

  // Sends the outbox's first entries, up to SEND_ENTRIES, in one MULTI/EXEC: one round trip
  // instead of one an entry (an actor awaiting each XADD spends most of its time waiting).
  // The transaction is all or nothing, so a lost connection leaves either every entry of the
  // group in the stream or none, never a later entry without an earlier one: resending the
  // group keeps the sequence numbers in order, and the learner skips what it already
  // applied. A plain pipeline would not: an earlier XADD lost with the connection and a
  // later one sent again after the reconnect would reach the learner out of order. One group
  // at a time: the caller awaits each before the next.
  async #sendGroup(options: SendOptions | undefined): Promise<void> {
    const signal = options?.signal;
    if (Number.isFinite(this.#maxLag)) await this.#waitForLag(options?.timeoutMs ?? this.#timeoutMs, signal);
    const group = this.#outbox.slice(0, SEND_ENTRIES);
    await withRetry(this.#conn, `RedisActor XADD ${this.#stream}`, () => this.#exec(group), signal);
    this.#outbox.splice(0, group.length);
    for (const entry of group) {
      this.#sentEntries++;
      this.#sentRows += entry.readUInt32LE(24);
      this.#sentBytes += entry.length;
    }
    // Written to the socket and answered: ioredis holds them no more.
    if (this.#spare.length < SEND_ENTRIES) this.#spare.push(...group.slice(0, SEND_ENTRIES - this.#spare.length));
  }

  async #exec(group: Buffer[]): Promise<void> {
    if (group.length === 1) {
      await this.#conn.client.callBuffer('XADD', this.#stream, '*', 'e', group[0]);
      return;
    }
    const tx = this.#conn.client.multi();
    for (const entry of group) tx.callBuffer('XADD', this.#stream, '*', 'e', entry);
    const replies = await tx.exec();
    // null: the transaction was discarded (nothing added); an error reply: Redis refused an XADD.
    if (replies === null) throw new Error('MULTI/EXEC discarded');
    for (const [e] of replies) if (e) throw e;
  }

  async #waitForLag(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lag = await withRetry(this.#conn, `RedisActor XINFO GROUPS ${this.#stream}`, () => streamLag(this.#conn, this.#stream, this.#group), signal);
      if (lag <= this.#maxLag) return;
      if (Date.now() >= deadline) throw new RemoteError(`RedisActor: the learner is ${lag} entries behind (maxLag ${this.#maxLag}) after ${timeoutMs} ms`, { timedOut: true });
      await sleep(Math.min(this.#lagPollMs, Math.max(1, deadline - Date.now())), signal);
    }
  }
}

/** Entries sent in one MULTI/EXEC (about 340 KB of entries of 256 MuJoCo rows). */
const SEND_ENTRIES = 8;

function positive(x: number, name: string, allowInfinity: boolean): number {
  if (typeof x !== 'number' || !(x > 0) || (!allowInfinity && !Number.isFinite(x))) throw new OutOfRangeError(`RedisActor: ${name} must be a number > 0`);
  return x;
}

function isScalar(v: unknown): boolean {
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint';
}

function writeRow(col: AnyTypedArray, f: WireField, row: number, v: unknown): void {
  const at = row * f.elements;
  if (isScalar(v)) {
    setValue(col, f, at, v);
    return;
  }
  const a = v as ArrayLike<unknown>;
  for (let i = 0; i < f.elements; i++) setValue(col, f, at + i, a[i]);
}

function setValue(col: AnyTypedArray, f: WireField, i: number, v: unknown): void {
  if (f.dtype === 'int64') (col as BigInt64Array)[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
  else (col as Float64Array)[i] = typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
}

function toTyped(v: ArrayLike<unknown>, f: WireField): AnyTypedArray {
  const ctor = DTYPES[f.dtype].ctor;
  if (ArrayBuffer.isView(v) && Object.getPrototypeOf(v)?.constructor?.name === ctor.name) {
    // Its own dtype holds only valid values, except bool's bytes: 0 or 1.
    if (f.dtype === 'bool') for (let i = 0; i < v.length; i++) if ((v[i] as number) > 1) checkValue(f, v[i], 'RedisActor.pushBatch');
    return v as unknown as AnyTypedArray;
  }
  const out = new ctor(v.length);
  for (let i = 0; i < v.length; i++) {
    checkValue(f, v[i], 'RedisActor.pushBatch');
    setValue(out, f, i, v[i]);
  }
  return out;
}

/**
 * Refuses a value the learner's buffer would refuse (which would dead-letter the whole
 * entry): a non-number, a fraction or an out-of-range integer for an integer dtype, a bool
 * other than true/false/0/1.
 */
function checkValue(f: WireField, v: unknown, where: string): void {
  const d = DTYPES[f.dtype];
  if (typeof v === 'bigint') {
    if (f.dtype !== 'int64' || v < -(2n ** 63n) || v >= 2n ** 63n) throw new OutOfRangeError(`${where}: field ${f.name} (${f.dtype}) cannot hold the bigint ${v}`);
    return;
  }
  if (typeof v === 'boolean') {
    if (f.dtype !== 'bool') throw new ShapeError(`${where}: field ${f.name} is ${f.dtype}, got a boolean`);
    return;
  }
  if (typeof v !== 'number') throw new ShapeError(`${where}: field ${f.name} needs numbers, got ${typeof v}`);
  if (d.integer && !(Number.isInteger(v) && v >= d.min && v <= d.max)) throw new OutOfRangeError(`${where}: field ${f.name} (${f.dtype}) cannot hold ${v}`);
}
