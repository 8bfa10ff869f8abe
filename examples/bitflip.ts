/**
 * Bit flipping, the goal-conditioned task of the HER paper (M. Andrychowicz et al.,
 * "Hindsight Experience Replay", NeurIPS 2017, section 3.1; also stable-baselines3's
 * `BitFlippingEnv`): the state is n bits, the goal another n bits, an action flips one bit,
 * the reward is -1 on every step whose next state is not the goal and 0 on the step that
 * reaches it (which terminates the episode), and an episode is truncated after n steps.
 * Goals and starts are uniform over {0,1}^n, so with n = 15 a random policy meets its goal
 * in about one episode in 2^15 / 15: without relabelling, rewards are all -1 and a DQN
 * learns nothing.
 *
 * The achieved goal is the state itself; the reward is a function of the achieved and the
 * desired goal only ({@link bitFlipReward}), as HER requires.
 *
 * @module
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

/** One step's result. */
export interface BitFlipStep {
  /** The state after the step (= the achieved goal), 0/1 as float32. */
  state: Float32Array;
  /** 0 when the state reached the goal, else -1. */
  reward: number;
  /** The goal was reached. */
  terminated: boolean;
  /** n steps were taken without reaching it. */
  truncated: boolean;
}

/**
 * The reward of reaching `achieved` when `desired` is the goal, for `n` rows of `bits` each
 * (row-major 0/1 values): 0 where every bit matches, else -1. Vectorised, as replaykit's
 * `her.computeReward` takes it.
 */
export function bitFlipReward(achieved: ArrayLike<number>, desired: ArrayLike<number>, n: number, bits: number): Float32Array {
  const r = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let same = true;
    for (let b = i * bits; same && b < (i + 1) * bits; b++) same = achieved[b] === desired[b];
    r[i] = same ? 0 : -1;
  }
  return r;
}

/** The bit-flipping environment of `bits` bits, seeded. */
export class BitFlip {
  readonly state: Float32Array;
  readonly goal: Float32Array;
  readonly numActions: number;
  private rng: RandomGenerator;
  private steps = 0;

  constructor(
    readonly bits: number,
    seed: number,
  ) {
    this.state = new Float32Array(bits);
    this.goal = new Float32Array(bits);
    this.numActions = bits;
    this.rng = xoroshiro128plus(seed);
  }

  /** A new episode: a uniform start and a uniform goal that differs from it. */
  reset(): void {
    this.steps = 0;
    do {
      for (let b = 0; b < this.bits; b++) {
        this.state[b] = uniformInt(this.rng, 0, 1);
        this.goal[b] = uniformInt(this.rng, 0, 1);
      }
    } while (this.state.every((v, b) => v === this.goal[b]));
  }

  /** Flips bit `action`. */
  step(action: number): BitFlipStep {
    if (!Number.isInteger(action) || action < 0 || action >= this.bits) throw new RangeError(`action must be an integer in [0, ${this.bits}), got ${action}`);
    this.state[action] = 1 - this.state[action];
    this.steps += 1;
    const reward = bitFlipReward(this.state, this.goal, 1, this.bits)[0];
    const terminated = reward === 0;
    return { state: this.state.slice(), reward, terminated, truncated: !terminated && this.steps >= this.bits };
  }
}
