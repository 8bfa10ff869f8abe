/**
 * CartPole-v1, written from its published dynamics.
 *
 * Sources:
 * - A. G. Barto, R. S. Sutton and C. W. Anderson, "Neuronlike adaptive elements
 *   that can solve difficult learning control problems", IEEE Transactions on
 *   Systems, Man, and Cybernetics SMC-13(5):834-846, 1983.
 * - Gymnasium's `gymnasium/envs/classic_control/cartpole.py` (CartPole-v1):
 *   constants, Euler integration, termination thresholds, reward and
 *   initial-state distribution are reproduced exactly; the 500-step limit is
 *   Gymnasium's `TimeLimit` wrapper registered for CartPole-v1.
 *
 * The internal state is kept in float64, as in Gymnasium; observations are
 * returned as float32.
 *
 * @module
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/** Gravitational acceleration, m/s². */
export const GRAVITY = 9.8;
/** Mass of the cart, kg. */
export const MASS_CART = 1.0;
/** Mass of the pole, kg. */
export const MASS_POLE = 0.1;
/** Half the pole's length (distance from pivot to centre of mass), m. */
export const HALF_POLE_LENGTH = 0.5;
/** Magnitude of the horizontal force applied to the cart, N. */
export const FORCE_MAG = 10.0;
/** Integration time step, s. */
export const TAU = 0.02;
/** The episode terminates when |theta| exceeds this angle, rad (12 degrees). */
export const THETA_THRESHOLD = (12 * 2 * Math.PI) / 360;
/** The episode terminates when |x| exceeds this distance from the centre, m. */
export const X_THRESHOLD = 2.4;
/** The episode is truncated after this many steps (CartPole-v1 time limit). */
export const MAX_EPISODE_STEPS = 500;
/** Half-width of the uniform distribution of each initial state variable. */
export const INIT_STATE_BOUND = 0.05;

const TOTAL_MASS = MASS_POLE + MASS_CART;
const POLEMASS_LENGTH = MASS_POLE * HALF_POLE_LENGTH;

/** Action of the cart: 0 pushes left (-FORCE_MAG), 1 pushes right (+FORCE_MAG). */
export type CartPoleAction = 0 | 1;

/** Result of {@link CartPole.step}. */
export interface CartPoleStep {
  /**
   * Observation after the step, `[x, xDot, theta, thetaDot]`:
   * cart position (m), cart velocity (m/s), pole angle from vertical (rad,
   * positive clockwise) and pole angular velocity (rad/s).
   */
  obs: Float32Array;
  /** 1.0 on every step, including the terminating one. */
  reward: number;
  /** True when |theta| > {@link THETA_THRESHOLD} or |x| > {@link X_THRESHOLD}. */
  terminated: boolean;
  /** True when the episode reached {@link MAX_EPISODE_STEPS} steps. */
  truncated: boolean;
}

/**
 * The cart-pole balancing task (CartPole-v1): a pole hinged on a cart moving
 * along a frictionless track; keep the pole upright by pushing the cart left
 * or right.
 *
 * Call {@link CartPole.reset} before the first {@link CartPole.step} and again
 * after each episode ends (terminated or truncated).
 */
export class CartPole {
  /** Length of an observation vector. */
  readonly obsDim = 4;
  /** Number of discrete actions. */
  readonly numActions = 2;

  private readonly rng: JumpableRandomGenerator;
  private x = 0;
  private xDot = 0;
  private theta = 0;
  private thetaDot = 0;
  private steps = 0;
  private done = true;

  /**
   * @param seed - Seed of the generator used by {@link CartPole.reset}; two
   *   environments with the same seed produce the same sequence of episodes.
   */
  constructor(seed: number) {
    this.rng = xoroshiro128plus(seed);
  }

  /**
   * Starts a new episode: each of x (m), xDot (m/s), theta (rad) and
   * thetaDot (rad/s) is drawn uniformly from [-0.05, 0.05).
   *
   * @returns The initial observation `[x, xDot, theta, thetaDot]`.
   */
  reset(): Float32Array {
    this.x = this.uniformInit();
    this.xDot = this.uniformInit();
    this.theta = this.uniformInit();
    this.thetaDot = this.uniformInit();
    this.steps = 0;
    this.done = false;
    return this.observe();
  }

  /**
   * Applies `action` for one time step of {@link TAU} seconds (explicit Euler).
   *
   * @param action - 0 pushes the cart left, 1 pushes it right.
   * @throws Error if the episode has ended and {@link CartPole.reset} was not called.
   */
  step(action: CartPoleAction): CartPoleStep {
    if (this.done) throw new Error('CartPole.step called on a finished episode; call reset() first');
    this.integrate(action === 1 ? FORCE_MAG : -FORCE_MAG);
    this.steps += 1;
    const terminated =
      this.x < -X_THRESHOLD || this.x > X_THRESHOLD || this.theta < -THETA_THRESHOLD || this.theta > THETA_THRESHOLD;
    const truncated = this.steps >= MAX_EPISODE_STEPS;
    this.done = terminated || truncated;
    return { obs: this.observe(), reward: 1.0, terminated, truncated };
  }

  /** One Euler step of the Barto-Sutton-Anderson equations of motion, as in Gymnasium. */
  private integrate(force: number): void {
    const cosTheta = Math.cos(this.theta);
    const sinTheta = Math.sin(this.theta);
    const temp = (force + POLEMASS_LENGTH * this.thetaDot * this.thetaDot * sinTheta) / TOTAL_MASS;
    const thetaAcc =
      (GRAVITY * sinTheta - cosTheta * temp) /
      (HALF_POLE_LENGTH * (4.0 / 3.0 - (MASS_POLE * cosTheta * cosTheta) / TOTAL_MASS));
    const xAcc = temp - (POLEMASS_LENGTH * thetaAcc * cosTheta) / TOTAL_MASS;
    this.x += TAU * this.xDot;
    this.xDot += TAU * xAcc;
    this.theta += TAU * this.thetaDot;
    this.thetaDot += TAU * thetaAcc;
  }

  private uniformInit(): number {
    return -INIT_STATE_BOUND + 2 * INIT_STATE_BOUND * uniformFloat64(this.rng);
  }

  private observe(): Float32Array {
    return Float32Array.of(this.x, this.xDot, this.theta, this.thetaDot);
  }
}
