/**
 * A CartPole actor for `npm run demo -- --actors N`: a worker thread that steps its own
 * CartPole-v1 with an epsilon-greedy policy (the learner's latest Q-network, run here in plain
 * JavaScript: a 4-64-64-2 MLP costs microseconds a step) and pushes its transitions into the
 * learner's replay buffer through a `ReplayWriter`.
 *
 * Protocol: workerData `{ handle, seed, control, maxSteps, epsilon, env? }`; `control` is an
 * Int32Array over a SharedArrayBuffer: [0] environment steps taken by all actors, [1] the
 * steps the learner has trained on so far, [2] 1 to stop. An actor keeps at most `slack`
 * steps ahead of the learner (it waits on control[1]), so that training keeps its ratio of
 * gradient steps to environment steps. Messages in: `{ weights }` (the online network, as
 * DqnAgent.getWeights gives it). Messages out: `{ episodeReturn }` per finished episode,
 * `{ done: true }` at the end.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { ReplayWriter, type WriterHandle } from 'replaykit';
import { CartPole, type CartPoleAction } from './cartpole';

interface ActorData {
  handle: WriterHandle;
  seed: number;
  control: SharedArrayBuffer;
  maxSteps: number;
  /** Steps an actor may be ahead of what the learner has trained on. */
  slack: number;
  epsilon: { start: number; end: number; decaySteps: number };
  /** The actor's env stream (n-step buffers, which keep episodes per stream); absent otherwise. */
  env?: number;
}

/** Greedy action of a ReLU MLP given as [kernel (in x out, row-major), bias, ...]. */
export function greedyAction(weights: readonly Float32Array[], obs: Float32Array): CartPoleAction {
  let h: Float32Array = obs;
  for (let l = 0; l < weights.length; l += 2) {
    const kernel = weights[l], bias = weights[l + 1];
    const out = new Float32Array(bias);
    const inDim = h.length, outDim = bias.length;
    for (let i = 0; i < inDim; i++) {
      const x = h[i];
      if (x === 0) continue;
      for (let j = 0; j < outDim; j++) out[j] += x * kernel[i * outDim + j];
    }
    if (l + 2 < weights.length) for (let j = 0; j < outDim; j++) out[j] = Math.max(0, out[j]);
    h = out;
  }
  return (h[1] > h[0] ? 1 : 0) as CartPoleAction;
}

async function run(): Promise<void> {
  const data = workerData as ActorData;
  const control = new Int32Array(data.control);
  const writer = ReplayWriter.attach(data.handle);
  const rng = xoroshiro128plus(data.seed);
  const env = new CartPole(data.seed);
  let weights: Float32Array[] | null = null;
  parentPort!.on('message', (m: { weights?: Float32Array[] }) => {
    if (m.weights) weights = m.weights;
  });
  const CHUNK = 32;
  const cols = {
    obs: new Float32Array(CHUNK * 4), action: new Int32Array(CHUNK), reward: new Float32Array(CHUNK),
    nextObs: new Float32Array(CHUNK * 4), terminated: new Uint8Array(CHUNK), truncated: new Uint8Array(CHUNK),
  };
  const { start, end, decaySteps } = data.epsilon;
  let obs = env.reset();
  let episodeReturn = 0;
  for (;;) {
    // Wait while this actor would run too far ahead of the learner (or until told to stop).
    while (Atomics.load(control, 2) === 0 && Atomics.load(control, 0) - Atomics.load(control, 1) >= data.slack)
      await new Promise((resolve) => setTimeout(resolve, 1));
    if (Atomics.load(control, 2) !== 0) break;
    let n = 0;
    for (; n < CHUNK; n++) {
      const step = Atomics.add(control, 0, 1) + 1;
      if (step > data.maxSteps) break;
      const eps = start + Math.min(1, step / decaySteps) * (end - start);
      const action = weights === null || uniformFloat64(rng) < eps ? (uniformInt(rng, 0, 1) as CartPoleAction) : greedyAction(weights, obs);
      const r = env.step(action);
      cols.obs.set(obs, n * 4);
      cols.action[n] = action;
      cols.reward[n] = r.reward;
      cols.nextObs.set(r.obs, n * 4);
      cols.terminated[n] = r.terminated ? 1 : 0;
      cols.truncated[n] = r.truncated ? 1 : 0;
      episodeReturn += r.reward;
      obs = r.obs;
      if (r.terminated || r.truncated) {
        parentPort!.postMessage({ episodeReturn });
        episodeReturn = 0;
        obs = env.reset();
      }
    }
    if (n > 0) {
      const part = (a: Float32Array | Int32Array | Uint8Array, elems: number) => a.subarray(0, n * elems);
      const columns = {
        obs: part(cols.obs, 4) as Float32Array, action: part(cols.action, 1) as Int32Array, reward: part(cols.reward, 1) as Float32Array,
        nextObs: part(cols.nextObs, 4) as Float32Array, terminated: part(cols.terminated, 1) as Uint8Array, truncated: part(cols.truncated, 1) as Uint8Array,
      };
      // n-step buffers keep an env stream per actor (data.env), so that episodes never mix.
      if (data.env === undefined) writer.pushBatch(columns);
      else writer.pushBatch(columns, { env: data.env });
    }
    if (n < CHUNK) break; // the step budget is spent
    await new Promise((resolve) => setImmediate(resolve)); // take new weights
  }
  writer.close();
  parentPort!.postMessage({ done: true });
}

if (parentPort) void run();
