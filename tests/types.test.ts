/**
 * Type tests: what IDEs and `tsc` see of the public API. The `expectTypeOf` assertions and
 * the `@ts-expect-error` lines are checked by `npm run typecheck` (tsc over tests/, which
 * fails on an assertion that does not hold and on an unused `@ts-expect-error`); jest runs the
 * same code, so the runtime classes are checked against the types too.
 */
import { expectTypeOf } from 'expect-type';
import {
  Archive,
  EpochIterator,
  openArchive,
  PrioritizedReplayBuffer,
  ReplayBuffer,
} from 'replaykit';
import type {
  Batch,
  Columns,
  DtypeArrayMap,
  FieldSpec,
  PrioritizedBatch,
  StorageOptions,
  TopBatch,
  Transition,
  TransitionFields,
} from 'replaykit';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const fields = {
  obs: { shape: [4, 8, 8], dtype: 'uint8' },
  action: { shape: [], dtype: 'int32' },
  reward: { shape: [], dtype: 'float32' },
  value: { shape: [], dtype: 'float64' },
  step: { shape: [], dtype: 'int64' },
  done: { shape: [], dtype: 'bool' },
} as const;

describe('typed batches', () => {
  test('each dtype comes back as its typed array, in the types and at run time', () => {
    const rb = new ReplayBuffer({ capacity: 8, seed: 1, fields });
    rb.push({ obs: new Uint8Array(256), action: 1, reward: 0.5, value: 2, step: 3n, done: true });
    const b = rb.sample(1);
    expectTypeOf(b.obs).toEqualTypeOf<Uint8Array>();
    expectTypeOf(b.action).toEqualTypeOf<Int32Array>();
    expectTypeOf(b.reward).toEqualTypeOf<Float32Array>();
    expectTypeOf(b.value).toEqualTypeOf<Float64Array>();
    expectTypeOf(b.step).toEqualTypeOf<BigInt64Array>();
    expectTypeOf(b.done).toEqualTypeOf<Uint8Array>();
    expectTypeOf(b.indices).toEqualTypeOf<Float64Array>();
    expectTypeOf(b).toEqualTypeOf<Batch<typeof fields>>();
    expect(b.obs).toBeInstanceOf(Uint8Array);
    expect(b.action).toBeInstanceOf(Int32Array);
    expect(b.reward).toBeInstanceOf(Float32Array);
    expect(b.value).toBeInstanceOf(Float64Array);
    expect(b.step).toBeInstanceOf(BigInt64Array);
    expect(b.done).toBeInstanceOf(Uint8Array);
    expect(b.indices).toBeInstanceOf(Float64Array);
    // @ts-expect-error a uint8 field is not a Float32Array
    const f32: Float32Array = b.obs;
    // @ts-expect-error a float32 field is not a Float64Array
    const f64: Float64Array = b.reward;
    void f32, void f64;
    rb.close();
  });

  test('the shorthand schema follows obsDtype, actionDtype and extraFields', () => {
    const rb = new ReplayBuffer({ capacity: 8, obsShape: [4], actionDtype: 'int32', extraFields: { logProb: { shape: [], dtype: 'float64' } }, seed: 1 });
    expectTypeOf(rb).toEqualTypeOf<ReplayBuffer<TransitionFields<'float32', 'int32', { readonly logProb: { readonly shape: readonly []; readonly dtype: 'float64' } }>>>();
    rb.push({ obs: [1, 2, 3, 4], action: 1, reward: 1, nextObs: [1, 2, 3, 4], terminated: false, truncated: true, logProb: -0.5 });
    const b = rb.sample(1);
    expectTypeOf(b.obs).toEqualTypeOf<Float32Array>();
    expectTypeOf(b.nextObs).toEqualTypeOf<Float32Array>();
    expectTypeOf(b.action).toEqualTypeOf<Int32Array>();
    expectTypeOf(b.terminated).toEqualTypeOf<Uint8Array>();
    expectTypeOf(b.logProb).toEqualTypeOf<Float64Array>();
    expect(b.logProb).toBeInstanceOf(Float64Array);
    const images = new ReplayBuffer({ capacity: 4, obsShape: [2, 2], obsDtype: 'uint8', seed: 1 });
    expectTypeOf(images.sample).returns.toHaveProperty('obs').toEqualTypeOf<Uint8Array>();
    expectTypeOf(images.sample).returns.toHaveProperty('action').toEqualTypeOf<Float32Array>();
    images.close();
    rb.close();
  });

  test('a misspelt or unknown field is a compile error', () => {
    const rb = new ReplayBuffer({ capacity: 8, obsShape: [4], actionDtype: 'int32', seed: 1 });
    const t = { obs: [0, 0, 0, 0], action: 0, reward: 0, nextObs: [0, 0, 0, 0], terminated: false, truncated: false };
    rb.push(t);
    // @ts-expect-error misspelt field in push
    expect(() => rb.push({ ...t, rewrd: 1 })).toThrow();
    const { reward: _omitted, ...missing } = t;
    // @ts-expect-error a missing field in push
    expect(() => rb.push(missing)).toThrow();
    const b = rb.sample(1);
    // @ts-expect-error misspelt field of a batch
    expect(b.nextobs).toBeUndefined();
    expectTypeOf(b).not.toHaveProperty('nextobs');
    expectTypeOf(b).not.toHaveProperty('weights');
    const some = rb.sampleByIndexFields([0], ['obs', 'action']);
    expectTypeOf(some).toEqualTypeOf<Pick<typeof b, 'obs' | 'action' | 'indices'>>();
    // @ts-expect-error a field that was not asked for
    expect(some.reward).toBeUndefined();
    // @ts-expect-error an unknown field name
    expect(() => rb.sampleByIndexFields([0], ['ob'])).toThrow();
    rb.close();
  });

  test('push and pushBatch take the values each dtype allows', () => {
    type F = typeof fields;
    expectTypeOf<Transition<F>['step']>().toEqualTypeOf<bigint | number | BigInt64Array | ArrayLike<bigint | number>>();
    expectTypeOf<Transition<F>['done']>().toEqualTypeOf<boolean | number | Uint8Array | ArrayLike<boolean | number>>();
    expectTypeOf<Columns<F>['reward']>().toEqualTypeOf<Float32Array | ArrayLike<number>>();
    expectTypeOf<Columns<F>['step']>().toEqualTypeOf<BigInt64Array | ArrayLike<bigint | number>>();
    expectTypeOf<DtypeArrayMap['bool']>().toEqualTypeOf<Uint8Array>();
    expectTypeOf<FieldSpec<'int64'>['dtype']>().toEqualTypeOf<'int64'>();
    const rb = new ReplayBuffer({ capacity: 8, seed: 1, fields: { x: { shape: [], dtype: 'float32' } } });
    // @ts-expect-error a string is no float32 value
    expect(() => rb.push({ x: 'one' })).toThrow();
    // @ts-expect-error strings are no float32 column
    expect(() => rb.pushBatch({ x: ['a', 'b'] })).toThrow();
    rb.pushBatch({ x: [1, 2] });
    expect(rb.length).toBe(2);
    rb.close();
  });
});

describe('prioritized replay', () => {
  test('batches add weights, top adds priorities', () => {
    const per = new PrioritizedReplayBuffer({ capacity: 8, obsShape: [2], actionDtype: 'int32', seed: 1 });
    type F = TransitionFields<'float32', 'int32'>;
    expectTypeOf(per).toEqualTypeOf<PrioritizedReplayBuffer<F>>();
    per.push({ obs: [0, 0], action: 0, reward: 0, nextObs: [0, 0], terminated: false, truncated: false }, { priority: 2 });
    const b = per.sample(1);
    expectTypeOf(b).toEqualTypeOf<PrioritizedBatch<F>>();
    expectTypeOf(b.weights).toEqualTypeOf<Float32Array>();
    expect(b.weights).toBeInstanceOf(Float32Array);
    expectTypeOf(per.top(1)).toEqualTypeOf<TopBatch<F>>();
    expectTypeOf(per.top(1).priorities).toEqualTypeOf<Float64Array>();
    expectTypeOf(per.updatePriorities).parameters.toEqualTypeOf<[Float64Array | readonly number[], Float32Array | Float64Array | readonly number[]]>();
    expectTypeOf(per.updatePriorities).returns.toEqualTypeOf<number>();
    // @ts-expect-error the option is `priority`
    expect(() => per.push({ obs: [0, 0], action: 0, reward: 0, nextObs: [0, 0], terminated: false, truncated: false }, { prio: 1 })).not.toThrow();
    expectTypeOf(per.epochs({ batchSize: 1 })).toEqualTypeOf<EpochIterator<PrioritizedBatch<F>>>();
    per.close();
  });
});

describe('options, archives and loading', () => {
  test('storage options are a closed union; archives and loads keep their schema', async () => {
    expectTypeOf<{ type: 'tiered'; hotCapacity: number; path: string }>().toExtend<StorageOptions>();
    expectTypeOf<{ type: 'mmap' }>().not.toExtend<StorageOptions>();
    expectTypeOf<{ type: 'disk'; path: string }>().not.toExtend<StorageOptions>();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-types-'));
    try {
      const rb = new ReplayBuffer({ capacity: 4, seed: 1, fields });
      rb.push({ obs: new Uint8Array(256), action: 1, reward: 0.5, value: 2, step: 3n, done: true });
      const file = path.join(dir, 'a.rkb');
      expectTypeOf(rb.save).returns.toEqualTypeOf<Promise<void>>();
      await rb.save(file);
      const a = openArchive<typeof fields>(file);
      expectTypeOf(a).toEqualTypeOf<Archive<typeof fields>>();
      expectTypeOf(a.field('step')).toEqualTypeOf<BigInt64Array>();
      expect(a.field('step')).toBeInstanceOf(BigInt64Array);
      // @ts-expect-error a field the schema does not have
      expect(() => a.field('steps')).toThrow();
      a.close();
      const back = await ReplayBuffer.load<typeof fields>(file);
      expectTypeOf(back.sample(1).value).toEqualTypeOf<Float64Array>();
      expectTypeOf(PrioritizedReplayBuffer.loadSync<typeof fields>).returns.toEqualTypeOf<PrioritizedReplayBuffer<typeof fields>>();
      back.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
