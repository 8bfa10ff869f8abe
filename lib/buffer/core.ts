/**
 * The state behind every public buffer and the operations on it: the native buffer, the
 * schema, the random generator, input staging, batch making, the sampler that makes the
 * buffer uniform or prioritized, the step API's state, and whether it is closed or saving.
 * The public classes forward to it; archives and epoch iterators use it directly, so that
 * none of this is a field of a public object.
 * @module
 */
import { randomInt } from 'node:crypto';
import { OutOfRangeError, ShapeError, StateError } from '../errors';
import { describe } from '../schema/dtypes';
import { checkInteger } from '../schema/checks';
import { ResolvedField, resolveFields } from '../schema/fields';
import { resolveStorage, StorageOptions } from '../schema/storage';
import { checkKeys, COMMON_KEYS, EXPLICIT_KEYS, PRIORITIZED_KEYS, SHORTHAND_KEYS } from '../schema/options';
import { RATE_WAIT_KEYS, resolveRateLimiter, resolveRateWait, ResolvedRateLimiter } from '../schema/rate-limiter';
import type { BufferOptions } from '../schema/types';
import type { ArchiveInfo, ArchiveMetaJs, NativeArchiveMap, NativeBuffer, NativePrefetcher } from '../native/contract';
import { openNativeBuffer } from '../native/open';
import { LIMITS } from '../native/addon';
import { EpochCursor, EpochIterator, EpochOptions } from '../epochs/iterator';
import { StepState } from '../epochs/steps';
import type { Saveable } from '../archive/writes';
import type { Restorable } from '../archive/load';
import { BatchArena, BatchLayout, BatchObject, Batches } from './batches';
import { float64 } from './convert';
import { SequenceBatches } from './sequence-batches';
import { WordStream } from './random';
import type { Sampler, SamplerKind } from './samplers';
import { Stager } from './staging';
import { PushHost, Pusher, settle } from './pushes';
import { resolveEpisodes, ResolvedEpisodes, ResolvedNStep, resolveSequenceOptions } from '../schema/episodes';
import { resolveDerived, ResolvedDerived } from '../schema/derived';
import { relabelRewards, resolveHer, ResolvedHer } from '../schema/her';
import type { AnyTypedArray } from '../schema/dtypes';
import { RateGate, RateWait } from './rate-wait';
import { RateLimiter } from './rate-limiter';

/** A batch being gathered by a prefetch thread (`BufferCore.gatherAsync`). @internal */
export interface Gathering {
  readonly batch: BatchObject;
  /** statuses[slot]: 0 gathering, 1 final (read with Atomics.load), 2 failed (the prefetcher's `error` throws it). */
  readonly statuses: Int32Array;
  readonly slot: number;
}

/** State another part of replaykit keeps in a buffer's archives (see {@link BufferCore.extensions}). @internal */
export interface ExtensionProvider {
  /** The bytes to archive now (called when a save plans the archive). */
  data(): Uint8Array;
  /** The archive planned last is saved (renamed into place, directory synced). Must not throw. */
  saved?(): void;
}

/** @internal */
export class BufferCore implements Saveable, Restorable, PushHost {
  readonly fields: readonly ResolvedField[];
  readonly capacity: number;
  readonly seed: number;
  readonly storage: StorageOptions;
  readonly native: NativeBuffer;
  readonly sampler: Sampler;
  readonly steps: StepState<BatchObject>;
  readonly #rng: WordStream;
  readonly #stager: Stager;
  readonly #batches: Batches;
  readonly #sequences: SequenceBatches;
  /** The rate limiter's options as the core resolved them; null without one. */
  readonly rateLimiterConfig: ResolvedRateLimiter | null;
  /** `rb.rateLimiter`. */
  readonly rateLimiter: RateLimiter | null;
  readonly #gate: RateGate | null;
  readonly #pusher: Pusher;
  /** n-step returns (the core keeps the episode index); null without. */
  readonly nStep: ResolvedNStep | null;
  /** The episode index (options `episodes`, `nStep`); null without. */
  readonly episodes: ResolvedEpisodes | null;
  /** Observations stored once (the core rebuilds next observations and stacks); null without. */
  readonly derived: ResolvedDerived | null;
  /** Hindsight relabelling (the core chooses the goals, `relabelRewards` the rewards); null without. */
  readonly her: ResolvedHer | null;
  closed = false;
  saving = false;
  /**
   * True during a call that reads user objects (getters of a transition, columns, `out`):
   * a call on this buffer from inside one is refused, so the outer call completes whole.
   */
  busy = false;
  /**
   * Named state that other parts of replaykit keep with this buffer and in its archives
   * (replaykit/redis: the last sequence number applied per actor). A provider's `data()` is
   * called when a save plans the archive, so the state saved is the state at that moment, and
   * its `saved()` once that archive is safely renamed into place; a load sets the bytes the
   * archive holds. Internal: not part of the public API.
   */
  readonly extensions = new Map<string, Uint8Array | ExtensionProvider>();
  #planned: ExtensionProvider[] = [];

  /** Validates the options (their keys, the sampler's, schema, capacity, seed, storage, rate limiter, in that order) and makes the native buffer. */
  constructor(options: BufferOptions, kind: SamplerKind) {
    if (typeof options !== 'object' || options === null) throw new ShapeError(`options must be an object, got ${describe(options)}`);
    checkKeys(options, [...COMMON_KEYS, ...SHORTHAND_KEYS, ...EXPLICIT_KEYS, ...kind.optionKeys], 'option', OutOfRangeError,
      kind.optionKeys.length ? undefined : { keys: PRIORITIZED_KEYS, hint: 'it is an option of PrioritizedReplayBuffer, not of a uniform ReplayBuffer' });
    const sampler = kind.settle(options);
    const nextOf = new Map<string, string>();
    this.fields = resolveFields(options, nextOf);
    this.derived = resolveDerived(options, this.fields, nextOf);
    // Observations stored once read the episode index (which item is next, which frames precede).
    if (this.derived !== null && options.episodes === false) throw new OutOfRangeError('a `next` field or frameStack needs the episode index: episodes cannot be false with them');
    const d = this.derived;
    this.her = resolveHer(options.her, this.fields, options.nStep, new Set(d === null ? [] : d.frames > 1 ? [this.fields[d.next].name, this.fields[d.obs].name] : [this.fields[d.next].name]));
    // HER reads the episode index (which transitions follow a row in its episode).
    if (this.her !== null && options.episodes === false) throw new OutOfRangeError('her needs the episode index: episodes cannot be false with it');
    this.episodes = resolveEpisodes(this.derived !== null || this.her !== null ? true : options.episodes, options.nStep, this.fields);
    this.nStep = this.episodes?.nStep ?? null;
    this.capacity = checkInteger(options.capacity, 'capacity', 1, LIMITS.maxCapacity);
    this.seed = options.seed === undefined ? randomInt(2 ** 31) : checkInteger(options.seed, 'seed', Number.MIN_SAFE_INTEGER);
    this.#rng = new WordStream(this.seed);
    this.storage = resolveStorage(options.storage, this.capacity);
    const limiter = (this.rateLimiterConfig = resolveRateLimiter(options.rateLimiter, this.capacity));
    this.native = openNativeBuffer({
      capacity: this.capacity,
      fields: this.fields,
      storage: this.storage,
      prioritized: sampler.native,
      rateLimiter: limiter && { minSize: limiter.minSize, samplesPerInsert: limiter.samplesPerInsert, errorBuffer: limiter.errorBuffer },
      episodes: this.episodes,
      derived: this.derived,
      her: this.her,
    });
    this.#gate = limiter && new RateGate(this.native);
    this.rateLimiter = limiter && new RateLimiter(limiter, this.native, () => !this.closed);
    this.sampler = sampler.create(this.native);
    this.#stager = new Stager(this.fields);
    this.#pusher = new Pusher(this.native, this.#stager, this.sampler.weighted, this.#gate, this, this.episodes !== null);
    this.#batches = new Batches(this.fields);
    this.#sequences = new SequenceBatches(this.fields, this.#batches);
    this.steps = new StepState<BatchObject>(this);
  }

  assertOpen(): void {
    if (this.closed) throw new StateError('the buffer is closed');
    if (this.busy) throw new StateError('a call on this buffer from inside another of its calls (a getter of its input) is not allowed');
  }

  /** What a push checks first (PushHost): the buffer is open, and not being saved. */
  check(): void {
    this.assertMutable();
  }

  /** Refuses changes while a save runs, so that an archive never holds half a change. */
  assertMutable(): void {
    this.assertOpen();
    if (this.saving) throw new StateError('a save of this buffer is in progress: wait for it before changing the buffer');
  }

  /** Items stored (check `assertOpen` first). */
  get length(): number {
    return this.native.length;
  }

  /** Pushes one transition at `priority` (prioritized buffers; undefined: the default). */
  push(transition: unknown, priority?: unknown, env?: unknown): number {
    return this.#pusher.push(transition, priority, env);
  }

  /** Pushes columns at `priorities` (prioritized buffers; undefined: the default). */
  pushBatch(columns: unknown, priorities?: unknown, env?: unknown): void {
    this.#pusher.pushBatch(columns, priorities, env);
  }

  /** `push` once the rate limiter admits it (lib/buffer/pushes.ts). */
  pushAsync(transition: unknown, options: unknown): Promise<number> {
    return this.#pusher.pushAsync(transition, options);
  }

  /** `pushBatch` once the rate limiter admits its rows (lib/buffer/pushes.ts). */
  pushBatchAsync(columns: unknown, options: unknown): Promise<void> {
    return this.#pusher.pushBatchAsync(columns, options);
  }

  /** Draws a batch as the sampler does, into `options.out` or a fresh batch. */
  sample(batchSize: number, options?: { out?: object; beta?: unknown }): BatchObject {
    this.assertOpen();
    this.busy = true; // before the options are read: their getters must not reach this buffer
    try {
      if (options !== undefined) {
        if (typeof options !== 'object' || options === null) throw new OutOfRangeError(`sample options must be an object like { out }, got ${describe(options)}`);
        // No allocation on the hot path (`sample(n, { out })` in a training loop): checkKeys, which
        // lists the keys for its message, runs only when a key is unknown or null.
        for (const k in options) {
          if ((k !== 'out' && (k !== 'beta' || !this.sampler.weighted)) || (options as Record<string, unknown>)[k] === null) {
            checkKeys(options, this.sampler.weighted ? ['out', 'beta'] : ['out'], 'sample option');
            break;
          }
        }
      }
      const plan = this.sampler.prepare(options);
      checkInteger(batchSize, 'batchSize', 1);
      return this.#draw(batchSize, options?.out, plan, false);
    } finally {
      this.busy = false;
    }
  }

  /** `sampleSequences` (lib/buffer/base.ts has its contract). */
  sampleSequences(batchSize: number, options: unknown): BatchObject & { mask: Uint8Array } {
    this.assertOpen();
    this.busy = true;
    try {
      const o = resolveSequenceOptions(options, this.sampler.weighted);
      checkInteger(batchSize, 'batchSize', 1);
      if (this.episodes === null) throw new StateError('sampleSequences needs the episode index: make the buffer with episodes: true (or nStep)');
      const length = this.native.length;
      if (batchSize > length) throw new OutOfRangeError(`cannot sample ${batchSize} sequences: only ${length} items are stored`);
      const batch = this.#sequences.prepare(batchSize, o.length, o.burnIn, this.sampler.weighted, o.out);
      const burn = o.burnIn > 0 ? batch.burnIn! : null;
      const spec = { length: o.length, stride: o.stride, burnIn: o.burnIn, crossEpisodes: o.crossEpisodes, pad: o.pad };
      this.native.sampleSequences(batchSize, spec, this.#rng.next(2 * batchSize + 2), this.#sequences.outs, batch.mask, burn && this.#sequences.burnOuts, burn && burn.mask,
        batch.indices, this.sampler.weighted ? batch.weights! : null, o.beta);
      return batch;
    } finally {
      this.busy = false;
    }
  }

  /** Draws a batch (`busy` set, the options checked); `admitted`: the rate limiter counted it already. */
  #draw(batchSize: number, out: object | undefined, plan: unknown, admitted: boolean): BatchObject {
    const length = this.native.length;
    if (batchSize > length)
      throw new OutOfRangeError(`cannot sample ${batchSize} transitions: only ${length} are stored (isReady(${batchSize}) tells when enough are)`);
    const her = this.her;
    const batch = this.#batches.prepare(batchSize, out, null, this.sampler.weighted, this.nStep !== null, her !== null);
    this.sampler.draw(batchSize, this.#rng.next(2 * batchSize + (her ? 2 : 0)), this.#batches.outs, batch, plan, admitted);
    if (her) relabelRewards(her, batch, batch.relabelled!);
    return batch;
  }

  /**
   * `sample` once the rate limiter admits it: the options are checked now, the batch drawn at
   * the grant (the generator's words are taken then, so batches come in the order samples happen).
   */
  sampleAsync(batchSize: number, options: unknown): Promise<BatchObject> {
    let wait: RateWait;
    let plan: unknown;
    const o = options as { out?: object; beta?: unknown; signal?: unknown; timeoutMs?: unknown } | undefined;
    try {
      this.assertOpen();
      this.busy = true; // the options' getters must not reach this buffer
      try {
        if (o !== undefined) {
          if (typeof o !== 'object' || o === null) throw new OutOfRangeError(`sampleAsync options must be an object like { timeoutMs }, got ${describe(o)}`);
          checkKeys(o, [...(this.sampler.weighted ? ['out', 'beta'] : ['out']), ...RATE_WAIT_KEYS], 'sampleAsync option');
        }
        wait = resolveRateWait(o?.signal, o?.timeoutMs);
        plan = this.sampler.prepare(o);
        checkInteger(batchSize, 'batchSize', 1);
        if (batchSize > this.capacity)
          throw new OutOfRangeError(`cannot sample ${batchSize} transitions from a buffer of capacity ${this.capacity}`);
        if (o?.out !== undefined) this.#batches.prepare(batchSize, o.out, null, this.sampler.weighted, this.nStep !== null, this.her !== null); // checks out now
      } finally {
        this.busy = false;
      }
    } catch (e) {
      return Promise.reject(e);
    }
    const gate = this.#gate;
    const run = (): BatchObject => {
      this.assertOpen();
      this.busy = true;
      try {
        return this.#draw(batchSize, o?.out, plan, gate !== null);
      } finally {
        this.busy = false;
      }
    };
    return gate ? gate.admit('sample', batchSize, wait, 'sampleAsync', run) : settle(run);
  }

  /**
   * Has `prefetcher` draw a batch of `batchSize` with the next words of the generator (taken
   * now, so batches come in the order they were asked for), into a fresh batch (one
   * ArrayBuffer, which the prefetcher holds) that is final once `statuses[slot]` is 1
   * (Atomics.load). `beta`: checked already, or undefined.
   */
  /** Where the arrays of a prefetched batch of `batchSize` go (one layout for all the batches of a `batches()` iterator). */
  prefetchLayout(batchSize: number): BatchLayout {
    return this.#batches.layout(batchSize, null, this.sampler.weighted, this.nStep !== null, this.her !== null);
  }

  /**
   * A prefetched batch as it is delivered: HER's rewards (the user's computeReward runs on the
   * learner's thread, once per batch, the buffer marked busy meanwhile as in `sample`).
   */
  deliver(batch: BatchObject): BatchObject {
    const her = this.her;
    if (!her) return batch;
    this.assertOpen();
    this.busy = true;
    try {
      relabelRewards(her, batch, batch.relabelled!);
    } finally {
      this.busy = false;
    }
    return batch;
  }

  gatherAsync(prefetcher: NativePrefetcher, layout: BatchLayout, beta: number | undefined, statuses: Int32Array, slot: number, arena: BatchArena): Gathering {
    this.assertOpen();
    const length = this.native.length;
    if (layout.rows > length)
      throw new OutOfRangeError(`cannot sample ${layout.rows} transitions: only ${length} are stored (isReady(${layout.rows}) tells when enough are)`);
    const batch = this.#batches.carve(layout, arena);
    Atomics.store(statuses, slot, 0);
    // The words are copied by the binding before it returns.
    const words = this.#rng.next(2 * layout.rows + (layout.relabelled >= 0 ? 2 : 0));
    prefetcher.submit(words, batch.indices.buffer as ArrayBuffer, batch.indices.byteOffset - layout.indices, this.sampler.weighted ? beta : undefined, slot);
    return { batch, statuses, slot };
  }

  /** A new epoch iterator over this buffer. */
  epochs(options: EpochOptions & { epochs?: number }, at?: EpochCursor): EpochIterator<BatchObject> {
    this.assertOpen();
    return new EpochIterator<BatchObject>(this, options, options?.epochs ?? 1, at);
  }

  /** The keys of the stored items, oldest first or in a fresh permutation (for epochs). */
  epochKeys(shuffle: boolean): Float64Array {
    this.assertOpen();
    const keys = new Float64Array(this.native.length);
    this.native.keysInOrder(keys);
    if (shuffle && keys.length > 1) this.native.shuffle(keys, this.#rng.next(2 * (keys.length - 1)));
    return keys;
  }

  /** Up to `want` live items named from keys[start...], in exact-size fresh arrays. */
  readLive(keys: Float64Array, start: number, want: number): { batch: BatchObject | null; consumed: number } {
    this.assertOpen();
    // No more rows than there are keys left: an epoch batch size of 2^30 over 5 items allocates 5 rows.
    want = Math.min(want, keys.length - start);
    let batch = this.#batches.prepare(want, undefined, null, false, this.nStep !== null);
    const [consumed, got] = this.native.readLive(keys, start, want, this.#batches.outs, batch.indices, batch.discount);
    if (got === 0) return { batch: null, consumed };
    if (got < want) batch = this.#batches.truncate(batch, got);
    this.sampler.decorate(batch, got);
    return { batch, consumed };
  }

  /**
   * The items at the given positions (0: the oldest), only the fields in `only` when given;
   * a batch of every field carries what the sampler adds to batches read without sampling.
   */
  readPositions(indices: unknown, only: ReadonlySet<string> | null): BatchObject {
    this.assertOpen();
    this.busy = true;
    try {
      const positions = float64(indices, 'indices', -1, { float32: false, elementError: OutOfRangeError });
      const batch = this.#batches.prepare(positions.length, undefined, only, false, this.nStep !== null);
      this.native.readPositions(positions, this.#batches.outs, batch.indices, batch.discount);
      if (!only) this.sampler.decorate(batch, positions.length);
      return batch;
    } finally {
      this.busy = false;
    }
  }

  /** Checks a list of field names for `sampleByIndexFields`. */
  fieldSet(fields: unknown): Set<string> {
    this.assertOpen(); // a closed buffer is a StateError whatever the arguments
    if (!Array.isArray(fields)) throw new ShapeError(`fields must be an array of field names, got ${describe(fields)}`);
    for (const name of fields)
      if (!this.#stager.has(name)) throw new ShapeError(`unknown field '${String(name)}'; the schema's fields are ${this.#stager.namesText}`);
    return new Set<string>(fields);
  }

  /** Every stored item, oldest first. */
  readAll(): BatchObject {
    this.assertOpen();
    const n = this.native.length;
    const positions = new Float64Array(n);
    for (let i = 0; i < n; i++) positions[i] = i;
    return this.readPositions(positions, null);
  }

  /** The items named by `keys`, into fresh arrays (no weights). */
  read(keys: Float64Array): BatchObject {
    const batch = this.#batches.prepare(keys.length, undefined, null, false, this.nStep !== null);
    batch.indices.set(keys);
    this.native.read(keys, this.#batches.outs, batch.discount);
    return batch;
  }

  getRngState(): number[] {
    this.assertOpen();
    return this.#rng.getState();
  }

  setRngState(state: readonly number[]): void {
    this.assertMutable();
    this.#rng.setState(state);
  }

  clear(): void {
    this.assertMutable();
    this.native.clear();
  }

  close(): void {
    if (this.closed) return;
    if (this.busy) throw new StateError('a buffer cannot be closed from inside one of its own calls');
    if (this.saving) throw new StateError('a save of this buffer is in progress: wait for it before closing the buffer');
    this.closed = true;
    this.native.close();
  }

  /** The facade's own state for an archive: the generator and the step API's (the core adds its own, prioritized state included). */
  archiveMeta(): ArchiveMetaJs {
    const meta: ArchiveMetaJs = { rngState: this.#rng.getState(), seed: this.seed, ...this.steps.archivePart() };
    this.#planned = [];
    if (this.extensions.size > 0)
      meta.extensions = Array.from(this.extensions, ([name, v]) => {
        if (ArrayBuffer.isView(v)) return { name, data: v };
        this.#planned.push(v);
        return { name, data: v.data() };
      });
    return meta;
  }

  /** After a save renamed its archive into place: tells the providers whose state it holds. */
  archiveSaved(): void {
    const planned = this.#planned;
    this.#planned = [];
    for (const p of planned) p.saved?.();
  }

  restoreFrom(map: NativeArchiveMap, info: ArchiveInfo): void {
    this.native.restore(map);
    this.#rng.setState(info.rngState);
    this.steps.restore(info.epoch);
    for (const x of info.extensions ?? []) this.extensions.set(x.name, x.data);
  }
}
