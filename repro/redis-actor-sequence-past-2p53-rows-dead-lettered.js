// An actor started near 2^53 - 1 (firstSequence) keeps sending after its numbers run out: push resolves, the
// learner dead-letters the entries ('sequence number beyond 2^53 - 1'), and past 2^53 a double cannot count by one.
// Run: node repro/redis-actor-sequence-past-2p53-rows-dead-lettered.js  (expect the third push refused with OutOfRangeError)
const { startRedis } = require('../scripts/redis-server.js');
const { RedisActor } = require('../dist/lib/redis');
(async () => { const r = await startRedis({}); const schema = { x: { shape: [], dtype: 'float64' } };
 const a = new RedisActor({ url: r.url, stream: 's', actorId: 'a', schema, flushRows: 1, firstSequence: Number.MAX_SAFE_INTEGER - 1 });
 for (let i = 0; i < 3; i++) { console.log('seq', a.sequence ?? a.nextSequence); await a.push({ x: i }).then(() => console.log('ok'), (e) => console.log(e.message)); }
 await a.close(); await r.stop(); })();
