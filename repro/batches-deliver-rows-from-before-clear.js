// batches() with prefetch 4: batches gathered before clear() are handed out after it, with
// rows the buffer no longer holds (and indices of a past generation). Questionable rather
// than a fault: README says prefetched batches are gathered ahead, but not that clear() leaves them.
// Run: node repro/batches-deliver-rows-from-before-clear.js
'use strict';
const { ReplayBuffer } = require('../dist/lib');
(async () => {
  const n = 64;
  const cols = (k, base) => ({ obs: Float32Array.from({ length: k }, (_, i) => base + i), action: new Float32Array(k), reward: new Float32Array(k), nextObs: new Float32Array(k), terminated: new Uint8Array(k), truncated: new Uint8Array(k) });
  const rb = new ReplayBuffer({ capacity: n, obsShape: [1], seed: 3 });
  rb.pushBatch(cols(n, 0));
  const it = rb.batches({ batchSize: 8, prefetch: 4 })[Symbol.asyncIterator]();
  await it.next();
  rb.clear();
  rb.pushBatch(cols(8, 1000));
  for (let i = 0; i < 6; i++) {
    const b = (await it.next()).value;
    const stale = Array.from(b.obs).filter((v) => v < 1000);
    console.log(`batch ${i}: ${stale.length ? 'STALE (cleared) rows ' + stale.join(',') : 'fresh'}`);
  }
  await it.return(); rb.close();
})();
