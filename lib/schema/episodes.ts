/**
 * Episodes: the `nStep` option and the `env` of pushed rows, checked. The core keeps the
 * episode index and computes n-step items (native/core/episodes.h).
 * @module
 */
import { OutOfRangeError, ShapeError } from '../errors';
import { describe } from './dtypes';
import { checkInteger, checkNumber } from './checks';
import { checkKeys } from './options';
import type { ResolvedField } from './fields';
import { LIMITS } from '../native/addon';

/**
 * n-step returns (option `nStep`): a sampled item at step t of its episode comes back as its
 * n-step item: `reward` = sum over k < m of gamma^k r(t+k); `nextObs`, `terminated` and
 * `truncated` those of step t+m-1; and `discount` (`Float32Array`) = gamma^m, or 0 when the
 * episode terminated within those m steps. m = n, or fewer where the episode ends (terminated
 * or truncated), at the newest stored item of the episode, or where an item of it has been
 * evicted. Truncation bootstraps: it ends the sum, not the value (`discount` stays gamma^m).
 * Semantics of stable-baselines3's `NStepReplayBuffer` (computed at sample time, so the
 * stored transitions stay one-step and prioritized replay keeps one priority per item).
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

/** Checks `nStep` against the schema. @internal */
export function resolveNStep(v: unknown, fields: readonly ResolvedField[]): ResolvedNStep | null {
  if (v === undefined) return null;
  if (typeof v !== 'object' || v === null) throw new OutOfRangeError(`nStep must be an object like { n: 3, gamma: 0.99 }, got ${describe(v)}`);
  checkKeys(v, ['n', 'gamma'], 'nStep option');
  const o = v as Record<string, unknown>;
  const n = checkInteger(o.n, 'nStep.n', 1, 1024);
  const gamma = checkNumber(o.gamma, 'nStep.gamma', 0);
  if (gamma > 1) throw new OutOfRangeError(`nStep.gamma must be in [0, 1], got ${gamma}`);
  const index = (name: string, ok: (f: ResolvedField) => boolean, what: string): number => {
    const i = fields.findIndex((f) => f.name === name);
    if (i < 0 || !ok(fields[i])) throw new ShapeError(`nStep needs a field '${name}' (${what}); the shorthand schema has it`);
    return i;
  };
  const boolScalar = (f: ResolvedField) => f.dtype === 'bool' && f.shape.length === 0;
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
  if (!episodes) throw new OutOfRangeError('env is an option of buffers that keep episodes (made with nStep, or a `next` field)');
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
