// A remote actor in its own process, for the fault tests (tests/redis/faults.test.ts): sends
// rows first .. first+count-1 of the tests' schema (tests/redis/schema.js) with push(), one
// row at a time, and prints {"acked": rows} each time Redis acknowledged an entry.
// Usage: node actor.js URL STREAM ACTOR_ID FIRST COUNT FLUSH_ROWS [PAUSE_EVERY_ROWS]
'use strict';
const { RedisActor } = require('../../../dist/lib/redis/index.js');
const { SCHEMA, row } = require('./schema.js');

async function main() {
  const [url, stream, actorId, first, count, flushRows, pauseEvery] = process.argv.slice(2);
  const actor = new RedisActor({ url, stream, actorId, schema: SCHEMA, flushRows: Number(flushRows), flushMs: 0, retryMs: 30_000 });
  let acked = 0;
  for (let i = 0; i < Number(count); i++) {
    await actor.push(row(Number(first) + i));
    if (actor.stats.rows !== acked) {
      acked = actor.stats.rows;
      process.stdout.write(JSON.stringify({ acked }) + '\n');
    }
    // A pause now and then, so that a test can kill this process mid-batch.
    if (pauseEvery && i % Number(pauseEvery) === 0) await new Promise((r) => setTimeout(r, 1));
  }
  await actor.close();
  process.stdout.write(JSON.stringify({ acked: actor.stats.rows, done: true }) + '\n');
}
main().catch((e) => {
  process.stderr.write(`actor: ${e.stack}\n`);
  process.exit(1);
});
