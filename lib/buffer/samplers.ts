/**
 * Samplers: what makes a buffer uniform or prioritized. The shared buffer is parametrised
 * by one of these; it decides what `sample` draws and returns (weights or not), what batches
 * read without sampling carry (weights of 1) and what pushes pass as priorities. Prioritized
 * replay's state (alpha, epsilon, the beta schedule and its frame count, the maximum
 * priority) lives in the core's sampler alone: the prioritized sampler here validates the
 * user's options once and forwards; archives read that state from the core.
 * @module
 */
import { AnyTypedArray, describe, typedArrayTag } from '../schema/dtypes';
import { checkInteger, checkNumber } from '../schema/checks';
import type { Eviction, PrioritizedOptions } from '../schema/prioritized';
import { OutOfRangeError, ShapeError } from '../errors';
import type { ArchiveInfo, NativeBuffer } from '../native/contract';
import type { NativeBufferSpec } from '../native/open';
import { float64 } from './convert';
import type { BatchObject } from './batches';
import { PRIORITIZED_KEYS } from '../schema/options';

/** What the shared buffer asks of its sampler. `P` is what `prepare` hands to `draw`. @internal */
export interface Sampler<P = unknown> {
  /** Whether sampled batches carry `weights`. */
  readonly weighted: boolean;
  /** Checks the options of a `sample` call that are this sampler's own, before anything else is checked or drawn. */
  prepare(options: { beta?: unknown } | undefined): P;
  /**
   * Draws `n` items (`words`: two random words per item, and two more with `batch.relabelled`: HER) into `outs` and the batch's `indices`
   * (and `weights`); `admitted`: the rate limiter counted them already (else the draw counts).
   */
  draw(n: number, words: Uint32Array, outs: (AnyTypedArray | null)[], batch: BatchObject, plan: P, admitted: boolean): void;
  /** Adds what a batch read without sampling carries. */
  decorate(batch: BatchObject, rows: number): void;
  /** The priority of one pushed row, checked; undefined: the core's default. */
  rowPriority(priority: unknown): Float64Array | undefined;
  /** The priorities of `rows` pushed rows, checked; undefined: the core's default. */
  rowPriorities(priorities: unknown, rows: number): Float64Array | undefined;
}

/** A pushed row's priority, checked, in `one` (undefined: the core's default, the running maximum). @internal */
export function rowPriority(priority: unknown, one: Float64Array): Float64Array | undefined {
  if (priority === undefined) return undefined;
  one[0] = checkNumber(priority, 'priority', 0, true);
  return one;
}

/** The priorities of `rows` pushed rows, checked (undefined: the core's default). @internal */
export function rowPriorities(priorities: unknown, rows: number): Float64Array | undefined {
  return priorities === undefined ? undefined : float64(priorities, 'priorities', rows);
}

/** A kind of sampler, chosen when a buffer is made: the options it takes, and from them its part of the native buffer's spec and the sampler over that buffer. @internal */
export interface SamplerKind {
  /** The option keys this kind takes beside every buffer's. */
  readonly optionKeys: readonly string[];
  /** Validates this kind's options (their keys already checked). */
  settle(options: object): { native: NativeBufferSpec['prioritized']; create(native: NativeBuffer): Sampler };
}

const DEFAULTS = { alpha: 0.6, betaStart: 0.4, betaEnd: 1.0, betaFrames: 100_000, epsilon: 1e-6 } as const;

/** Uniform sampling with replacement. */
class UniformSampler implements Sampler<null> {
  readonly weighted = false;
  readonly #native: NativeBuffer;

  constructor(native: NativeBuffer) {
    this.#native = native;
  }

  prepare(): null {
    return null;
  }

  draw(n: number, words: Uint32Array, outs: (AnyTypedArray | null)[], batch: BatchObject, _plan: null, admitted: boolean): void {
    this.#native.sample(n, words, outs, batch.indices, null, undefined, admitted, batch.discount, batch.relabelled);
  }

  decorate(): void {}

  rowPriority(): undefined {
    return undefined;
  }

  rowPriorities(): undefined {
    return undefined;
  }
}

/** The uniform sampler's kind. @internal */
export const uniformKind: SamplerKind = { optionKeys: [], settle: () => ({ native: null, create: (native) => new UniformSampler(native) }) };

/** Validated prioritized options. @internal */
export interface PrioritizedSettings {
  readonly alpha: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaFrames: number;
  readonly epsilon: number;
  readonly eviction: Eviction;
}

const EVICTIONS: ReadonlySet<unknown> = new Set<Eviction>(['fifo', 'lowest-priority']);

/** Proportional prioritized sampling (Schaul et al. 2016): the trees, the beta schedule and epsilon live in the core. @internal */
export class PrioritizedSampler implements Sampler<number | undefined>, PrioritizedSettings {
  readonly weighted = true;
  readonly alpha: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaFrames: number;
  readonly epsilon: number;
  readonly eviction: Eviction;
  readonly #native: NativeBuffer;
  readonly #one = new Float64Array(1);

  constructor(settings: PrioritizedSettings, native: NativeBuffer) {
    ({ alpha: this.alpha, betaStart: this.betaStart, betaEnd: this.betaEnd, betaFrames: this.betaFrames, epsilon: this.epsilon, eviction: this.eviction } = settings);
    this.#native = native;
  }

  /** The beta the next `sample` uses: betaStart + (betaEnd - betaStart) * min(1, samples so far / betaFrames) (the core's schedule). */
  get beta(): number {
    return this.#native.beta;
  }

  /** The sum-tree's total, the largest priority seen, the smallest stored. */
  stats(): { totalPriority: number; maxPriority: number; minPriority: number } {
    return this.#native.stats();
  }

  /** The beta of this call: the option's, or undefined for the core's schedule. */
  prepare(options: { beta?: unknown } | undefined): number | undefined {
    return options?.beta === undefined ? undefined : checkNumber(options.beta, 'beta', 0);
  }

  /** Draws in the core, which also advances the beta schedule by one. */
  draw(n: number, words: Uint32Array, outs: (AnyTypedArray | null)[], batch: BatchObject, beta: number | undefined, admitted: boolean): void {
    this.#native.sample(n, words, outs, batch.indices, batch.weights as Float32Array, beta, admitted, batch.discount, batch.relabelled);
  }

  decorate(batch: BatchObject, rows: number): void {
    batch.weights = new Float32Array(rows).fill(1); // batches read without sampling ignore priorities
  }

  rowPriority(priority: unknown): Float64Array | undefined {
    return rowPriority(priority, this.#one);
  }

  rowPriorities(priorities: unknown, rows: number): Float64Array | undefined {
    return rowPriorities(priorities, rows);
  }

  /** Sets p = |tdError| + epsilon for the items named; returns how many were live. */
  updatePriorities(indices: unknown, tdErrors: unknown): number {
    const keys = float64(indices, 'indices', -1);
    const tag = typedArrayTag(tdErrors);
    const deltas = tag === 'Float32Array' || tag === 'Float64Array' ? (tdErrors as Float32Array | Float64Array) : float64(tdErrors, 'tdErrors', -1);
    if (deltas.length !== keys.length)
      throw new ShapeError(`tdErrors must have one value per index: ${keys.length} indices, ${deltas.length} tdErrors`);
    for (let i = 0; i < deltas.length; i++) if (!Number.isFinite(deltas[i])) throw new OutOfRangeError(`tdErrors[${i}] must be finite, got ${deltas[i]}`);
    return this.#native.updatePriorities(keys, deltas);
  }

  /** The keys and priorities of the `k` items of highest priority, highest first. */
  top(k: number): { keys: Float64Array; priorities: Float64Array } {
    checkInteger(k, 'k', 0);
    if (k > this.#native.length) throw new OutOfRangeError(`cannot take the top ${k} items: only ${this.#native.length} are stored`);
    const keys = new Float64Array(k);
    const priorities = new Float64Array(k);
    this.#native.top(k, keys, priorities);
    return { keys, priorities };
  }

}

/** The prioritized kind: it validates prioritized options (before the schema, as the constructor always has). @internal */
export const prioritizedKind: SamplerKind = { optionKeys: PRIORITIZED_KEYS, settle: (options) => settlePrioritized(options as PrioritizedOptions) };

function settlePrioritized(o: PrioritizedOptions): ReturnType<SamplerKind['settle']> {
  const alpha = checkNumber(o.alpha ?? DEFAULTS.alpha, 'alpha', 0);
  const eviction = o.eviction ?? 'fifo';
  if (!EVICTIONS.has(eviction)) throw new OutOfRangeError(`eviction must be 'fifo' or 'lowest-priority', got ${describe(eviction)}`);
  const settings: PrioritizedSettings = {
    alpha,
    eviction,
    betaStart: checkNumber(o.betaStart ?? DEFAULTS.betaStart, 'betaStart', 0),
    betaEnd: checkNumber(o.betaEnd ?? DEFAULTS.betaEnd, 'betaEnd', 0),
    betaFrames: checkInteger(o.betaFrames ?? DEFAULTS.betaFrames, 'betaFrames', 1),
    epsilon: checkNumber(o.epsilon ?? DEFAULTS.epsilon, 'epsilon', 0, true),
  };
  const { betaStart, betaEnd, betaFrames, epsilon } = settings;
  return { native: { alpha, eviction, epsilon, betaStart, betaEnd, betaFrames }, create: (native) => new PrioritizedSampler(settings, native) };
}

/** The prioritized options an archive records, or null for an archive of a uniform buffer. @internal */
export function archivedPrioritizedOptions(info: ArchiveInfo): Required<PrioritizedOptions> | null {
  if (info.kind !== 'prioritized') return null;
  return {
    alpha: info.alpha,
    betaStart: info.betaStart,
    betaEnd: info.betaEnd,
    betaFrames: info.betaFrames,
    epsilon: info.epsilon,
    eviction: info.eviction,
  };
}
