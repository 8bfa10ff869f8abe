/**
 * Episodes: the `nStep` option and the `env` of pushed rows, checked. The core keeps the
 * episode index (native/core/episodes.h) and each item's n-step return as rows arrive
 * (native/core/nstep.h).
 * @module
 */
import { OutOfRangeError, ShapeError } from '../errors';
import { describe } from './dtypes';
import { checkInteger, checkNumber } from './checks';
import { checkKeys } from './options';
import type { ResolvedField } from './fields';
import type { FieldsSpec, SequenceBatch } from './types';
import { LIMITS } from '../native/addon';

/**
 * n-step returns (option `nStep`): a sampled item (and an item read by `sampleByIndex`,
 * `sampleAll`, `top` or an epoch) at step t of its episode comes back as its
 * n-step item: `reward` = sum over k < m of gamma^k r(t+k); `nextObs`, `terminated` and
 * `truncated` those of step t+m-1; and `discount` (`Float32Array`) = gamma^m, or 0 when the
 * episode terminated within those m steps. m = n, or fewer where the episode ends (terminated
 * or truncated), at the newest stored item of the episode, or where an item of it has been
 * evicted. Truncation bootstraps: it ends the sum, not the value (`discount` stays gamma^m).
 * Semantics of stable-baselines3's `NStepReplayBuffer` (the stored transitions stay one-step
 * and prioritized replay keeps one priority per item). The sums are kept as rows arrive, O(n)
 * a row (as cpprb's `Nstep`), so a sample reads one record an item: see the README.
 * Needs the fields `reward` (float32 or float64 scalar), `nextObs`, `terminated` and
 * `truncated` (bool scalars): the shorthand schema has them.
 */
export interface NStepOptions {
  /** Steps summed: an integer in [1, 1024]. */
  n: number;
  /** Discount per step, in [0, 1]. */
  gamma: number;
}

/** The option checked, with the indexes of the fields the core reads. @internal */
export interface ResolvedNStep {
  readonly n: number;
  readonly gamma: number;
  readonly fields: { terminated: number; truncated: number; reward: number; nextObs: number };
}

/** The episode index as a buffer keeps it (options `episodes`, implied by `nStep`): the fields it reads, and n-step returns. @internal */
export interface ResolvedEpisodes {
  readonly terminated: number;
  readonly truncated: number;
  readonly nStep: ResolvedNStep | null;
}

/** The index of field `name`, which `ok` accepts; ShapeError naming what `option` needs otherwise. */
function fieldIndex(fields: readonly ResolvedField[], name: string, ok: (f: ResolvedField) => boolean, what: string, option: string): number {
  const i = fields.findIndex((f) => f.name === name);
  if (i < 0 || !ok(fields[i])) throw new ShapeError(`${option} needs a field '${name}' (${what}); the shorthand schema has it`);
  return i;
}

const boolScalar = (f: ResolvedField) => f.dtype === 'bool' && f.shape.length === 0;

/** Checks `episodes` and `nStep` against the schema: null when the buffer keeps no episode index. @internal */
export function resolveEpisodes(episodes: unknown, nStep: unknown, fields: readonly ResolvedField[]): ResolvedEpisodes | null {
  if (episodes !== undefined && typeof episodes !== 'boolean') throw new OutOfRangeError(`episodes must be true or false, got ${describe(episodes)}`);
  const ns = resolveNStep(nStep, fields);
  if (ns === null && episodes !== true) return null;
  if (ns !== null && episodes === false) throw new OutOfRangeError('nStep needs the episode index: episodes cannot be false with it');
  return {
    terminated: fieldIndex(fields, 'terminated', boolScalar, 'a bool scalar', 'the episode index'),
    truncated: fieldIndex(fields, 'truncated', boolScalar, 'a bool scalar', 'the episode index'),
    nStep: ns,
  };
}

/** Checks `nStep` against the schema. @internal */
export function resolveNStep(v: unknown, fields: readonly ResolvedField[]): ResolvedNStep | null {
  if (v === undefined) return null;
  if (typeof v !== 'object' || v === null) throw new OutOfRangeError(`nStep must be an object like { n: 3, gamma: 0.99 }, got ${describe(v)}`);
  checkKeys(v, ['n', 'gamma'], 'nStep option');
  const o = v as Record<string, unknown>;
  const n = checkInteger(o.n, 'nStep.n', 1, 1024);
  const gamma = checkNumber(o.gamma, 'nStep.gamma', 0);
  if (gamma > 1) throw new OutOfRangeError(`nStep.gamma must be in [0, 1], got ${gamma}`);
  const index = (name: string, ok: (f: ResolvedField) => boolean, what: string): number => fieldIndex(fields, name, ok, what, 'nStep');
  return {
    n,
    gamma,
    fields: {
      terminated: index('terminated', boolScalar, 'a bool scalar'),
      truncated: index('truncated', boolScalar, 'a bool scalar'),
      reward: index('reward', (f) => (f.dtype === 'float32' || f.dtype === 'float64') && f.shape.length === 0, 'a float32 or float64 scalar'),
      nextObs: index('nextObs', () => true, 'the next observation'),
    },
  };
}

/** The env stream of each of `rows` pushed rows, checked (undefined: stream 0). @internal */
export function resolveEnv(env: unknown, rows: number, episodes: boolean): Uint32Array | undefined {
  if (env === undefined) return undefined;
  if (!episodes) throw new OutOfRangeError('env is an option of buffers that keep episodes (made with episodes: true, nStep, or a `next` field)');
  const check = (x: unknown, where: string) => checkInteger(x, where, 0, LIMITS.maxEnvStreams - 1);
  if (typeof env === 'number') return new Uint32Array(rows).fill(check(env, 'env'));
  if (!(Array.isArray(env) || ArrayBuffer.isView(env)))
    throw new OutOfRangeError(`env must be an integer or one integer per row, got ${describe(env)}`);
  const list = env as ArrayLike<unknown>;
  if (list.length !== rows) throw new ShapeError(`env: expected ${rows} env ids (one per row), got ${list.length}`);
  const out = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) out[i] = check(list[i], `env[${i}]`);
  return out;
}

/**
 * Options of `sampleSequences` (TorchRL's SliceSampler / PrioritizedSliceSampler, Reverb's
 * trajectories, R2D2's burn-in).
 */
export interface SequenceOptions<F extends FieldsSpec = FieldsSpec> {
  /** Steps a sequence: an integer in [1, 2^20]. */
  length: number;
  /** Starts only at steps (within their episode) that are multiples of this: an integer in [1, 2^20]; default 1. With `stride: length` and `pad: 'none'`, an episode's sequences do not overlap. */
  stride?: number;
  /** Steps before each sequence, returned apart as `burnIn` (for a recurrent state to warm up on, R2D2): an integer in [0, 2^20]; default 0. */
  burnIn?: number;
  /** Let a sequence run on past its episode's end into the next episode of the same env stream (the `terminated` / `truncated` fields say where; the mask stays 1); default false. */
  crossEpisodes?: boolean;
  /** `'zero'` (default): a window that runs past its episode's end (or the newest stored item) is zero-padded and masked; `'none'`: only starts whose whole window is real are drawn. */
  pad?: 'zero' | 'none';
  /** Prioritized buffers: the importance-sampling exponent (default: the schedule's). */
  beta?: number;
  /**
   * Arrays to sample into (a learner's loop): typically the batch an earlier call with the same
   * `batchSize`, `length` and `burnIn` returned, so that `b = rb.sampleSequences(n, { length, out: b })`
   * allocates nothing after the first call. Each array present must be of exactly the dtype and
   * length a fresh batch's has (`[batchSize, length, ...shape]` per field, `mask` of
   * `batchSize * length`, `indices` and on a prioritized buffer `weights` of `batchSize`, and
   * with a burn-in `burnIn`'s fields and `mask` of `batchSize * burnIn` steps): a DtypeError or
   * ShapeError names the first that is not, and nothing is written or set. Missing ones are
   * allocated and set on this object, which is returned. Every array the call writes is
   * overwritten whole (padding steps zeroed), so nothing of the earlier batch remains.
   */
  out?: Partial<SequenceBatch<F>>;
}

/** The options checked, with defaults, as the native call takes them. @internal */
export interface ResolvedSequenceOptions {
  readonly length: number;
  readonly stride: number;
  readonly burnIn: number;
  readonly crossEpisodes: boolean;
  readonly pad: boolean;
  readonly beta: number | undefined;
  /** Checked by the batch's preparation (lib/buffer/sequence-batches.ts), with the arrays. */
  readonly out: unknown;
}

/** Checks `sampleSequences`' options. @internal */
export function resolveSequenceOptions(options: unknown, weighted: boolean): ResolvedSequenceOptions {
  if (typeof options !== 'object' || options === null) throw new OutOfRangeError(`sampleSequences options must be an object like { length: 64 }, got ${describe(options)}`);
  checkKeys(options, weighted ? ['length', 'stride', 'burnIn', 'crossEpisodes', 'pad', 'beta', 'out'] : ['length', 'stride', 'burnIn', 'crossEpisodes', 'pad', 'out'], 'sampleSequences option');
  const o = options as SequenceOptions;
  const max = 2 ** 20;
  if (o.crossEpisodes !== undefined && typeof o.crossEpisodes !== 'boolean') throw new OutOfRangeError(`crossEpisodes must be true or false, got ${describe(o.crossEpisodes)}`);
  if (o.pad !== undefined && o.pad !== 'zero' && o.pad !== 'none') throw new OutOfRangeError(`pad must be 'zero' or 'none', got ${describe(o.pad)}`);
  return {
    length: checkInteger(o.length, 'length', 1, max),
    stride: o.stride === undefined ? 1 : checkInteger(o.stride, 'stride', 1, max),
    burnIn: o.burnIn === undefined ? 0 : checkInteger(o.burnIn, 'burnIn', 0, max),
    crossEpisodes: o.crossEpisodes ?? false,
    pad: (o.pad ?? 'zero') === 'zero',
    beta: o.beta === undefined ? undefined : checkNumber(o.beta, 'beta', 0),
    out: o.out,
  };
}
