/**
 * A bench actor (bench/actors.ts): a worker thread that pushes MuJoCo-sized batches through a
 * ReplayWriter, on command. Messages from the main thread:
 * - `{ batches }`: push that many batches of `rows` rows, then post 'done'.
 * - `{ check, count }`: push `count` rows whose fields all encode (writer, row number), in
 *   batches of `rows`, then post 'done' (the main thread then checks every row).
 * - `{ forever: true }`: push while `control[0]` is 1 (waiting while it is 0), until it is 2.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ReplayWriter } from '../lib/index';

const { handle, rows, w, control } = workerData as { handle: Parameters<typeof ReplayWriter.attach>[0]; rows: number; w: number; control: SharedArrayBuffer };
const writer = ReplayWriter.attach(handle);
const flag = new Int32Array(control);

/** MuJoCo columns of `n` rows; with `first`, every element of row r encodes id = w * 1e6 + first + r. */
function columns(n: number, first?: number) {
  const c = {
    obs: new Float32Array(n * 17), action: new Float32Array(n * 6), reward: new Float32Array(n), nextObs: new Float32Array(n * 17),
    terminated: new Uint8Array(n), truncated: new Uint8Array(n),
  };
  for (let r = 0; r < n; r++) {
    const id = first === undefined ? Math.random() * 1e6 : w * 1e6 + first + r;
    c.reward[r] = id;
    c.obs.fill(id % 4096, r * 17, (r + 1) * 17);
    c.nextObs.fill((id % 4096) + 1, r * 17, (r + 1) * 17);
    c.action.fill(id % 7, r * 6, (r + 1) * 6);
    c.terminated[r] = id % 2;
    c.truncated[r] = id % 3 === 0 ? 1 : 0;
  }
  return c;
}

const batch = columns(rows);
parentPort!.on('message', (m: { batches?: number; check?: boolean; count?: number; forever?: boolean }) => {
  if (m.batches !== undefined) {
    for (let i = 0; i < m.batches; i++) writer.pushBatch(batch);
  } else if (m.check) {
    for (let at = 0; at < (m.count as number); at += rows) writer.pushBatch(columns(Math.min(rows, (m.count as number) - at), at));
  } else if (m.forever) {
    for (;;) {
      const state = Atomics.load(flag, 0);
      if (state === 2) break;
      if (state === 0) Atomics.wait(flag, 0, 0, 50);
      else writer.pushBatch(batch);
    }
  }
  parentPort!.postMessage('done');
});
parentPort!.postMessage('ready');
