/**
 * Hindsight experience replay (option `her`): the option checked against the schema, and the
 * reward step of a relabelled batch (the user's `computeReward`, called once per batch, its
 * result checked). The goal choice is the core's (native/core/her.h).
 * @module
 */
import { DtypeError, OutOfRangeError, ShapeError } from '../errors';
import { AnyTypedArray, describe, Dtype, DTYPES, typedArrayTag } from './dtypes';
import { checkInteger } from './checks';
import { checkKeys } from './options';
import type { ResolvedField } from './fields';

/**
 * The user's vectorised reward (gymnasium-robotics' `compute_reward`, SB3's
 * `env.compute_reward`): `achievedGoals` and `desiredGoals` hold `n` rows each (row-major,
 * `n * elements` values of the goal fields' dtype: `Float32Array` for float32 goals, ...);
 * returns a `Float32Array(n)` of rewards. Called once per sampled batch with the relabelled
 * rows (not called when a batch has none); the arrays are fresh copies the callee may keep.
 * It must not call the buffer (a call from inside is a StateError).
 */
export type ComputeReward = (achievedGoals: AnyTypedArray, desiredGoals: AnyTypedArray, n: number) => Float32Array;

/**
 * Hindsight experience replay (Andrychowicz et al. 2017), with stable-baselines3's
 * `HerReplayBuffer` semantics: of each batch of n rows sampled, floor(n * k / (k + 1)) are
 * relabelled (SB3's `her_ratio` = 1 - 1 / (k + 1)): such a row's `goal` becomes the
 * `nextAchievedGoal` of a transition of its own episode chosen by `strategy`, its reward
 * `computeReward(its nextAchievedGoal, the new goal)`, and `batch.relabelled` (`Uint8Array`)
 * says which rows. `terminated` and `truncated` stay as stored (as SB3).
 *
 * - `'future'` (default): uniformly among the row's own and the later stored transitions of
 *   its episode (SB3's `randint(current, episode_end)`, the row itself included);
 * - `'final'`: the episode's last stored transition;
 * - `'episode'`: uniformly among every stored transition of the episode.
 *
 * "Stored" means reachable from the row by the episode index's checked links: an episode still
 * open gives goals from its stored part (SB3 samples only finished episodes); FIFO overwriting
 * that cut the episode's head, or lowest-priority eviction that took an item from its middle,
 * leaves goals only from the part around the row. Every row has at least itself, so the chosen
 * rows are always relabelled. Which rows: a uniform random subset of exactly that many (SB3
 * takes its first rows, which for its independent uniform draws is the same distribution;
 * replaykit's prioritized draws are stratified by slot, so the first rows would never be the
 * newest items). On a prioritized buffer a relabelled row keeps its item's priority and
 * importance-sampling weight (`updatePriorities(batch.indices, ...)` updates the stored item).
 * Finding a goal walks the episode by its links: O(episode length) a relabelled row.
 *
 * Applies to `sample`, `sampleAsync` and `batches()` (the goal choice on the prefetch thread,
 * `computeReward` when the batch is delivered). Epochs, reads by index or key and
 * `sampleSequences` return the stored transitions. Implies the episode index; not with `nStep`
 * (a relabelled goal would change every reward of the n-step sum: refused, OutOfRangeError).
 * Archives do not hold it (a function): give it to `load` again.
 */
export interface HerOptions {
  /** The desired goal's field (the policy's input beside `obs`). */
  goal: string;
  /** The field of the goal achieved at the transition's observation (same shape and dtype as `goal`). */
  achievedGoal: string;
  /** The field of the goal achieved at its next observation (same shape and dtype): what relabelled goals are taken from. */
  nextAchievedGoal: string;
  /** How the new goal is chosen; default `'future'`. */
  strategy?: 'future' | 'final' | 'episode';
  /** Relabelled goals per real one (SB3's `n_sampled_goal`): an integer in [0, 65536]; default 4 (80% relabelled). */
  k?: number;
  /** The reward of a relabelled row, vectorised: see {@link ComputeReward}. */
  computeReward: ComputeReward;
}

/** The option checked, as the buffer uses it. @internal */
export interface ResolvedHer {
  readonly goal: number;
  readonly achievedGoal: number;
  readonly nextAchievedGoal: number;
  readonly strategy: 'future' | 'final' | 'episode';
  readonly k: number;
  readonly computeReward: ComputeReward;
  /** The reward field (float32 or float64 scalar) the rewards go to. */
  readonly reward: number;
  /** Names and elements a row of the goal fields. */
  readonly goalName: string;
  readonly nextName: string;
  readonly rewardName: string;
  readonly elems: number;
  readonly dtype: Dtype;
}

const STRATEGIES: ReadonlySet<unknown> = new Set(['future', 'final', 'episode']);

/** Checks `her` against the schema (null when absent). @internal */
export function resolveHer(v: unknown, fields: readonly ResolvedField[], nStep: unknown, derivedFields: ReadonlySet<string>): ResolvedHer | null {
  if (v === undefined) return null;
  if (typeof v !== 'object' || v === null)
    throw new OutOfRangeError(`her must be an object like { goal: 'goal', achievedGoal: 'achievedGoal', nextAchievedGoal: 'nextAchievedGoal', computeReward }, got ${describe(v)}`);
  checkKeys(v, ['goal', 'achievedGoal', 'nextAchievedGoal', 'strategy', 'k', 'computeReward'], 'her option');
  if (nStep !== undefined)
    throw new OutOfRangeError('her cannot be combined with nStep: a relabelled goal would change every reward of the n-step sum (use one or the other)');
  const o = v as Record<string, unknown>;
  const index = (key: 'goal' | 'achievedGoal' | 'nextAchievedGoal'): number => {
    const name = o[key];
    if (typeof name !== 'string') throw new OutOfRangeError(`her.${key} must be a field name, got ${describe(name)}`);
    const i = fields.findIndex((f) => f.name === name);
    if (i < 0) throw new ShapeError(`her.${key}: unknown field '${name}'; the schema's fields are ${fields.map((f) => `'${f.name}'`).join(', ')}`);
    if (derivedFields.has(name)) throw new ShapeError(`her.${key}: field '${name}' is rebuilt from other items (next / frameStack); HER's fields must be stored as pushed`);
    return i;
  };
  const goal = index('goal'), achievedGoal = index('achievedGoal'), nextAchievedGoal = index('nextAchievedGoal');
  if (new Set([goal, achievedGoal, nextAchievedGoal]).size !== 3) throw new ShapeError('her.goal, her.achievedGoal and her.nextAchievedGoal must name three different fields');
  const g = fields[goal];
  for (const i of [achievedGoal, nextAchievedGoal]) {
    const f = fields[i];
    if (f.dtype !== g.dtype) throw new DtypeError(`her: field '${f.name}' is ${f.dtype}, goal field '${g.name}' is ${g.dtype}: the goal fields must have one dtype`);
    if (f.shape.length !== g.shape.length || f.shape.some((d, j) => d !== g.shape[j]))
      throw new ShapeError(`her: field '${f.name}' has shape [${f.shape.join(', ')}], goal field '${g.name}' has [${g.shape.join(', ')}]: the goal fields must have one shape`);
  }
  const strategy = o.strategy ?? 'future';
  if (!STRATEGIES.has(strategy)) throw new OutOfRangeError(`her.strategy must be 'future', 'final' or 'episode', got ${describe(strategy)}`);
  const k = o.k === undefined ? 4 : checkInteger(o.k, 'her.k', 0, 65536);
  if (typeof o.computeReward !== 'function') throw new OutOfRangeError(`her.computeReward must be a function (achievedGoals, desiredGoals, n) => Float32Array, got ${describe(o.computeReward)}`);
  const reward = fields.findIndex((f) => f.name === 'reward');
  if (reward < 0 || fields[reward].shape.length !== 0 || (fields[reward].dtype !== 'float32' && fields[reward].dtype !== 'float64'))
    throw new ShapeError("her needs a field 'reward' (a float32 or float64 scalar) for the relabelled rewards; the shorthand schema has it");
  return {
    goal, achievedGoal, nextAchievedGoal, k,
    strategy: strategy as ResolvedHer['strategy'],
    computeReward: o.computeReward as ComputeReward,
    reward,
    goalName: g.name,
    nextName: fields[nextAchievedGoal].name,
    rewardName: fields[reward].name,
    elems: g.elems,
    dtype: g.dtype,
  };
}

/**
 * The reward step of a batch the core relabelled: gathers the relabelled rows' next achieved
 * goals and new goals, calls `computeReward` once, checks what it returns, and writes the
 * rewards into the batch's reward field. Throws, leaving the stored transitions as they were
 * (only this batch is lost), {@link DtypeError} when it returns anything but a Float32Array,
 * {@link ShapeError} for one of another length, {@link OutOfRangeError} for a reward that is
 * not finite; an error thrown by `computeReward` itself propagates as thrown. @internal
 */
export function relabelRewards(her: ResolvedHer, batch: Record<string, AnyTypedArray>, relabelled: Uint8Array): void {
  let n = 0;
  for (let i = 0; i < relabelled.length; i++) n += relabelled[i];
  if (n === 0) return;
  const e = her.elems;
  const goals = batch[her.goalName], nexts = batch[her.nextName];
  const ctor = DTYPES[her.dtype].ctor as unknown as new (n: number) => AnyTypedArray;
  const desired = new ctor(n * e), achieved = new ctor(n * e);
  const rows = new Int32Array(n);
  for (let i = 0, j = 0; i < relabelled.length; i++) {
    if (!relabelled[i]) continue;
    rows[j] = i;
    (desired as Float32Array).set((goals as Float32Array).subarray(i * e, (i + 1) * e), j * e);
    (achieved as Float32Array).set((nexts as Float32Array).subarray(i * e, (i + 1) * e), j * e);
    j++;
  }
  const r: unknown = her.computeReward(achieved, desired, n);
  if (typedArrayTag(r) !== DTYPES.float32.tag)
    throw new DtypeError(`her.computeReward must return a Float32Array of ${n} rewards, got ${describe(r)}`);
  const rewards = r as Float32Array;
  if (rewards.length !== n) throw new ShapeError(`her.computeReward must return ${n} rewards (one per relabelled row), got ${rewards.length}`);
  for (let j = 0; j < n; j++)
    if (!Number.isFinite(rewards[j])) throw new OutOfRangeError(`her.computeReward returned a reward that is not finite (${rewards[j]}) at relabelled row ${j}`);
  const out = batch[her.rewardName] as Float32Array | Float64Array;
  for (let j = 0; j < n; j++) out[rows[j]] = rewards[j];
}
