/**
 * `rb.rateLimiter`: a buffer's rate limiter as users read it: its options, as the core
 * resolved them (defaults filled in), and its counters. The limiter itself is the core's
 * (native/core/rate_limiter.h), owned by the native buffer; this only reads it.
 * @module
 */
import { OutOfRangeError, StateError } from '../errors';
import type { NativeBuffer, RateInfoJs } from '../native/contract';
import type { ResolvedRateLimiter } from '../schema/rate-limiter';

/**
 * What a rate limiter has counted since the buffer was made (or loaded: archives keep these).
 * Items are the unit: a `push` is 1 insert, a `pushBatch` of n rows n, a `sample(b)` b samples.
 * `clear()` of the buffer sets `inserts` and `samples` back to 0 (the ratio starts afresh) and
 * keeps the wait counts and times.
 */
export interface RateLimiterStats {
  /** Items inserted and counted (every push, synchronous or not), since the last `clear()`. */
  readonly inserts: number;
  /** Items sampled and counted (every sample, synchronous or not), since the last `clear()`. */
  readonly samples: number;
  /** Calls that could not be admitted at once and waited (`insertWaits + sampleWaits`), however they ended. */
  readonly waits: number;
  /** `pushAsync` / `pushBatchAsync` calls that waited. */
  readonly insertWaits: number;
  /** `sampleAsync` calls that waited. */
  readonly sampleWaits: number;
  /** Time waited, in milliseconds, summed over the calls that waited (`insertWaitedMs + sampleWaitedMs`; concurrent waits add up, as in Reverb). */
  readonly waitedMs: number;
  /** Milliseconds waited by inserts. */
  readonly insertWaitedMs: number;
  /** Milliseconds waited by samples. */
  readonly sampleWaitedMs: number;
  /** Insert calls waiting now. */
  readonly pendingInserts: number;
  /** Sample calls waiting now. */
  readonly pendingSamples: number;
  /** `inserts * samplesPerInsert - samples` (plus the offset of a re-enabled limiter): what the range bounds. */
  readonly diff: number;
}

/**
 * A buffer's rate limiter (`rb.rateLimiter`; null for a buffer made without the `rateLimiter`
 * option): Reverb's `MinSize` or `SampleToInsertRatio` (reverb/rate_limiters.py), between the
 * actors' inserts and the learner's samples. `sampleAsync`, `pushAsync` and `pushBatchAsync`
 * wait for its admission; the synchronous calls never wait, they are only counted.
 */
export class RateLimiter {
  /** Items inserted before any sample is admitted. */
  readonly minSize: number;
  /** The ratio of samples to inserts kept past `minSize`; undefined for a `{ minSize }` limiter. */
  readonly samplesPerInsert: number | undefined;
  /** The allowed distance from that ratio, in items (given or defaulted); undefined for a `{ minSize }` limiter. */
  readonly errorBuffer: number | undefined;
  /** The range `diff` is kept within: `samplesPerInsert * minSize - errorBuffer` (-Infinity for `{ minSize }`). */
  readonly minDiff: number;
  /** `samplesPerInsert * minSize + errorBuffer` (Infinity for `{ minSize }`). */
  readonly maxDiff: number;
  readonly #native: NativeBuffer;
  readonly #isOpen: () => boolean;

  /** @internal */
  constructor(config: ResolvedRateLimiter, native: NativeBuffer, isOpen: () => boolean) {
    ({ minSize: this.minSize, samplesPerInsert: this.samplesPerInsert, errorBuffer: this.errorBuffer, minDiff: this.minDiff, maxDiff: this.maxDiff } = config);
    this.#native = native;
    this.#isOpen = isOpen;
  }

  /** The counters now (a fresh object each time). @throws {@link StateError} after the buffer's `close()`. */
  get stats(): RateLimiterStats {
    const i = this.#info();
    const insertWaitedMs = i.insertWaitNs / 1e6;
    const sampleWaitedMs = i.sampleWaitNs / 1e6;
    return {
      inserts: i.inserts,
      samples: i.samples,
      waits: i.insertWaits + i.sampleWaits,
      insertWaits: i.insertWaits,
      sampleWaits: i.sampleWaits,
      waitedMs: insertWaitedMs + sampleWaitedMs,
      insertWaitedMs,
      sampleWaitedMs,
      pendingInserts: i.pendingInserts,
      pendingSamples: i.pendingSamples,
      diff: i.diff,
    };
  }

  /**
   * Whether the limiter holds calls back. Set it to `false` to admit every call at once (still
   * counting them), e.g. while prefilling a buffer from an offline dataset (Reverb issue 134)
   * or to drain a loaded buffer whose limiter holds inserts; back to `true`, the ratio restarts
   * at its centre (`diff = samplesPerInsert * minSize` once `minSize` items are in). Saved in
   * archives. @throws {@link StateError} after the buffer's `close()`; {@link OutOfRangeError}
   * for a value that is not a boolean.
   */
  get enabled(): boolean {
    return this.#info().enabled;
  }

  set enabled(value: boolean) {
    if (!this.#isOpen()) throw new StateError('the buffer is closed');
    if (typeof value !== 'boolean') throw new OutOfRangeError(`rateLimiter.enabled must be true or false, got ${typeof value}`);
    this.#native.rateSetEnabled(value);
  }

  #info(): RateInfoJs {
    if (!this.#isOpen()) throw new StateError('the buffer is closed');
    return this.#native.rateInfo() as RateInfoJs;
  }
}
