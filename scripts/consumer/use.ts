// A consumer of the packed package, as a user's project would write it. scripts/check-package.js
// copies it into a fresh project that installed the tarball, as use.mts (an ES module: `import`
// resolves to dist/lib/esm.mjs) and as use.cts (CommonJS: compiled to `require`, resolving to
// dist/lib/index.js), type-checks both under `strict` and runs them. It touches every public
// API; each `@ts-expect-error` line is a compile error that must stay one (tsc fails on an
// unused `@ts-expect-error`).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  Archive,
  ArchiveError,
  DtypeError,
  EpochIterator,
  OutOfRangeError,
  PrioritizedReplayBuffer,
  RateLimitError,
  ReplayBuffer,
  ReplayError,
  ShapeError,
  StateError,
  StorageError,
  openArchive,
} from 'replaykit';
import type { Batch, Dtype, DtypeArrayMap, FieldsSpec, PrioritizedBatch, RateLimiter, RateLimiterOptions, RateLimiterStats, RateWaitOptions, StorageOptions, TopBatch, TransitionFields } from 'replaykit';

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-consumer-'));
  try {
    // --- the shorthand schema, uniform replay
    const rb = new ReplayBuffer({ capacity: 64, obsShape: [4], actionDtype: 'int32', seed: 1 });
    const obs = new Float32Array([0, 1, 2, 3]);
    assert.equal(rb.push({ obs, action: 1, reward: 1, nextObs: [1, 2, 3, 4], terminated: false, truncated: false }), 0);
    // @ts-expect-error a misspelt field in push
    assert.throws(() => rb.push({ obs, action: 1, rewrd: 1, nextObs: obs, terminated: false, truncated: false }), ShapeError);
    const n = 40;
    rb.pushBatch({
      obs: new Float32Array(n * 4).fill(1),
      action: Int32Array.from({ length: n }, (_, i) => i % 2),
      reward: new Float32Array(n).fill(0.5),
      nextObs: new Float32Array(n * 4),
      terminated: new Uint8Array(n),
      truncated: new Uint8Array(n),
    });
    assert.equal(rb.length, 41);
    assert.equal(rb.capacity, 64);
    assert.equal(rb.seed, 1);
    assert.ok(rb.isReady(32));
    const b = rb.sample(8);
    const bObs: Float32Array = b.obs;
    const bAction: Int32Array = b.action;
    const bDone: Uint8Array = b.terminated;
    const bIdx: Float64Array = b.indices;
    // @ts-expect-error a float32 field is a Float32Array, not a Float64Array
    const wrong: Float64Array = b.reward;
    void wrong;
    // @ts-expect-error a misspelt field of a batch
    void b.nextobs;
    assert.ok(bObs instanceof Float32Array && bObs.length === 32);
    assert.ok(bAction instanceof Int32Array && bDone instanceof Uint8Array && bIdx instanceof Float64Array);
    const again = rb.sample(8, { out: b });
    assert.equal(again.obs, b.obs);
    const state = rb.getRngState();
    const x = rb.sample(4);
    rb.setRngState(state);
    assert.deepEqual(rb.sample(4), x);
    assert.deepEqual(rb.schema.obs, { shape: [4], dtype: 'float32' });

    // --- epochs and indexed reads
    let rows = 0;
    for (const e of rb.epochs({ batchSize: 16, epochs: 2 })) rows += e.reward.length;
    assert.equal(rows, 82);
    const it: EpochIterator<Batch<TransitionFields<'float32', 'int32'>>> = rb.createEpochIterator({ batchSize: 10, shuffle: false });
    assert.equal(it.next().value?.reward.length, 10);
    assert.equal(rb.calculateNumBatches(10), 4);
    const steps = rb.getStepsAndIterator({ nEpochs: 1, maxIter: 100, batchSize: 10 });
    for (let s = 0; s < steps; s++) rb.getNextBatch();
    assert.equal(rb.sampleByIndex([0, 40]).action.length, 2);
    const some = rb.sampleByIndexFields([1, 2], ['obs']);
    assert.equal(some.obs.length, 8);
    // @ts-expect-error a field that was not asked for
    void some.reward;
    assert.equal(rb.sampleAll().indices.length, 41);

    // --- an explicit schema: every dtype comes back as its typed array
    const img = new ReplayBuffer({
      capacity: 16,
      seed: 7,
      fields: {
        frame: { shape: [2, 3], dtype: 'uint8' },
        q: { shape: [], dtype: 'float64' },
        id: { shape: [], dtype: 'int64' },
        done: { shape: [], dtype: 'bool' },
      },
    });
    img.push({ frame: new Uint8Array(6).fill(9), q: 0.25, id: 12n, done: true });
    img.pushBatch({ frame: new Uint8Array(12), q: [0.5, 0.75], id: [12n, 12], done: [false, true] });
    const ib = img.sample(3);
    const frame: Uint8Array = ib.frame;
    const q: Float64Array = ib.q;
    const id: BigInt64Array = ib.id;
    const done: Uint8Array = ib.done;
    assert.ok(frame instanceof Uint8Array && q instanceof Float64Array && id instanceof BigInt64Array && done instanceof Uint8Array);
    assert.equal(id[0], 12n);
    // @ts-expect-error a uint8 field is a Uint8Array
    const notF32: Float32Array = ib.frame;
    void notF32;
    assert.throws(() => img.push({ frame: new Float32Array(6) as never, q: 0, id: 0, done: false }), DtypeError);
    img[Symbol.dispose]();
    assert.ok(img.closed);

    // --- prioritized replay
    const per = new PrioritizedReplayBuffer({ capacity: 32, obsShape: [4], actionDtype: 'int32', alpha: 0.6, betaStart: 0.4, seed: 3 });
    for (let i = 0; i < 20; i++) per.push({ obs, action: i % 2, reward: i, nextObs: obs, terminated: false, truncated: false }, { priority: 1 + i });
    const pb: PrioritizedBatch<TransitionFields<'float32', 'int32'>> = per.sample(8);
    const weights: Float32Array = pb.weights;
    assert.ok(weights.every((w) => w > 0 && w <= 1));
    assert.equal(per.updatePriorities(pb.indices, new Float32Array(8).fill(0.5)), 8);
    const top: TopBatch<TransitionFields<'float32', 'int32'>> = per.top(3);
    assert.equal(top.priorities.length, 3);
    assert.ok(per.beta >= 0.4 && per.totalPriority > 0 && per.maxPriority >= per.minPriority);

    // --- storage: tiered and mmap, files removed by close()
    const tieredPath = path.join(dir, 'cold.rkb');
    const storage: StorageOptions = { type: 'tiered', hotCapacity: 4, path: tieredPath };
    const tiered = new ReplayBuffer({ capacity: 16, obsShape: [4], seed: 2, storage });
    assert.ok(fs.existsSync(tieredPath));
    assert.throws(() => new ReplayBuffer({ capacity: 16, obsShape: [4], seed: 2, storage }), StorageError);
    tiered.pushBatch({ obs: new Float32Array(80), action: new Float32Array(20), reward: new Float32Array(20), nextObs: new Float32Array(80), terminated: new Uint8Array(20), truncated: new Uint8Array(20) });
    assert.equal(tiered.sampleAll().obs.length, 64);
    tiered.close();
    assert.ok(!fs.existsSync(tieredPath));
    assert.throws(() => tiered.sample(1), StateError);
    const mm = new ReplayBuffer({ capacity: 8, obsShape: [2], seed: 2, storage: { type: 'mmap', path: path.join(dir, 'all.rkb') } });
    mm.close();

    // --- the rate limiter
    const limits: RateLimiterOptions = { minSize: 2, samplesPerInsert: 1 };
    const rl = new ReplayBuffer({ capacity: 16, obsShape: [2], seed: 4, rateLimiter: limits });
    const wait: RateWaitOptions = { timeoutMs: 10_000 };
    const waiting = rl.sampleAsync(2, wait);
    await rl.pushBatchAsync({ obs: new Float32Array(4), action: new Float32Array(2), reward: new Float32Array(2), nextObs: new Float32Array(4), terminated: new Uint8Array(2), truncated: new Uint8Array(2) });
    assert.equal((await waiting).indices.length, 2);
    const limiter: RateLimiter | null = rl.rateLimiter;
    const stats: RateLimiterStats | undefined = limiter?.stats;
    assert.equal(stats?.samples, 2);
    await assert.rejects(rl.sampleAsync(1, { signal: AbortSignal.abort() }), RateLimitError);
    assert.equal(rb.rateLimiter, null);
    rl.close();

    // --- archives
    const ckpt = path.join(dir, 'per.rkb');
    await per.save(ckpt, { onProgress: () => {} });
    const loaded = await PrioritizedReplayBuffer.load<TransitionFields<'float32', 'int32'>>(ckpt);
    assert.deepEqual(loaded.sample(8), per.sample(8));
    per.saveSync(path.join(dir, 'per2.rkb'));
    const any = ReplayBuffer.loadSync(path.join(dir, 'per2.rkb'));
    assert.equal(any.length, 20);
    const fresh = await ReplayBuffer.load(path.join(dir, 'missing.rkb'), { ifMissing: 'empty', capacity: 8, obsShape: [2], seed: 1 });
    assert.equal(fresh.length, 0);
    const a: Archive<TransitionFields<'float32', 'int32'>> = openArchive(ckpt);
    const aObs: Float32Array = a.field('obs');
    assert.equal(a.length, 20);
    assert.equal(aObs.length, 80);
    // @ts-expect-error a misspelt field of an archive
    assert.throws(() => a.field('ob'), ShapeError);
    a.close();
    fs.writeFileSync(path.join(dir, 'junk.rkb'), 'not an archive');
    assert.throws(() => openArchive(path.join(dir, 'junk.rkb')), ArchiveError);

    // --- errors
    assert.throws(() => new ReplayBuffer({ capacity: 0, obsShape: [4] }), OutOfRangeError);
    try {
      rb.sample(0);
      assert.fail('sample(0) must throw');
    } catch (e) {
      assert.ok(e instanceof ReplayError && e instanceof OutOfRangeError && typeof e.code === 'string');
    }
    for (const buf of [rb, per, loaded, any, fresh]) buf.close();

    // Types only: the dtype map and a generic helper over any schema.
    const firstField = <F extends FieldsSpec>(batch: Batch<F>, name: keyof F & string) => batch[name];
    void firstField;
    const dtypes: { [D in Dtype]: DtypeArrayMap[D] } = {
      float32: new Float32Array(0), float64: new Float64Array(0), int32: new Int32Array(0),
      int64: new BigInt64Array(0), uint8: new Uint8Array(0), bool: new Uint8Array(0),
    };
    void dtypes;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => console.log('consumer ok'),
  (e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  },
);
