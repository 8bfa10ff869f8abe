/**
 * ReplayWriter: an actor's side of a buffer shared with worker threads. Attached from a
 * writer handle in any thread of the process, it pushes into the same native buffer as the
 * learner's `ReplayBuffer`, with the same validation and errors.
 * @module
 */
import { OutOfRangeError, StateError } from '../errors';
import { describe } from '../schema/dtypes';
import type { ResolvedField } from '../schema/fields';
import type { Columns, FieldSpec, FieldsSpec, Transition } from '../schema/types';
import type { NativeWriter } from '../native/contract';
import { openNativeWriter } from '../native/open';
import { Pusher } from '../buffer/pushes';
import { RateGate } from '../buffer/rate-wait';
import { checkKeys } from '../schema/options';
import { Stager } from '../buffer/staging';
import { checkHandle, WriterHandle } from './handle';

/**
 * A writer on a buffer that lives in another thread (or this one): what an actor in a
 * worker thread pushes its experience through (Ape-X's actors, Reverb's writers).
 *
 * ```ts
 * // learner (main thread)
 * const rb = new ReplayBuffer({ capacity: 1_000_000, obsShape: [4] });
 * const worker = new Worker('./actor.js', { workerData: { handle: rb.writerHandle() } });
 * // actor (worker thread)
 * const writer = ReplayWriter.attach(workerData.handle);
 * writer.push({ obs, action, reward, nextObs, terminated, truncated });
 * ```
 *
 * Any number of writers in any number of threads push into one buffer while the learner
 * samples: they do not take turns for the whole of a call (rows are copied outside the
 * buffer's lock; the README's "Threads" section has the design). A row is stored whole or
 * not at all, so a worker terminated mid-push leaves no torn row. `F` is the buffer's schema.
 */
export class ReplayWriter<F extends FieldsSpec = FieldsSpec> {
  readonly #native: NativeWriter;
  readonly #fields: readonly ResolvedField[];
  readonly #prioritized: boolean;
  readonly #pusher: Pusher;
  #closed = false;

  private constructor(native: NativeWriter) {
    this.#native = native;
    this.#fields = native.fields.map((f) => ({ name: f.name, dtype: f.dtype, shape: f.shape, elems: f.shape.reduce((a, b) => a * b, 1) }));
    this.#prioritized = native.prioritized;
    // An actor waiting for the learner on another thread keeps its worker alive (keepAlive).
    const gate = native.limited ? new RateGate(native, true) : null;
    this.#pusher = new Pusher(native, new Stager(this.#fields), this.#prioritized, gate, {
      check: () => this.#assertOpen(),
      busy: false, // a writer has no state that a re-entrant call could see half-changed
    }, native.episodes);
  }

  /**
   * A writer on the buffer `handle` names.
   * @param handle what the buffer's `writerHandle()` returned, possibly posted from another thread.
   * @throws {@link ShapeError} for something that is not a writer handle;
   *   {@link StateError} when the buffer is closed, or the handle comes from another process.
   */
  static attach<F extends FieldsSpec = FieldsSpec>(handle: WriterHandle): ReplayWriter<F> {
    const h = checkHandle(handle);
    return new ReplayWriter<F>(openNativeWriter(h.buffer, h.process));
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The buffer's schema: each field's shape and dtype. */
  get schema(): { readonly [K in keyof F]: FieldSpec<F[K]['dtype']> } {
    const out: Record<string, FieldSpec> = {};
    for (const f of this.#fields) out[f.name] = { shape: f.shape, dtype: f.dtype };
    return out as { [K in keyof F]: FieldSpec<F[K]['dtype']> };
  }

  /** Transitions stored in the buffer now, from all writers. @throws {@link StateError} when this writer or the buffer is closed. */
  get length(): number {
    this.#assertOpen();
    return this.#native.length;
  }

  /**
   * Appends one transition to the buffer, as the buffer's own `push` does.
   * @param transition every field of the schema, no others (see `ReplayBuffer.push`).
   * @param options `priority`: a number > 0 (prioritized buffers only; default: the largest
   *   priority seen, as the buffer's own `push`); `env`: the environment stream (buffers made
   *   with `nStep`; each actor's environments should have ids of their own).
   * @returns the new item's index (its key, as in a batch's `indices`).
   * @throws {@link ShapeError}, {@link DtypeError}, {@link OutOfRangeError} as the buffer's
   *   `push` (nothing is stored); {@link StateError} when this writer or the buffer is closed.
   */
  push(transition: Transition<F>, options?: { priority?: number; env?: number }): number {
    this.#assertOpen();
    const o = this.#options(options, 'push', 'priority');
    return this.#pusher.push(transition, o.value, o.env);
  }

  /**
   * Appends `n` transitions given as columns, as the buffer's own `pushBatch` does.
   * @param columns every field of the schema as `n` rows, row-major (see `ReplayBuffer.pushBatch`).
   * @param options `priorities`: `n` numbers > 0, one per row (prioritized buffers only).
   * @throws as {@link ReplayWriter.push}; {@link ShapeError} when `priorities` is not of length `n`.
   */
  pushBatch(columns: Columns<F>, options?: { priorities?: Float64Array | Float32Array | readonly number[]; env?: number | Uint32Array | readonly number[] }): void {
    this.#assertOpen();
    const o = this.#options(options, 'pushBatch', 'priorities');
    this.#pusher.pushBatch(columns, o.value, o.env);
  }

  /**
   * `push`, awaitable: waits while the buffer's rate limiter holds inserts back (actors ahead
   * of the learner), then stores, as the buffer's own `pushAsync`: the input is checked at the
   * call (and copied if it has to wait); without a rate limiter it stores at once.
   * @param options `priority` as for `push`; `timeoutMs` (milliseconds) and `signal` (an
   *   AbortSignal) bound the wait.
   * @throws as {@link ReplayWriter.push} (the promise rejects); {@link RateLimitError} when the
   *   timeout passes or the signal aborts first (nothing is stored, nothing counted).
   */
  pushAsync(transition: Transition<F>, options?: { priority?: number; timeoutMs?: number; signal?: AbortSignal }): Promise<number> {
    if (this.#closed) return Promise.reject(new StateError('the writer is closed'));
    return this.#pusher.pushAsync(transition, options);
  }

  /**
   * `pushBatch`, awaitable: as {@link ReplayWriter.pushAsync} for `n` rows (the limiter admits
   * the call by its first row and counts all of them).
   * @throws as {@link ReplayWriter.pushBatch} (the promise rejects); {@link RateLimitError} as `pushAsync`.
   */
  pushBatchAsync(
    columns: Columns<F>,
    options?: { priorities?: Float64Array | Float32Array | readonly number[]; timeoutMs?: number; signal?: AbortSignal },
  ): Promise<void> {
    if (this.#closed) return Promise.reject(new StateError('the writer is closed'));
    return this.#pusher.pushBatchAsync(columns, options);
  }

  /** Lets go of the buffer. Never closes or changes the buffer; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new StateError('the writer is closed');
  }

  /** The one option of `method` (`name`), checked as the buffer's own push checks it. */
  #options(options: unknown, method: string, name: 'priority' | 'priorities'): { value: unknown; env: unknown } {
    if (options === undefined) return { value: undefined, env: undefined };
    if (typeof options !== 'object' || options === null)
      throw new OutOfRangeError(`${method} options must be an object like { ${name} }, got ${describe(options)}`);
    checkKeys(options, [name, 'env'], `${method} option`);
    const o = options as Record<string, unknown>;
    if (o[name] !== undefined && !this.#prioritized)
      throw new OutOfRangeError(`a uniform ReplayBuffer's ${method} takes no ${name} (${name} is for PrioritizedReplayBuffer), got ${describe(options)}`);
    return { value: o[name], env: o.env };
  }
}
