// Two RedisActors whose actorIds are different strings, each with a lone surrogate
// ('\uD800' and '\uDC00'), both encode to the UTF-8 bytes EF BF BD ('\uFFFD'): the learner sees
// one actor, and the second actor's entries (sequence numbers already applied for the
// first) are skipped as duplicates: rows silently lost.
// Run: node repro/redis-lone-surrogate-actor-ids-collide-rows-lost.js
'use strict';
const { startRedis } = require('../scripts/redis-server.js');
const { ReplayBuffer } = require('../dist/lib');
const { RedisActor, RedisIngest } = require('../dist/lib/redis');
(async () => {
  const r = await startRedis({});
  const schema = { x: { shape: [], dtype: 'float64' } };
  const rb = new ReplayBuffer({ capacity: 64, fields: schema, seed: 1 });
  const ingest = new RedisIngest(rb, { url: r.url, stream: 's', group: 'g', consumer: 'c' });
  await ingest.start();
  let made = 0;
  const actors = [];
  for (const actorId of ['\uD800', '\uDC00']) {
    try { actors.push(new RedisActor({ url: r.url, stream: 's', group: 'g', actorId, schema, flushRows: 1 })); made++; }
    catch (e) { console.log('refused actorId', JSON.stringify(actorId), e.constructor.name, e.message); }
  }
  for (const [k, a] of actors.entries()) for (let i = 0; i < 3; i++) await a.push({ x: k * 100 + i });
  for (const a of actors) await a.flush();
  for (let t = 0; t < 50 && rb.length < 3 * made; t++) await new Promise((res) => setTimeout(res, 20));
  await new Promise((res) => setTimeout(res, 200));
  console.log('actors made', made, 'rows sent', 3 * made, 'rows in buffer', rb.length, 'stats', JSON.stringify(ingest.stats));
  console.log(rb.length === 3 * made ? 'ok: nothing lost' : `DEFECT: ${3 * made - rb.length} rows lost (skipped as duplicates)`);
  for (const a of actors) await a.close();
  await ingest.stop(); rb.close(); await r.stop();
})().catch((e) => { console.error(e); process.exit(1); });
