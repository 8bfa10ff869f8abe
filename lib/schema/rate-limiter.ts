/**
 * The rate limiter's public option types and their validation: `rateLimiter` of a buffer, and
 * the waiting options (`signal`, `timeoutMs`) of `sampleAsync`, `pushAsync` and
 * `pushBatchAsync`. The shape of the option (its keys, integers, numbers, minSize within the
 * capacity) is checked here; Reverb's validity rules for the range and the default errorBuffer
 * belong to the core (`RateLimiter::from_options`, native/core/rate_limiter.cpp), which this
 * asks before any buffer is made, so that each rule has one owner.
 * @module
 */
import { describe } from './dtypes';
import { checkInteger, checkNumber } from './checks';
import { checkKeys } from './options';
import { OutOfRangeError } from '../errors';
import { rateLimiterConfig } from '../native/open';

/**
 * A rate limiter between the actors that insert and the learner that samples, after Reverb's
 * `MinSize` and `SampleToInsertRatio` (reverb/rate_limiters.py). Items are the unit: a `push`
 * counts 1, a `pushBatch` of n rows n, a `sample(b)` b.
 *
 * - `{ minSize }` (Reverb's `MinSize`): samples wait until `minSize` items have been inserted
 *   (since the buffer was made or last cleared); inserts never wait.
 * - `{ minSize, samplesPerInsert, errorBuffer? }` (Reverb's `SampleToInsertRatio`): past
 *   `minSize`, `diff = inserts * samplesPerInsert - samples` is kept within
 *   `samplesPerInsert * minSize ± errorBuffer`: a sample waits while it would take `diff` below
 *   the range, an insert while it would take it above. A call of n items is admitted when its
 *   first item would be (Reverb admits items one by one), and all n are counted.
 *
 * Only `sampleAsync`, `pushAsync` and `pushBatchAsync` wait; the synchronous `sample`, `push`
 * and `pushBatch` never do: the limiter only counts them.
 */
export interface RateLimiterOptions {
  /** Items inserted before any sample is admitted: an integer in [1, capacity]. */
  minSize: number;
  /**
   * The ratio of sampled items to inserted items to keep (a finite number > 0), e.g. 8 for a
   * learner that samples batches of 256 for every 32 inserted transitions. Omitted: only
   * `minSize` applies.
   */
  samplesPerInsert?: number;
  /**
   * How far `inserts * samplesPerInsert - samples` may stray from its value at `minSize`, in
   * items: a finite number >= max(1, samplesPerInsert) (Reverb's rule: a narrower range can
   * block inserts or samples for good). Only with `samplesPerInsert`. Default:
   * max(0.1 * samplesPerInsert * minSize, 2 * max(1, samplesPerInsert)), the 10% tolerance of
   * DeepMind Acme's agents, at least twice the least valid value.
   */
  errorBuffer?: number;
}

/** Options of a call that may wait for the rate limiter (with `sample`'s or `push`'s own). */
export interface RateWaitOptions {
  /** Stop waiting when this signal aborts: the call rejects with {@link RateLimitError} (its `cause` is the signal's reason) and changes nothing. */
  signal?: AbortSignal;
  /**
   * Stop waiting after this many milliseconds (a number >= 0; `Infinity` or omitted: no limit):
   * the call rejects with {@link RateLimitError} and changes nothing. 0 rejects unless admitted at once.
   */
  timeoutMs?: number;
}

/** A validated `rateLimiter` option, as the core resolved it. @internal */
export interface ResolvedRateLimiter {
  readonly minSize: number;
  /** undefined for a MinSize limiter. */
  readonly samplesPerInsert: number | undefined;
  /** As given or defaulted; undefined for a MinSize limiter. */
  readonly errorBuffer: number | undefined;
  /** The range diff is kept within (±Infinity for MinSize). */
  readonly minDiff: number;
  readonly maxDiff: number;
}

/** The keys `rateLimiter` takes. @internal */
export const RATE_LIMITER_KEYS = ['minSize', 'samplesPerInsert', 'errorBuffer'] as const;
/** The keys of the waiting options. @internal */
export const RATE_WAIT_KEYS = ['signal', 'timeoutMs'] as const;

/** Validates the `rateLimiter` option of a buffer of `capacity` (null when omitted). @internal */
export function resolveRateLimiter(o: unknown, capacity: number): ResolvedRateLimiter | null {
  if (o === undefined) return null;
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw new OutOfRangeError(`rateLimiter must be an object like { minSize, samplesPerInsert?, errorBuffer? }, got ${describe(o)}`);
  checkKeys(o, RATE_LIMITER_KEYS, 'rateLimiter option');
  const r = o as { minSize?: unknown; samplesPerInsert?: unknown; errorBuffer?: unknown };
  if (r.minSize === undefined) throw new OutOfRangeError('rateLimiter.minSize is required: the items inserted before any sample is admitted');
  const minSize = checkInteger(r.minSize, 'rateLimiter.minSize', 1);
  if (minSize > capacity)
    throw new OutOfRangeError(`rateLimiter.minSize must not exceed the capacity ${capacity} (the buffer could never hold that many items to sample from), got ${minSize}`);
  const samplesPerInsert = r.samplesPerInsert === undefined ? undefined : checkNumber(r.samplesPerInsert, 'rateLimiter.samplesPerInsert', 0, true);
  const errorBuffer = r.errorBuffer === undefined ? undefined : checkNumber(r.errorBuffer, 'rateLimiter.errorBuffer', 0);
  // Reverb's rules (errorBuffer needs samplesPerInsert and is at least max(1, samplesPerInsert))
  // and the default errorBuffer: the core's, with messages naming the option.
  return Object.freeze(rateLimiterConfig({ minSize, samplesPerInsert, errorBuffer }));
}

/** Validates the waiting options of a call; `what` names the call in messages. @internal */
export function resolveRateWait(signal: unknown, timeoutMs: unknown): { signal: AbortSignal | undefined; timeoutMs: number } {
  if (signal !== undefined && !(typeof signal === 'object' && signal !== null && typeof (signal as AbortSignal).aborted === 'boolean' && typeof (signal as AbortSignal).addEventListener === 'function'))
    throw new OutOfRangeError(`signal must be an AbortSignal, got ${describe(signal)}`);
  let t = Infinity;
  if (timeoutMs !== undefined && timeoutMs !== Infinity) t = checkNumber(timeoutMs, 'timeoutMs', 0);
  return { signal: signal as AbortSignal | undefined, timeoutMs: t };
}
