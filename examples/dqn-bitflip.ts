/**
 * DQN on bit flipping (examples/bitflip.ts) with replaykit's hindsight relabelling: the
 * demo's `--env bitflip [--her] [--bits N]` (`npm run demo -- --env bitflip --her`).
 *
 * The agent is the CartPole demo's DqnAgent (examples/dqn-cartpole.ts) on the input
 * [state, goal] with one Q-value per bit, trained as in the HER paper's bit-flipping
 * experiment (Andrychowicz et al. 2017, section 4.1 and appendix A): cycles of 16 episodes
 * collected with epsilon-greedy exploration, then 40 gradient steps on batches of 128,
 * targets clipped to [-1 / (1 - gamma), 0]. With `--her` the buffer relabels 80% of each
 * batch (option `her`, strategy 'future', k = 4: SB3's defaults) with goals achieved later
 * in the same episode, their rewards from {@link bitFlipReward}. Without it every reward
 * the agent sees is -1 and it learns nothing.
 *
 * Termination. Bit flipping terminates exactly when the goal is reached, so the demo takes
 * `done` of every sampled row as `reward === 0` (for a relabelled row, whether its
 * transition reached its new goal): replaykit keeps `terminated` as stored, as SB3 does,
 * and leaves what termination means under a new goal to the task.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { ReplayBuffer } from 'replaykit';
import { BitFlip, bitFlipReward } from './bitflip';
import type { AgentConfig, CliOptions } from './dqn-cartpole';
import { DqnAgent } from './dqn-cartpole';

/** Default number of bits (the HER paper's figure 1 goes up to 50; 15 is where DQN alone fails). */
export const BITFLIP_DEFAULT_BITS = 15;
/** Default budget of environment steps (training stops early once the success rate reaches 0.95). */
export const BITFLIP_DEFAULT_STEPS = 20_000;

/** Hyperparameters of the bit-flipping run. */
export const BITFLIP_HYPERPARAMS = {
  agent: { hidden: [256], learningRate: 1e-3, gamma: 0.98, targetUpdateInterval: 40, maxGradNorm: 10 },
  batchSize: 128,
  bufferCapacity: 1_000_000,
  /** Episodes collected per cycle, in lock-step (one forward pass a step for all). */
  episodesPerCycle: 16,
  /** Gradient steps per cycle. */
  gradientSteps: 40,
  /** Exploration: a random bit with this probability (the HER paper's DQN uses 0.2). */
  epsilon: 0.2,
  /** Cycles between greedy evaluations. */
  evalEvery: 10,
  /** Episodes of each evaluation. */
  evalEpisodes: 100,
  /** Training stops once an evaluation's success rate reaches this. */
  stopSuccess: 0.95,
  /** Episodes of the final evaluation (fresh seeds). */
  finalEpisodes: 500,
  her: { strategy: 'future' as const, k: 4 },
};

/** What the summary reports. */
export interface BitFlipSummary {
  env: string;
  her: boolean;
  bits: number;
  envSteps: number;
  episodes: number;
  trainSteps: number;
  successRate: number;
  seconds: number;
}

type Fields = {
  achievedGoal: { shape: number[]; dtype: 'float32' };
  nextAchievedGoal: { shape: number[]; dtype: 'float32' };
  goal: { shape: number[]; dtype: 'float32' };
  action: { shape: []; dtype: 'int32' };
  reward: { shape: []; dtype: 'float32' };
  terminated: { shape: []; dtype: 'bool' };
  truncated: { shape: []; dtype: 'bool' };
};

/** Rows of [state, goal], the network's input. */
function inputs(states: Float32Array, goals: Float32Array, n: number, bits: number): Float32Array {
  const x = new Float32Array(n * 2 * bits);
  for (let i = 0; i < n; i++) {
    x.set(states.subarray(i * bits, (i + 1) * bits), i * 2 * bits);
    x.set(goals.subarray(i * bits, (i + 1) * bits), i * 2 * bits + bits);
  }
  return x;
}

/** Greedy episodes in lock-step; returns the share that reached their goal. */
function successRate(agent: DqnAgent, envs: BitFlip[]): number {
  const bits = envs[0].bits;
  for (const e of envs) e.reset();
  let live = envs.slice();
  let reached = 0;
  while (live.length > 0) {
    const states = new Float32Array(live.length * bits), goals = new Float32Array(live.length * bits);
    live.forEach((e, i) => (states.set(e.state, i * bits), goals.set(e.goal, i * bits)));
    const actions = agent.actGreedy(inputs(states, goals, live.length, bits), live.length);
    const next: BitFlip[] = [];
    live.forEach((e, i) => {
      const r = e.step(actions[i]);
      if (r.terminated) reached++;
      else if (!r.truncated) next.push(e);
    });
    live = next;
  }
  return reached / envs.length;
}

/** Trains DQN on bit flipping (with HER when `opts.her`) and returns the summary. */
export async function trainBitFlip(opts: CliOptions): Promise<BitFlipSummary> {
  const started = performance.now();
  const H = BITFLIP_HYPERPARAMS;
  const bits = opts.bits;
  const seeds = xoroshiro128plus(opts.seed);
  const seed = () => seeds.next() & 0x7fffffff;
  const gamma = H.agent.gamma;
  const config: AgentConfig = { ...H.agent, targetClip: [-1 / (1 - gamma), 0] };
  const agent = new DqnAgent(2 * bits, bits, seed(), config);
  const shape = [bits];
  const buffer = new ReplayBuffer<Fields>({
    capacity: H.bufferCapacity,
    seed: seed(),
    episodes: true,
    fields: {
      achievedGoal: { shape, dtype: 'float32' }, nextAchievedGoal: { shape, dtype: 'float32' }, goal: { shape, dtype: 'float32' },
      action: { shape: [], dtype: 'int32' }, reward: { shape: [], dtype: 'float32' }, terminated: { shape: [], dtype: 'bool' }, truncated: { shape: [], dtype: 'bool' },
    },
    ...(opts.her && {
      her: { goal: 'goal', achievedGoal: 'achievedGoal', nextAchievedGoal: 'nextAchievedGoal', ...H.her, computeReward: (a, d, n) => bitFlipReward(a as Float32Array, d as Float32Array, n, bits) },
    }),
  });
  const rng = xoroshiro128plus(seed());
  const envs = Array.from({ length: H.episodesPerCycle }, () => new BitFlip(bits, seed()));
  const evalEnvs = Array.from({ length: H.evalEpisodes }, () => new BitFlip(bits, seed()));
  const finalEnvs = Array.from({ length: H.finalEpisodes }, () => new BitFlip(bits, seed()));
  let envSteps = 0, episodes = 0, cycles = 0, lastRate = 0;
  const B = H.batchSize;
  while (envSteps < opts.steps) {
    // Collect: every env one episode, in lock-step; each env is its own env stream.
    for (const e of envs) e.reset();
    let live = envs.map((_, i) => i);
    while (live.length > 0) {
      const states = new Float32Array(live.length * bits), goals = new Float32Array(live.length * bits);
      live.forEach((k, i) => (states.set(envs[k].state, i * bits), goals.set(envs[k].goal, i * bits)));
      const greedy = agent.actGreedy(inputs(states, goals, live.length, bits), live.length);
      const next: number[] = [];
      live.forEach((k, i) => {
        const action = uniformFloat64(rng) < H.epsilon ? uniformInt(rng, 0, bits - 1) : greedy[i];
        const r = envs[k].step(action);
        buffer.push(
          { achievedGoal: states.subarray(i * bits, (i + 1) * bits), nextAchievedGoal: r.state, goal: goals.subarray(i * bits, (i + 1) * bits), action, reward: r.reward, terminated: r.terminated, truncated: r.truncated },
          { env: k },
        );
        envSteps++;
        if (!r.terminated && !r.truncated) next.push(k);
      });
      live = next;
    }
    episodes += envs.length;
    // Train.
    for (let g = 0; g < H.gradientSteps && buffer.length >= B; g++) {
      const b = buffer.sample(B);
      const done = new Uint8Array(B);
      for (let i = 0; i < B; i++) done[i] = b.reward[i] === 0 ? 1 : 0; // bit flipping ends exactly at the goal
      agent.trainStep(
        { obs: inputs(b.achievedGoal, b.goal, B, bits), nextObs: inputs(b.nextAchievedGoal, b.goal, B, bits), action: b.action, reward: b.reward, terminated: done },
        B,
      );
    }
    cycles++;
    if (cycles % H.evalEvery === 0) {
      lastRate = successRate(agent, evalEnvs);
      process.stderr.write(`bitflip ${bits} bits${opts.her ? ' + HER' : ''}: ${envSteps} steps, ${episodes} episodes, success ${lastRate.toFixed(2)}\n`);
      if (lastRate >= H.stopSuccess) break;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const summary: BitFlipSummary = {
    env: `BitFlip-${bits}`,
    her: opts.her,
    bits,
    envSteps,
    episodes,
    trainSteps: agent.trainSteps,
    successRate: successRate(agent, finalEnvs),
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  buffer.close();
  agent.dispose();
  tf.disposeVariables();
  return summary;
}
