/**
 * The uniform replay buffer.
 * @module
 */
import { randomInt } from 'node:crypto';
import * as nodePath from 'node:path';
import { AnyTypedArray, DTYPES, Dtype, describe, typedArrayTag } from './dtypes';
import { DtypeError, OutOfRangeError, ShapeError, StateError } from './errors';
import { column, float64, writeRow } from './convert';
import type { ArchiveInfo, ArchiveMetaJs } from './native';
import { EpochIterator, EpochOptions } from './epochs';
import * as archive from './archive';
import type { LoadOptions, SaveOptions } from './archive';
import { NativeBuffer, NativeBufferCtor, NativeSpec } from './native';
import { WordStream } from './random';
import {
  allocate,
  Batch,
  BufferOptions,
  checkInteger,
  Columns,
  FieldsOptions,
  FieldSpec,
  FieldsSpec,
  ResolvedField,
  resolveFields,
  StorageOptions,
  Transition,
  TransitionFields,
  TransitionOptions,
} from './schema';

/** Options of {@link ReplayBufferImpl.sample}. */
export interface SampleOptions<F extends FieldsSpec> {
  /**
   * Preallocated arrays to sample into (hot loops): any of the batch's arrays, each of
   * exactly the length `sample` would allocate. Missing ones are allocated and set on
   * this object, which is returned, so `b = rb.sample(n, { out: b })` allocates nothing
   * after the first call. Tensors made from these arrays without a copy (tfjs `tf.tensor`,
   * onnxruntime's `Tensor`) alias them: the next `sample` into the same `out` changes them.
   */
  out?: Partial<Batch<F>>;
}

/**
 * A fixed-capacity FIFO ring of transitions with uniform sampling, on a native C++ core.
 *
 * Fields, dtypes and shapes come from the options (the standard transition fields
 * from `obsShape`, or any explicit `fields`); sampled batches are typed accordingly.
 * Every method validates its whole input first: an error leaves the buffer exactly as
 * it was. Close it with `close()` (or `using`) to free its memory at once; garbage
 * collection frees it otherwise.
 *
 * The design follows TorchRL's composition of a storage, a writer and a sampler.
 */
export class ReplayBufferImpl<F extends FieldsSpec = FieldsSpec> {
  /** How many transitions the buffer holds at most. */
  readonly capacity: number;
  /** The seed of the buffer's random generator (given, or drawn when omitted). */
  readonly seed: number;
  /** Where the transitions live (paths made absolute). */
  readonly storage: StorageOptions;
  /** @internal */
  readonly _native: NativeBuffer;
  /** @internal */
  protected readonly _fields: readonly ResolvedField[];
  #closed = false;
  readonly #rng: WordStream;
  readonly #row: AnyTypedArray[];
  readonly #outs: (AnyTypedArray | null)[];
  #iterator: EpochIterator<Batch<F>> | null = null;
  #randomBatchSize = 0; // getNextBatch samples at random when > 0 (getStepsAndIterator with nEpochs 0)
  readonly #names: ReadonlySet<string>;
  readonly #where: readonly string[]; // "field 'obs'", per field: error-message prefixes made once

  /** @internal Use `new ReplayBuffer(options)`. */
  constructor(options: BufferOptions, prioritized: NativeSpec['prioritized'] = null) {
    this._fields = resolveFields(options);
    this.capacity = checkInteger(options.capacity, 'capacity', 1, 2 ** 40);
    this.seed = options.seed === undefined ? randomInt(2 ** 31) : checkInteger(options.seed, 'seed', Number.MIN_SAFE_INTEGER);
    this.#rng = new WordStream(this.seed);
    this.storage = resolveStorage(options.storage, this.capacity);
    this._native = new NativeBufferCtor({
      capacity: this.capacity,
      fields: this._fields.map((f) => ({ name: f.name, dtype: f.dtype, shape: f.shape })),
      prioritized,
      storage: this.storage,
    });
    this.#row = this._fields.map((f) => allocate(f, 1));
    this.#outs = new Array<AnyTypedArray | null>(this._fields.length).fill(null);
    this.#names = new Set(this._fields.map((f) => f.name));
    this.#where = this._fields.map((f) => `field '${f.name}'`);
  }

  /** The number of transitions stored, from 0 to `capacity`. @throws {@link StateError} after `close()`. */
  get length(): number {
    this._assertOpen();
    return this._native.length;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The schema: each field's shape and dtype. */
  get schema(): { readonly [K in keyof F]: FieldSpec<F[K]['dtype']> } {
    const out: Record<string, FieldSpec> = {};
    for (const f of this._fields) out[f.name] = { shape: f.shape, dtype: f.dtype };
    return out as { [K in keyof F]: FieldSpec<F[K]['dtype']> };
  }

  /**
   * Whether at least `batchSize` transitions are stored, so `sample(batchSize)` will not throw.
   * @throws {@link OutOfRangeError} when `batchSize` is not a non-negative integer; {@link StateError} after `close()`.
   */
  isReady(batchSize: number): boolean {
    return this.length >= checkInteger(batchSize, 'batchSize', 0);
  }

  /**
   * Appends one transition; when the buffer is full, it replaces the oldest.
   *
   * @param transition every field of the schema, no others: a scalar field as a number
   *   (bool: boolean or 0/1; int64: bigint or safe integer), any field as a typed array of
   *   its dtype or a plain array of its elements (row-major, length = product of its shape).
   * @returns the new item's index (its key, as in a batch's `indices`).
   * @throws {@link ShapeError} for a missing or unknown field or a wrong length;
   *   {@link DtypeError} for a typed array of another dtype;
   *   {@link OutOfRangeError} for an integer outside its dtype's range;
   *   {@link StateError} after `close()`.
   */
  push(transition: Transition<F>): number {
    this._stage(transition);
    return this._native.push(this.#row, 1);
  }

  /**
   * Appends `n` transitions given as columns, as a loop of `push` would (only the last
   * `capacity` stay when `n > capacity`). Typed arrays of the field's dtype are read in
   * place; plain arrays are converted.
   *
   * @param columns one array per field, each holding `n * elements` values, row-major:
   *   e.g. `obs: Float32Array(n * 4)`, `action: Int32Array(n)`, `terminated: Uint8Array(n)`.
   * @throws {@link ShapeError} for a missing or unknown field or columns of unequal row counts;
   *   {@link DtypeError}, {@link OutOfRangeError}, {@link StateError} as for `push`.
   *   A rejected batch stores none of its rows.
   */
  pushBatch(columns: Columns<F>): void {
    const cols = this._columns(columns);
    if (cols) this._native.push(cols.arrays, cols.rows);
  }

  /**
   * Draws `batchSize` transitions uniformly at random, with replacement, from those stored.
   *
   * @returns a batch: each field as a fresh typed array of `batchSize * elements` values,
   *   row-major (e.g. `obs: Float32Array(batchSize * obsDim)`, `terminated: Uint8Array(batchSize)`
   *   of 0/1), and `indices: Float64Array(batchSize)`, the items' keys. The arrays of a fresh
   *   batch are views of one ArrayBuffer that only this batch uses (one allocation per call).
   * @throws {@link OutOfRangeError} when `batchSize` is not a positive integer or exceeds `length`;
   *   {@link ShapeError} / {@link DtypeError} for an `out` array of the wrong length or type;
   *   {@link StateError} after `close()`.
   */
  sample(batchSize: number, options?: SampleOptions<F>): Batch<F> {
    return this._draw(batchSize, options?.out, false);
  }

  /**
   * Sweeps the buffer in epochs, sampling without replacement: within one epoch every
   * stored item appears exactly once, in a fresh seeded permutation (or oldest first with
   * `shuffle: false`); the last, smaller batch is kept unless `dropLast`.
   *
   * Pushing during an epoch is allowed: the epoch covers the items stored when it began;
   * items pushed meanwhile join from the next epoch, and items overwritten meanwhile are
   * skipped, so a row is never anything but the item it stands for.
   *
   * @example
   * ```ts
   * for (const batch of rb.epochs({ batchSize: 64, epochs: 5, shuffle: true, dropLast: false })) train(batch);
   * ```
   * @returns an iterator of batches shaped as `sample`'s (prioritized buffers: weights of 1).
   * @throws {@link OutOfRangeError} for a batch size that is not a positive integer or a bad
   *   epoch count; {@link StateError} after `close()`.
   */
  epochs(options: EpochOptions & { epochs?: number }): EpochIterator<Batch<F>> {
    this._assertOpen();
    return new EpochIterator<Batch<F>>(this, options, options?.epochs ?? 1);
  }

  /**
   * Prepares the buffer's own epoch iterator, for {@link getNextBatch} (the ObjectRL and
   * TorchRL style); also returns it, to iterate directly.
   * @param options `batchSize`, `nEpochs` (default 1), and `shuffle` / `dropLast` as in {@link epochs}.
   * @throws as {@link epochs}.
   */
  createEpochIterator(options: EpochOptions & { nEpochs?: number }): EpochIterator<Batch<F>> {
    this.#iterator = this.epochs({ ...options, epochs: options?.nEpochs ?? 1 });
    this.#randomBatchSize = 0;
    return this.#iterator;
  }

  /**
   * The next batch of the iterator made by {@link createEpochIterator} or
   * {@link getStepsAndIterator}; after `getStepsAndIterator({ nEpochs: 0, ... })`, a random
   * batch drawn as `sample(batchSize)` does.
   * @throws {@link StateError} when no iterator was prepared or it is exhausted (the step count
   *   from `getStepsAndIterator` says how many batches there are); {@link StateError} after `close()`.
   */
  getNextBatch(): Batch<F> {
    this._assertOpen();
    if (this.#randomBatchSize > 0) return this.sample(this.#randomBatchSize);
    if (this.#iterator === null) throw new StateError('no epoch iterator: call createEpochIterator() or getStepsAndIterator() first');
    const r = this.#iterator.next();
    if (r.done) throw new StateError('the epoch iterator is exhausted: call createEpochIterator() or getStepsAndIterator() again');
    return r.value;
  }

  /**
   * How many full batches of `batchSize` one epoch gives now: floor(length / batchSize).
   * (An epoch without `dropLast` yields one more, smaller batch when the division has a remainder.)
   * @throws {@link OutOfRangeError} for a batch size that is not a positive integer.
   */
  calculateNumBatches(batchSize: number): number {
    return Math.floor(this.length / checkInteger(batchSize, 'batchSize', 1));
  }

  /**
   * Prepares {@link getNextBatch} and returns how many update steps to run (ObjectRL's
   * `get_steps_and_iterator`). With `nEpochs > 0` it makes an epoch iterator and returns
   * the number of batches it yields: nEpochs * ceil(length / batchSize), or
   * nEpochs * floor(length / batchSize) with `dropLast` (as long as nothing is pushed meanwhile).
   * With `nEpochs: 0` it makes no iterator: `getNextBatch()` samples at random, and it returns `maxIter`.
   * @throws {@link OutOfRangeError} for a bad batch size, nEpochs or maxIter.
   */
  getStepsAndIterator(options: { nEpochs: number; maxIter: number; batchSize: number; shuffle?: boolean; dropLast?: boolean }): number {
    this._assertOpen();
    if (typeof options !== 'object' || options === null) throw new OutOfRangeError('getStepsAndIterator needs { nEpochs, maxIter, batchSize }');
    const nEpochs = checkInteger(options.nEpochs, 'nEpochs', 0);
    const batchSize = checkInteger(options.batchSize, 'batchSize', 1);
    if (nEpochs === 0) {
      const maxIter = checkInteger(options.maxIter, 'maxIter', 0);
      this.#iterator = null;
      this.#randomBatchSize = batchSize;
      return maxIter;
    }
    const it = this.createEpochIterator({ ...options, nEpochs, batchSize });
    const n = this._native.length;
    return nEpochs * (it.dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize));
  }

  /**
   * Reads the items at the given positions: 0 is the oldest stored item, `length - 1` the newest.
   * @param indices positions, as a `Float64Array` or number[]; repeats allowed.
   * @returns a batch shaped as `sample`'s, whose `indices` are the items' keys (usable with
   *   `updatePriorities`); prioritized buffers add weights of 1.
   * @throws {@link OutOfRangeError} for a position that is not an integer in [0, length);
   *   {@link DtypeError} for another array type; {@link StateError} after `close()`.
   */
  sampleByIndex(indices: Float64Array | readonly number[]): Batch<F> {
    return this._readPositions(indices, null);
  }

  /**
   * As {@link sampleByIndex}, but only the named fields (and `indices`) come back.
   * @throws as {@link sampleByIndex}; {@link ShapeError} for a field the schema does not have.
   */
  sampleByIndexFields<K extends keyof F & string>(indices: Float64Array | readonly number[], fields: readonly K[]): Pick<Batch<F>, K | 'indices'> {
    if (!Array.isArray(fields)) throw new ShapeError(`fields must be an array of field names, got ${describe(fields)}`);
    for (const name of fields)
      if (!this.#names.has(name)) throw new ShapeError(`unknown field '${String(name)}'; the schema's fields are ${[...this.#names].map((n) => `'${n}'`).join(', ')}`);
    return this._readPositions(indices, new Set<string>(fields));
  }

  /** Every stored item, oldest first: {@link sampleByIndex} of 0 .. length-1. @throws {@link StateError} after `close()`. */
  sampleAll(): Batch<F> {
    this._assertOpen();
    const n = this._native.length;
    const positions = new Float64Array(n);
    for (let i = 0; i < n; i++) positions[i] = i;
    return this._readPositions(positions, null);
  }

  /**
   * Writes an archive of the buffer to `path`: everything needed to resume exactly (data of
   * every storage tier, keys, priorities, beta's progress, the random generator, the epoch
   * iterator). The file is written to a temporary file in the same directory, flushed to
   * disk and renamed over `path`, so a crash at any moment leaves either the previous
   * archive or the new one, never a broken one. A worker thread checksums and writes the
   * file chunk by chunk while the main thread only gathers the next chunk (a copy into a
   * shared buffer); pushes, updates, `clear` and `close` are refused with {@link StateError} until
   * it ends (sampling is allowed: the archive holds the state from when the save began).
   * @param options `onProgress({ bytesWritten, totalBytes })`, `signal` (an AbortSignal: the
   *   target is left untouched and the promise rejects with the signal's reason), `chunkBytes`.
   * @throws {@link ArchiveError} when the file cannot be written; {@link StateError} when the
   *   buffer is closed or already saving.
   */
  save(path: string, options?: SaveOptions): Promise<void> {
    return archive.save(this, path, options);
  }

  /** As {@link save}, synchronously, on the calling thread. */
  saveSync(path: string, options?: Omit<SaveOptions, 'signal'>): void {
    archive.saveSync(this, path, options);
  }

  /**
   * Loads an archive written by `save`: a buffer of the archived kind (uniform or
   * prioritized), schema and options, whose next batches are bit-identical to those the
   * saved buffer would have drawn next. Every checksum is verified first.
   * @param options `storage` for the loaded buffer; `ifMissing: 'empty'` with full
   *   constructor options to start an empty buffer when no file is at `path`.
   * @throws {@link ArchiveError} for a missing, truncated, corrupt or foreign file, or one
   *   whose buffer would not fit in memory.
   */
  static load<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions>): Promise<ReplayBufferImpl<F>> {
    if (archive.missingAndEmpty(path, options)) return Promise.resolve(new ReplayBufferImpl<F>(options as BufferOptions));
    return archive.load(path, options ?? {}, makeFromArchive) as Promise<ReplayBufferImpl<F>>;
  }

  /** As {@link load}, synchronously. */
  static loadSync<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions>): ReplayBufferImpl<F> {
    if (archive.missingAndEmpty(path, options)) return new ReplayBufferImpl<F>(options as BufferOptions);
    return archive.loadSync(path, options ?? {}, makeFromArchive) as ReplayBufferImpl<F>;
  }

  /** Removes every transition. Indices handed out before stay stale. @throws {@link StateError} after `close()`. */
  clear(): void {
    this._assertMutable();
    this._native.clear();
  }

  /** Frees the buffer's memory now. Idempotent; any later call except `close` throws {@link StateError}. */
  close(): void {
    if (this.#closed) return;
    if (this._saving) throw new StateError('a save of this buffer is in progress: wait for it before closing the buffer');
    this.#closed = true;
    this._native.close();
  }

  /** Same as `close()`, for `using rb = new ReplayBuffer(...)`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The random generator's state (four 32-bit integers): with {@link setRngState}, resumes the exact sample sequence. */
  getRngState(): number[] {
    this._assertOpen();
    return this.#rng.getState();
  }

  /** Restores a state from {@link getRngState}. @throws {@link ShapeError} for anything else. */
  setRngState(state: readonly number[]): void {
    this._assertMutable();
    this.#rng.setState(state);
  }

  /** @internal The keys of the stored items, oldest first or in a fresh permutation (for epochs). */
  _epochKeys(shuffle: boolean): Float64Array {
    this._assertOpen();
    const keys = new Float64Array(this._native.length);
    this._native.keysInOrder(keys);
    if (shuffle && keys.length > 1) this._native.shuffle(keys, this.#rng.next(2 * (keys.length - 1)));
    return keys;
  }

  /** @internal Up to `want` live items named from keys[start...], in exact-size fresh arrays. */
  _readLive(keys: Float64Array, start: number, want: number): { batch: Batch<F> | null; consumed: number } {
    this._assertOpen();
    let batch = this._prepare(want, undefined, null);
    const [consumed, got] = this._native.readLive(keys, start, want, this.#outs, batch.indices);
    if (got === 0) return { batch: null, consumed };
    if (got < want) {
      const all = batch as unknown as Record<string, AnyTypedArray>;
      const short: Record<string, AnyTypedArray> = {};
      for (const f of this._fields) short[f.name] = all[f.name].slice(0, got * f.elems) as AnyTypedArray;
      short.indices = batch.indices.slice(0, got);
      batch = short as unknown as Batch<F>;
    }
    return { batch: this._decorate(batch, got), consumed };
  }

  /** @internal Adds what this kind of buffer's non-sampled batches carry (prioritized: weights of 1). */
  protected _decorate(batch: Batch<F>, rows: number): Batch<F> {
    void rows;
    return batch;
  }

  /** @internal Reads positions into fresh arrays (only the fields in `only`, when given). */
  private _readPositions<B>(indices: unknown, only: ReadonlySet<string> | null): B {
    this._assertOpen();
    const positions = float64(indices, 'indices', -1, { float32: false, elementError: OutOfRangeError });
    const batch = this._prepare(positions.length, undefined, only);
    this._native.readPositions(positions, this.#outs, batch.indices);
    return (only ? batch : this._decorate(batch, positions.length)) as B;
  }

  /** @internal */
  protected _assertOpen(): void {
    if (this.#closed) throw new StateError('the buffer is closed');
  }

  /** @internal Refuses changes while a save runs, so that an archive never holds half a change. */
  protected _assertMutable(): void {
    this._assertOpen();
    if (this._saving) throw new StateError('a save of this buffer is in progress: wait for it before changing the buffer');
  }

  /** @internal True while save() runs. */
  _saving = false;

  /** @internal The facade's state for an archive (the core's own state it reads itself). */
  _archiveMeta(): ArchiveMetaJs {
    const it = this.#iterator;
    const meta: ArchiveMetaJs = { rngState: this.#rng.getState(), seed: this.seed };
    if (it !== null || this.#randomBatchSize > 0) {
      const st = it?._state();
      meta.epoch = {
        nEpochs: it?.epochs ?? 0,
        epoch: st?.epoch ?? 0,
        cursor: st?.cursor ?? 0,
        batchSize: it?.batchSize ?? 0,
        randomBatchSize: this.#randomBatchSize,
        shuffle: it?.shuffle ?? false,
        dropLast: it?.dropLast ?? false,
        iterator: it !== null,
        keys: st?.keys ?? null,
      };
    }
    return meta;
  }

  /** @internal Restores the facade's state from an archive. */
  _restoreFacade(info: ArchiveInfo): void {
    this.#rng.setState(info.rngState);
    const e = info.epoch;
    if (e === undefined) return;
    this.#randomBatchSize = e.randomBatchSize;
    if (e.iterator) {
      const it = this.epochs({ batchSize: e.batchSize, epochs: e.nEpochs, shuffle: e.shuffle, dropLast: e.dropLast });
      it._resume(e.epoch, e.cursor, e.keys);
      this.#iterator = it;
    }
  }

  /** @internal Validates a transition and writes it into the one-row scratch columns. */
  protected _stage(t: unknown): AnyTypedArray[] {
    this._assertMutable();
    if (typeof t !== 'object' || t === null) throw new ShapeError(`a transition must be an object of fields, got ${describe(t)}`);
    const obj = t as Record<string, unknown>;
    for (let i = 0; i < this._fields.length; i++) {
      const f = this._fields[i];
      const v = obj[f.name];
      if (v === undefined) this._throwFieldMismatch(obj);
      writeRow(f, v, this.#row[i], this.#where[i]);
    }
    if (Object.keys(obj).length !== this._fields.length) this._throwFieldMismatch(obj);
    return this.#row;
  }

  /** @internal Validates columns; returns the typed arrays in schema order and the row count (null for 0 rows). */
  protected _columns(columns: unknown): { arrays: AnyTypedArray[]; rows: number } | null {
    this._assertMutable();
    if (typeof columns !== 'object' || columns === null) throw new ShapeError(`columns must be an object of arrays, got ${describe(columns)}`);
    const obj = columns as Record<string, unknown>;
    for (const f of this._fields) if (obj[f.name] === undefined) this._throwFieldMismatch(obj);
    if (Object.keys(obj).length !== this._fields.length) this._throwFieldMismatch(obj);
    const first = this._fields[0];
    const firstLen = (obj[first.name] as ArrayLike<unknown>).length;
    if (typeof firstLen !== 'number' || firstLen % first.elems !== 0)
      throw new ShapeError(`field '${first.name}': length must be a multiple of ${first.elems}, got ${describe(obj[first.name])}`);
    const rows = firstLen / first.elems;
    const arrays = this._fields.map((f, i) => column(f, obj[f.name], rows, this.#where[i]));
    return rows === 0 ? null : { arrays, rows };
  }

  /** @internal Checks a batch size against what is stored. */
  protected _checkBatchSize(batchSize: number): void {
    checkInteger(batchSize, 'batchSize', 1);
    const length = this._native.length;
    if (batchSize > length)
      throw new OutOfRangeError(`cannot sample ${batchSize} transitions: only ${length} are stored (isReady(${batchSize}) tells when enough are)`);
  }

  /** @internal Samples into `out` (or fresh arrays); weights only for prioritized buffers. */
  protected _draw(batchSize: number, out: object | undefined, withWeights: boolean, beta?: number): Batch<F> & { weights?: Float32Array } {
    this._assertOpen();
    this._checkBatchSize(batchSize);
    const batch = this._prepare(batchSize, out, null, withWeights);
    this._native.sample(batchSize, this.#rng.next(2 * batchSize), this.#outs, batch.indices, withWeights ? (batch.weights as Float32Array) : null, beta);
    return batch;
  }

  /** @internal Reads the items named by `keys` into fresh arrays. */
  protected _read(keys: Float64Array): Batch<F> {
    const batch = this._prepare(keys.length, undefined, null);
    batch.indices.set(keys);
    this._native.read(keys, this.#outs);
    return batch;
  }

  /**
   * @internal The batch object with an array per field (only those in `only` when given) and
   * `indices` (and `weights` when asked), listed in #outs. With `out`, its arrays are checked
   * and missing ones allocated; otherwise one ArrayBuffer holds the whole batch, each array a
   * view of it (one allocation instead of one per field).
   */
  private _prepare(rows: number, out: object | undefined, only: ReadonlySet<string> | null, withWeights = false): Batch<F> & { weights?: Float32Array } {
    if (out !== undefined && (typeof out !== 'object' || out === null)) throw new ShapeError(`out must be an object of typed arrays, got ${describe(out)}`);
    if (out === undefined) return this._fresh(rows, only, withWeights);
    const batch = out as Record<string, AnyTypedArray>;
    for (let i = 0; i < this._fields.length; i++) {
      const f = this._fields[i];
      this.#outs[i] = only && !only.has(f.name) ? null : outArray(batch, f.name, f.dtype, rows * f.elems);
    }
    outArray(batch, 'indices', 'float64', rows);
    if (withWeights) outArray(batch, 'weights', 'float32', rows);
    return batch as unknown as Batch<F>;
  }

  /** @internal A fresh batch whose arrays are views of one ArrayBuffer. */
  private _fresh(rows: number, only: ReadonlySet<string> | null, withWeights: boolean): Batch<F> & { weights?: Float32Array } {
    const fields = this._fields;
    let bytes = 0;
    for (const f of fields) if (!only || only.has(f.name)) bytes = align8(bytes) + rows * f.elems * DTYPES[f.dtype].ctor.BYTES_PER_ELEMENT;
    const indicesAt = align8(bytes);
    bytes = indicesAt + 8 * rows;
    const weightsAt = bytes;
    if (withWeights) bytes += 4 * rows;
    const buffer = uninitialisedArrayBuffer(bytes);
    const batch: Record<string, AnyTypedArray> = {};
    let at = 0;
    let padding: Uint8Array | null = null; // the alignment gaps: zeroed, as the native call writes every other byte
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      if (only && !only.has(f.name)) {
        this.#outs[i] = null;
        continue;
      }
      if (at !== align8(at)) (padding ??= new Uint8Array(buffer)).fill(0, at, align8(at));
      at = align8(at);
      const ctor = DTYPES[f.dtype].ctor as unknown as new (b: ArrayBuffer, o: number, n: number) => AnyTypedArray;
      const view = new ctor(buffer, at, rows * f.elems);
      batch[f.name] = view;
      this.#outs[i] = view;
      at += view.byteLength;
    }
    if (at !== indicesAt) (padding ??= new Uint8Array(buffer)).fill(0, at, indicesAt);
    batch.indices = new Float64Array(buffer, indicesAt, rows);
    if (withWeights) batch.weights = new Float32Array(buffer, weightsAt, rows);
    return batch as unknown as Batch<F> & { weights?: Float32Array };
  }

  private _throwFieldMismatch(obj: Record<string, unknown>): never {
    const missing = this._fields.filter((f) => obj[f.name] === undefined).map((f) => f.name);
    const unknown = Object.keys(obj).filter((k) => !this.#names.has(k));
    const parts: string[] = [];
    if (missing.length) parts.push(`missing field(s) ${missing.map((m) => `'${m}'`).join(', ')}`);
    if (unknown.length) parts.push(`unknown field(s) ${unknown.map((m) => `'${m}'`).join(', ')}`);
    throw new ShapeError(`${parts.join('; ')}; the schema's fields are ${this._fields.map((f) => `'${f.name}'`).join(', ')}`);
  }
}

let prioritizedKind: (new (options: BufferOptions) => ReplayBufferImpl) | null = null;

/** @internal Lets archives of prioritized buffers load through ReplayBuffer.load. */
export function registerPrioritizedKind(kind: new (options: BufferOptions) => ReplayBufferImpl): void {
  prioritizedKind = kind;
}

function makeFromArchive(a: archive.ArchivedOptions): ReplayBufferImpl {
  if (!a.prioritized) return new ReplayBufferImpl(a.options as unknown as BufferOptions);
  if (prioritizedKind === null) throw new StateError('prioritized buffers are not loaded');
  return new prioritizedKind(a.options as unknown as BufferOptions);
}

/** Validates storage options; paths become absolute. */
function resolveStorage(o: unknown, capacity: number): StorageOptions {
  if (o === undefined) return Object.freeze({ type: 'memory' });
  if (typeof o !== 'object' || o === null) throw new OutOfRangeError(`storage must be an object like { type: 'memory' }, got ${describe(o)}`);
  const s = o as { type?: unknown; path?: unknown; hotCapacity?: unknown };
  if (s.type === 'memory') return Object.freeze({ type: 'memory' });
  if (s.type !== 'mmap' && s.type !== 'tiered') throw new OutOfRangeError(`storage.type must be 'memory', 'mmap' or 'tiered', got ${describe(s.type)}`);
  if (typeof s.path !== 'string' || s.path.length === 0 || s.path.includes('\0')) throw new OutOfRangeError(`storage.path must be a file path, got ${describe(s.path)}`);
  const path = nodePath.resolve(s.path);
  if (s.type === 'mmap') return Object.freeze({ type: 'mmap', path });
  const hotCapacity = checkInteger(s.hotCapacity, 'storage.hotCapacity', 1, capacity - 1);
  return Object.freeze({ type: 'tiered', hotCapacity, path });
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * An ArrayBuffer of `bytes` bytes whose contents are not zeroed first (Node's
 * `Buffer.allocUnsafeSlow`: its own ArrayBuffer, never a pooled one), for batches that the
 * native call overwrites entirely: zeroing 40 KB first would cost as much again as the
 * allocation. Falls back to `new ArrayBuffer` where that is not what it gives.
 */
function uninitialisedArrayBuffer(bytes: number): ArrayBuffer {
  const b = Buffer.allocUnsafeSlow(bytes);
  return b.byteOffset === 0 && b.buffer.byteLength === bytes ? (b.buffer as ArrayBuffer) : new ArrayBuffer(bytes);
}

/** `batch[name]` if it is a typed array of `dtype` and `length`; a fresh one set on `batch` if absent. */
function outArray(batch: Record<string, unknown>, name: string, dtype: Dtype, length: number): AnyTypedArray {
  const a = batch[name];
  if (a === undefined) {
    const fresh = new DTYPES[dtype].ctor(length);
    batch[name] = fresh;
    return fresh;
  }
  const tag = typedArrayTag(a);
  if (tag !== DTYPES[dtype].tag) throw new DtypeError(`out.${name}: expected ${DTYPES[dtype].tag}, got ${describe(a)}`);
  if ((a as AnyTypedArray).length !== length) throw new ShapeError(`out.${name}: expected length ${length}, got ${(a as AnyTypedArray).length}`);
  return a as AnyTypedArray;
}

/** The constructor of {@link ReplayBuffer}, typed so that batches follow the schema. */
export interface ReplayBufferConstructor {
  /**
   * A buffer with an explicit schema: any fields, any of `float32`, `float64`, `int32`,
   * `int64`, `uint8`, `bool`, any shape.
   * @example
   * ```ts
   * const rb = new ReplayBuffer({ capacity: 50_000, seed: 7, fields: {
   *   obs: { shape: [4, 84, 84], dtype: 'uint8' }, action: { shape: [], dtype: 'int32' } } });
   * ```
   * @throws {@link OutOfRangeError} for a capacity that is not an integer in [1, 2^40] or a bad seed;
   *   {@link ShapeError} / {@link DtypeError} for a bad schema.
   */
  new <const F extends FieldsSpec>(options: FieldsOptions<F>): ReplayBuffer<F>;
  /**
   * A buffer of the standard transition fields: `obs`, `action`, `reward` (float32),
   * `nextObs`, `terminated`, `truncated` (bool), plus any `extraFields`.
   * @example
   * ```ts
   * const rb = new ReplayBuffer({ capacity: 100_000, obsShape: [4], actionDtype: 'int32', seed: 1 });
   * ```
   * @throws as the explicit-schema form.
   */
  new <O extends Dtype = 'float32', A extends Dtype = 'float32', const X extends FieldsSpec = {}>(
    options: TransitionOptions<O, A, X>,
  ): ReplayBuffer<TransitionFields<O, A, X>>;
  readonly prototype: ReplayBuffer;
  /** Loads an archive (see {@link ReplayBufferImpl.load}); a prioritized archive comes back as a PrioritizedReplayBuffer. */
  load<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions>): Promise<ReplayBuffer<F>>;
  /** As `load`, synchronously. */
  loadSync<F extends FieldsSpec = FieldsSpec>(path: string, options?: LoadOptions & Partial<BufferOptions>): ReplayBuffer<F>;
}

/** A uniform replay buffer over the fields `F`. See {@link ReplayBufferImpl} for its methods. */
export type ReplayBuffer<F extends FieldsSpec = FieldsSpec> = ReplayBufferImpl<F>;
/** The uniform replay buffer: a FIFO ring of transitions, sampled uniformly with replacement. */
export const ReplayBuffer = ReplayBufferImpl as unknown as ReplayBufferConstructor;
