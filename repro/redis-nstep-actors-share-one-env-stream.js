// Two RedisActors into a learner buffer with nStep: each actor runs its own episodes, but
// RedisIngest pushes every entry with env 0, so the two actors' rows are chained into one
// episode stream and a sampled n-step return adds rewards of the other actor's episode.
// Run: node repro/redis-nstep-actors-share-one-env-stream.js
'use strict';
const { startRedis } = require('../scripts/redis-server.js');
const { ReplayBuffer } = require('../dist/lib');
const { RedisActor, RedisIngest } = require('../dist/lib/redis');
(async () => {
  const r = await startRedis({});
  const schema = { obs: { shape: [], dtype: 'float32' }, nextObs: { shape: [], dtype: 'float32' }, reward: { shape: [], dtype: 'float32' }, terminated: { shape: [], dtype: 'bool' }, truncated: { shape: [], dtype: 'bool' } };
  const rb = new ReplayBuffer({ capacity: 64, fields: schema, seed: 1, nStep: { n: 3, gamma: 1 } });
  const ingest = new RedisIngest(rb, { url: r.url, stream: 's', group: 'g', consumer: 'c' });
  await ingest.start();
  // Actor A: rewards 1 (obs 100..), actor B: rewards 1000 (obs 200..); neither episode ends.
  const a = new RedisActor({ url: r.url, stream: 's', group: 'g', actorId: 'A', schema, flushRows: 1 });
  const b = new RedisActor({ url: r.url, stream: 's', group: 'g', actorId: 'B', schema, flushRows: 1 });
  for (let i = 0; i < 4; i++) {
    await a.push({ obs: 100 + i, nextObs: 101 + i, reward: 1, terminated: false, truncated: false });
    await b.push({ obs: 200 + i, nextObs: 201 + i, reward: 1000, terminated: false, truncated: false });
  }
  await a.flush(); await b.flush();
  for (let t = 0; t < 100 && rb.length < 8; t++) await new Promise((res) => setTimeout(res, 20));
  const s = rb.sample(8);
  let mixed = 0;
  for (let i = 0; i < 8; i++) { const fromA = s.obs[i] < 200; const rwd = s.reward[i]; if ((fromA && rwd >= 1000) || (!fromA && rwd % 1000 !== 0)) mixed++; }
  console.log('obs', Array.from(s.obs).join(' '));
  console.log('n-step reward', Array.from(s.reward).join(' '));
  console.log(mixed ? `DEFECT: ${mixed}/8 n-step returns mix two actors' episodes` : 'ok: no return mixes actors');
  await a.close(); await b.close(); await ingest.stop(); rb.close(); await r.stop();
})().catch((e) => { console.error(e); process.exit(1); });
