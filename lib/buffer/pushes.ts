/**
 * Pushes, the one way: checking and staging the input, the priorities, the rate limiter's
 * admission for the awaitable forms, and the native push. A buffer's own state
 * (`BufferCore`) and a worker's writer (`ReplayWriter`) each hold one, over their own native
 * object, so that a push through either is checked and counted the same way.
 * @module
 */
import { OutOfRangeError } from '../errors';
import { AnyTypedArray, describe } from '../schema/dtypes';
import { checkKeys } from '../schema/options';
import { RATE_WAIT_KEYS, resolveRateWait } from '../schema/rate-limiter';
import { resolveEnv } from '../schema/episodes';
import type { NativeRateWaits } from '../native/contract';
import type { RateGate, RateWait } from './rate-wait';
import { rowPriorities, rowPriority } from './samplers';
import { StagedRows, Stager } from './staging';

/** The native side of pushes: a NativeBuffer or a NativeWriter. @internal */
export interface NativePushTarget extends NativeRateWaits {
  /** The rate limiter counts the n rows unless `admitted` (a grant of `rateWait` counted them). */
  push(columns: AnyTypedArray[], n: number, priorities?: Float64Array, admitted?: boolean, envs?: Uint32Array): number;
}

/** What the holder checks around a push: `check` before it (closed, saving ...), `busy` while the input is read. @internal */
export interface PushHost {
  check(): void;
  busy: boolean;
}

/** Settles a promise with what `run` returns or throws (the async calls without a rate limiter). @internal */
export function settle<T>(run: () => T): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Pushes for one schema into one native target. @internal */
export class Pusher {
  readonly #target: NativePushTarget;
  readonly #stager: Stager;
  readonly #weighted: boolean;
  readonly #gate: RateGate | null;
  readonly #host: PushHost;
  readonly #one = new Float64Array(1);
  readonly #episodes: boolean;

  /**
   * `gate`: the buffer's rate limiter seen from this thread (the awaitable forms wait for
   * it), null without one; `episodes`: the buffer keeps an episode index (pushes take `env`).
   */
  constructor(target: NativePushTarget, stager: Stager, weighted: boolean, gate: RateGate | null, host: PushHost, episodes: boolean) {
    this.#episodes = episodes;
    this.#target = target;
    this.#stager = stager;
    this.#weighted = weighted;
    this.#gate = gate;
    this.#host = host;
  }

  /** The row's priority, checked (uniform buffers: none; the facades refuse the option first). */
  #priority(p: unknown): Float64Array | undefined {
    return this.#weighted ? rowPriority(p, this.#one) : undefined;
  }

  #priorities(p: unknown, rows: number): Float64Array | undefined {
    return this.#weighted ? rowPriorities(p, rows) : undefined;
  }

  /** Reads the input with the host busy. */
  #read<T>(read: () => T): T {
    const host = this.#host;
    host.check();
    host.busy = true;
    try {
      return read();
    } finally {
      host.busy = false;
    }
  }

  // push and pushBatch are the hot path of a training loop: written out, no closure a call.

  /** Pushes one transition at `priority` (prioritized buffers; undefined: the default). */
  push(transition: unknown, priority?: unknown, env?: unknown): number {
    const host = this.#host;
    host.check();
    host.busy = true;
    try {
      const row = this.#stager.row(transition);
      const p = this.#priority(priority);
      return this.#target.push(row, 1, p, false, resolveEnv(env, 1, this.#episodes));
    } finally {
      host.busy = false;
    }
  }

  /** Pushes columns at `priorities` (prioritized buffers; undefined: the default). */
  pushBatch(columns: unknown, priorities?: unknown, env?: unknown): void {
    const host = this.#host;
    host.check();
    host.busy = true;
    try {
      const cols = this.#stager.columns(columns);
      const p = this.#priorities(priorities, cols ? cols.rows : 0);
      const envs = resolveEnv(env, cols ? cols.rows : 0, this.#episodes);
      if (cols) this.#target.push(cols.arrays, cols.rows, p, false, envs);
    } finally {
      host.busy = false;
    }
  }

  /** Splits the options of pushAsync / pushBatchAsync into the priority, env and waiting options. */
  #asyncOptions(method: string, priorityKey: 'priority' | 'priorities', options: unknown): { priority: unknown; env: unknown; wait: RateWait } {
    if (options === undefined) return { priority: undefined, env: undefined, wait: resolveRateWait(undefined, undefined) };
    if (typeof options !== 'object' || options === null) throw new OutOfRangeError(`${method} options must be an object like { timeoutMs }, got ${describe(options)}`);
    const weighted = this.#weighted;
    const keys = [...(weighted ? [priorityKey] : []), 'env', ...RATE_WAIT_KEYS];
    checkKeys(options, keys, `${method} option`, OutOfRangeError,
      weighted ? undefined : { keys: [priorityKey], hint: `${priorityKey} is for PrioritizedReplayBuffer, not a uniform ReplayBuffer` });
    const o = options as Record<string, unknown>;
    return { priority: o[priorityKey], env: o.env, wait: resolveRateWait(o.signal, o.timeoutMs) };
  }

  /** `push` once the rate limiter admits it: checked and staged now, copied if it has to wait, stored at the grant. */
  pushAsync(transition: unknown, options: unknown): Promise<number> {
    let row: AnyTypedArray[];
    let priority: Float64Array | undefined;
    let envs: Uint32Array | undefined;
    let wait: RateWait;
    try {
      this.#read(() => {
        const o = this.#asyncOptions('pushAsync', 'priority', options);
        wait = o.wait;
        row = this.#stager.row(transition);
        priority = this.#priority(o.priority);
        envs = resolveEnv(o.env, 1, this.#episodes);
      });
    } catch (e) {
      return Promise.reject(e);
    }
    const gate = this.#gate;
    const run = (): number => {
      this.#host.check();
      return this.#target.push(row, 1, priority, gate !== null, envs);
    };
    // Waiting, it must not keep the stager's scratch row (the next push reuses it).
    const keep = (): void => {
      row = row.map((a) => a.slice());
      priority = priority?.slice();
    };
    return gate ? gate.admit('insert', 1, wait!, 'pushAsync', run, keep) : settle(run);
  }

  /** `pushBatch` once the rate limiter admits its rows (the first row decides): as `pushAsync`. */
  pushBatchAsync(columns: unknown, options: unknown): Promise<void> {
    let cols: StagedRows | null;
    let priorities: Float64Array | undefined;
    let envs: Uint32Array | undefined;
    let wait: RateWait;
    try {
      this.#read(() => {
        const o = this.#asyncOptions('pushBatchAsync', 'priorities', options);
        wait = o.wait;
        cols = this.#stager.columns(columns);
        priorities = this.#priorities(o.priority, cols ? cols.rows : 0);
        envs = resolveEnv(o.env, cols ? cols.rows : 0, this.#episodes);
      });
    } catch (e) {
      return Promise.reject(e);
    }
    const gate = this.#gate;
    const run = (): void => {
      this.#host.check();
      if (cols) this.#target.push(cols.arrays, cols.rows, priorities, gate !== null, envs);
    };
    // Typed arrays of the field's dtype are the caller's own: copied, so that what is stored
    // is what was given, whatever the caller does with its arrays while this waits.
    const keep = (): void => {
      if (cols) cols = { arrays: cols.arrays.map((a) => a.slice()), rows: cols.rows };
      priorities = priorities?.slice();
    };
    return gate && cols! ? gate.admit('insert', cols!.rows, wait!, 'pushBatchAsync', run, keep) : settle(run);
  }
}
