// A learner in its own process, for the fault tests: loads its buffer from ARCHIVE (or starts
// empty), feeds it from the stream with RedisIngest (acknowledge: 'saved'), saves ARCHIVE every
// SAVE_MS milliseconds, and prints {"length", "saves", ...} after each save. On SIGTERM it
// stops the ingest, saves once more and exits 0.
// Usage: node learner.js URL STREAM GROUP CONSUMER ARCHIVE CAPACITY SAVE_MS
'use strict';
const { ReplayBuffer } = require('../../../dist/lib/index.js');
const { RedisIngest } = require('../../../dist/lib/redis/index.js');
const { SCHEMA } = require('./schema.js');

async function main() {
  const [url, stream, group, consumer, archive, capacity, saveMs] = process.argv.slice(2);
  const buffer = ReplayBuffer.loadSync(archive, { ifMissing: 'empty', capacity: Number(capacity), fields: SCHEMA, seed: 1 });
  const resumed = buffer.length;
  const ingest = new RedisIngest(buffer, { url, stream, group, consumer, batchEntries: 8, blockMs: 50, onError: (e) => process.stderr.write(`learner: ${e.message}\n`) });
  await ingest.start();
  let saves = 0;
  let stopping = false;
  const report = () => process.stdout.write(JSON.stringify({ length: buffer.length, saves, resumed, ...ingest.stats }) + '\n');
  const timer = setInterval(() => {
    if (stopping) return;
    buffer.saveSync(archive);
    saves++;
    report();
  }, Number(saveMs));
  process.on('SIGTERM', async () => {
    stopping = true;
    clearInterval(timer);
    await ingest.stop();
    buffer.saveSync(archive);
    saves++;
    report();
    buffer.close();
    process.exit(0);
  });
}
main().catch((e) => {
  process.stderr.write(`learner: ${e.stack}\n`);
  process.exit(1);
});
