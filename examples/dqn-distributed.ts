/**
 * Distributed DQN on CartPole-v1 through Redis Streams (`npm run demo:distributed`): actor
 * processes step their own environments with the latest published policy and send their
 * transitions with `RedisActor`; the learner ingests them into a prioritized buffer with
 * `RedisIngest`, trains the DQN of examples/dqn-cartpole.ts on them, and publishes its
 * weights back through a Redis key the actors poll (the Ape-X arrangement: Horgan et al.,
 * "Distributed Prioritized Experience Replay", ICLR 2018, with one learner and few actors).
 *
 * The learner starts a local redis-server on a free loopback port (scripts/redis-server.js:
 * Debian's `redis-server` package; as root it is installed with apt-get when missing,
 * otherwise the script says how to install it), or uses `--url`. The replay ratio of the
 * single-process demo is kept by backpressure: an actor waits while the learner lags more
 * than a few entries behind, which it does while it trains.
 *
 * Usage: `node dist/examples/dqn-distributed.js [--actors N] [--steps N] [--seed N] [--url redis://...]`
 * Progress goes to stderr; the last line of stdout is the JSON summary of the demo plus
 * `actors` and `ingestedRows`.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { PrioritizedReplayBuffer } from 'replaykit';
import { RedisActor, RedisIngest } from '../lib/redis/index';
import { close, connect, type Connection } from '../lib/redis/client';
import { CartPole, type CartPoleAction } from './cartpole';
import { DqnAgent, evaluate, HYPERPARAMS, type Weights } from './dqn-cartpole';

const SCHEMA = {
  obs: { shape: [4], dtype: 'float32' },
  action: { shape: [], dtype: 'int32' },
  reward: { shape: [], dtype: 'float32' },
  nextObs: { shape: [4], dtype: 'float32' },
  terminated: { shape: [], dtype: 'bool' },
  truncated: { shape: [], dtype: 'bool' },
} as const;

/** Rows per stream entry, and how many entries an actor may be ahead of the learner. */
const ENTRY_ROWS = 32;
const MAX_LAG = 4;
/** Environment steps between an actor's polls of the published weights. */
const POLL_STEPS = 128;

interface Options {
  role: 'learner' | 'actor';
  actors: number;
  steps: number;
  seed: number;
  url?: string;
  stream: string;
  actorId: number;
}

function parseCli(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      role: { type: 'string', default: 'learner' },
      actors: { type: 'string', default: '2' },
      steps: { type: 'string', default: '80000' },
      seed: { type: 'string', default: '1' },
      url: { type: 'string' },
      'actor-id': { type: 'string', default: '0' },
      stream: { type: 'string', default: `dqn-distributed:${process.pid}` },
    },
  });
  const o: Options = {
    role: values.role as Options['role'],
    actors: Number(values.actors),
    steps: Number(values.steps),
    seed: Number(values.seed),
    url: values.url,
    actorId: Number(values['actor-id']),
    stream: values.stream as string,
  };
  if ((o.role !== 'learner' && o.role !== 'actor') || !(o.actors >= 1) || !(o.steps > 0) || !Number.isInteger(o.seed)) {
    process.stderr.write('usage: dqn-distributed [--actors N] [--steps N] [--seed N] [--url redis://host:port]\n');
    process.exit(2);
  }
  return o;
}

const keys = (stream: string) => ({ weights: `${stream}:weights`, stop: `${stream}:stop` });

/** Weights as one binary value (the arrays back to back), and back. */
function packWeights(w: Weights): Buffer {
  return Buffer.concat(w.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
}
function unpackWeights(b: Buffer, like: Weights): Weights {
  let at = 0;
  return like.map((a) => {
    const out = new Float32Array(a.length);
    new Uint8Array(out.buffer).set(b.subarray(at, at + out.byteLength));
    at += out.byteLength;
    return out;
  });
}

// ---------------------------------------------------------------------------
// Actor process
// ---------------------------------------------------------------------------

async function runActor(o: Options, stream: string): Promise<void> {
  await tf.setBackend('cpu');
  tf.enableProdMode();
  const seed = o.seed * 1000 + o.actorId;
  const env = new CartPole(seed);
  const agent = new DqnAgent(env.obsDim, env.numActions, o.seed); // replaced by the learner's weights
  const rng = xoroshiro128plus(seed);
  const actor = new RedisActor({ url: o.url, stream, actorId: `cartpole-${o.actorId}`, schema: SCHEMA, flushRows: ENTRY_ROWS, flushMs: 200, maxLag: MAX_LAG, group: 'learner' });
  const conn: Connection = connect({ url: o.url }, 'actor');
  const k = keys(stream);
  let obs = env.reset();
  let version = '';
  for (let step = 0; ; step++) {
    if (step % POLL_STEPS === 0) {
      if ((await conn.client.call('GET', k.stop)) !== null) break;
      const [v, w] = (await conn.client.callBuffer('MGET', `${k.weights}:version`, k.weights)) as (Buffer | null)[];
      if (v && w && v.toString() !== version) {
        version = v.toString();
        agent.setWeights(unpackWeights(w, agent.getWeights()));
      }
    }
    // Exploration by the whole run's steps (this actor's times the actors'), as the single-process demo's schedule.
    const global = step * o.actors;
    const { epsilonStart, epsilonEnd, epsilonDecaySteps } = HYPERPARAMS;
    const epsilon = epsilonStart + Math.min(1, global / epsilonDecaySteps) * (epsilonEnd - epsilonStart);
    const action = (uniformFloat64(rng) < epsilon ? uniformInt(rng, 0, 1) : agent.actGreedy(obs, 1)[0]) as CartPoleAction;
    const r = env.step(action);
    await actor.push({ obs, action, reward: r.reward, nextObs: r.obs, terminated: r.terminated, truncated: r.truncated });
    obs = r.terminated || r.truncated ? env.reset() : r.obs;
  }
  await actor.close();
  await close(conn);
  agent.dispose();
}

// ---------------------------------------------------------------------------
// Learner process
// ---------------------------------------------------------------------------

function seedsFrom(seed: number) {
  const rng = xoroshiro128plus(seed);
  const draw = (n: number) => Array.from({ length: n }, () => rng.next());
  return { network: rng.next(), buffer: rng.next(), screen: draw(HYPERPARAMS.evalEpisodes), confirm: draw(HYPERPARAMS.confirmEpisodes), final: draw(HYPERPARAMS.evalEpisodes) };
}

async function runLearner(o: Options): Promise<void> {
  const started = performance.now();
  await tf.setBackend('cpu');
  tf.enableProdMode();
  let server: { url: string; stop(): Promise<void> } | undefined;
  if (!o.url) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startRedis } = require(path.join(__dirname, '..', '..', 'scripts', 'redis-server.js'));
    server = await startRedis({ appendonly: false });
    o.url = server!.url;
  }
  const stream = o.stream;
  const k = keys(stream);
  const seeds = seedsFrom(o.seed);
  const agent = new DqnAgent(4, 2, seeds.network);
  const expectedUpdates = Math.max(1, ((o.steps - HYPERPARAMS.learningStarts) * HYPERPARAMS.gradientSteps) / HYPERPARAMS.trainFreq);
  const buffer = new PrioritizedReplayBuffer({ capacity: HYPERPARAMS.bufferCapacity, fields: SCHEMA, seed: seeds.buffer, ...HYPERPARAMS.per, betaFrames: Math.round(expectedUpdates) });
  const ingest = new RedisIngest(buffer, { url: o.url, stream, group: 'learner', consumer: 'learner', acknowledge: 'applied', blockMs: 20 });
  await ingest.start();
  const conn = connect({ url: o.url }, 'learner');
  let version = 0;
  const publish = async () => {
    version++;
    await conn.client.callBuffer('MSET', k.weights, packWeights(agent.getWeights()), `${k.weights}:version`, String(version));
  };
  await publish();
  const children: ChildProcess[] = [];
  for (let i = 0; i < o.actors; i++) {
    const args = [__filename, '--role', 'actor', '--actor-id', String(i), '--actors', String(o.actors), '--seed', String(o.seed), '--url', o.url, '--stream', stream];
    children.push(spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] }));
  }
  const screenEnvs = seeds.screen.map((s) => new CartPole(s));
  const confirmEnvs = seeds.confirm.map((s) => new CartPole(s));
  let best = -Infinity;
  let bestWeights: Weights | undefined;
  let trainedAt = 0;
  let lastLog = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1)); // the ingest runs here
    const rows = ingest.stats.rows;
    if (rows >= o.steps) break;
    if (rows < HYPERPARAMS.learningStarts || rows - trainedAt < HYPERPARAMS.trainFreq) continue;
    trainedAt += HYPERPARAMS.trainFreq * Math.floor((rows - trainedAt) / HYPERPARAMS.trainFreq);
    for (let i = 0; i < HYPERPARAMS.gradientSteps; i++) {
      const batch = buffer.sample(HYPERPARAMS.batchSize);
      const td = agent.trainStep(batch, HYPERPARAMS.batchSize);
      buffer.updatePriorities(batch.indices, td);
    }
    await publish();
    let score = evaluate(agent, screenEnvs);
    const promising = score >= HYPERPARAMS.screenReturn;
    if (promising) score = evaluate(agent, confirmEnvs);
    if (score > best || !bestWeights) {
      best = score;
      bestWeights = agent.getWeights();
    }
    if (rows - lastLog >= 2000) {
      lastLog = rows;
      process.stderr.write(`ingested ${rows} rows | updates ${agent.trainSteps} | best eval ${best.toFixed(1)}\n`);
    }
    if (promising && score >= HYPERPARAMS.stopReturn) break;
  }
  await conn.client.call('SET', k.stop, '1');
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
  await ingest.stop();
  if (bestWeights) agent.setWeights(bestWeights);
  const evalMeanReturn = evaluate(agent, seeds.final.map((s) => new CartPole(s)));
  const summary = {
    env: 'CartPole-v1',
    buffer: 'prioritized',
    trainSteps: agent.trainSteps,
    evalEpisodes: HYPERPARAMS.evalEpisodes,
    evalMeanReturn,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    actors: o.actors,
    ingestedRows: ingest.stats.rows,
  };
  buffer.close();
  agent.dispose();
  await close(conn);
  await server?.stop();
  process.stdout.write(JSON.stringify(summary) + '\n');
}

async function main(): Promise<void> {
  const o = parseCli(process.argv.slice(2));
  if (o.role === 'actor') {
    if (!o.url) throw new Error('an actor needs --url');
    await runActor(o, o.stream);
  } else {
    await runLearner(o);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
