import { OutOfRangeError, PrioritizedReplayBuffer, ReplayBuffer, ShapeError, StateError } from 'replaykit';
import { checkRow, columns, idOf } from './helpers';

const standard = (capacity: number, seed = 1) =>
  new ReplayBuffer({ capacity, obsShape: [4], actionShape: [], actionDtype: 'int32', seed });

/** Ids of every row of a list of batches, one array per batch. */
const idsOf = (batches: { reward: Float32Array }[]) => batches.map((b) => Array.from(b.reward, (r) => Math.round(r * 2)));

describe('epoch iteration', () => {
  test.each([
    [10, 3, false],
    [10, 3, true],
    [12, 4, false],
    [12, 4, true],
    [5, 8, false],
    [5, 8, true],
  ])('length %i, batchSize %i, dropLast %s: each epoch covers every item exactly once', (length, batchSize, dropLast) => {
    const rb = standard(16, 3);
    rb.pushBatch(columns(0, length));
    for (const shuffle of [true, false]) {
      const batches = [...rb.epochs({ batchSize, epochs: 3, shuffle, dropLast })];
      const perEpoch = dropLast ? rb.calculateNumBatches(batchSize) : Math.ceil(length / batchSize);
      expect(batches).toHaveLength(3 * perEpoch);
      expect(rb.calculateNumBatches(batchSize)).toBe(Math.floor(length / batchSize));
      for (let e = 0; e < 3; e++) {
        const epoch = batches.slice(e * perEpoch, (e + 1) * perEpoch);
        epoch.forEach((b, k) => {
          const full = k < Math.floor(length / batchSize);
          expect(b.indices.length).toBe(full ? batchSize : length % batchSize);
          for (let i = 0; i < b.indices.length; i++) expect(checkRow(b, i)).toBe(b.indices[i]);
        });
        const ids = idsOf(epoch).flat().sort((a, b) => a - b);
        if (dropLast) {
          expect(new Set(ids).size).toBe(ids.length); // no repeats
          expect(ids).toHaveLength(perEpoch * batchSize);
        } else {
          expect(ids).toEqual(Array.from({ length }, (_, i) => i));
        }
      }
    }
  });

  test('shuffle: false visits the items oldest first, across the ring wrap', () => {
    const rb = standard(6);
    rb.pushBatch(columns(0, 9)); // ids 3..8 remain, oldest is 3
    expect(idsOf([...rb.epochs({ batchSize: 4, shuffle: false })])).toEqual([[3, 4, 5, 6], [7, 8]]);
  });

  test('each epoch is a fresh permutation, and the same seed gives the same epochs', () => {
    const run = (seed: number) => {
      const rb = standard(100, seed);
      rb.pushBatch(columns(0, 100));
      return idsOf([...rb.epochs({ batchSize: 100, epochs: 2 })]);
    };
    const [e1, e2] = run(7);
    expect(e1).not.toEqual(e2);
    expect(e1).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(run(7)).toEqual([e1, e2]);
    expect(run(8)[0]).not.toEqual(e1);
  });

  test('pushing during an epoch: new items wait for the next epoch, overwritten ones are skipped, rows are never mixed up', () => {
    const rb = standard(10, 5);
    rb.pushBatch(columns(0, 10));
    const it = rb.epochs({ batchSize: 3, epochs: 2 });
    const first = it.next();
    if (first.done) throw new Error('no batch');
    const seenBeforePush = new Set(idsOf([first.value])[0]);
    rb.pushBatch(columns(10, 4)); // ids 10..13 overwrite ids 0..3
    const rest: number[] = [];
    let epochTwo: number[] = [];
    for (let r = it.next(); !r.done; r = it.next()) {
      for (let i = 0; i < r.value.indices.length; i++) checkRow(r.value, i);
      (it.epoch === 1 ? rest : epochTwo).push(...idsOf([r.value])[0]);
    }
    const epochOne = [...seenBeforePush, ...rest];
    expect(new Set(epochOne).size).toBe(epochOne.length); // each at most once
    for (const id of rest) expect(id).toBeGreaterThanOrEqual(4); // 0..3 were overwritten before being read
    for (const id of rest) expect(id).toBeLessThan(10); // 10..13 were not stored when the epoch began
    expect(new Set(epochOne)).toEqual(new Set([...seenBeforePush, ...[4, 5, 6, 7, 8, 9]]));
    epochTwo = epochTwo.sort((a, b) => a - b);
    expect(epochTwo).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  });

  test('clear() during an epoch ends it', () => {
    const rb = standard(10);
    rb.pushBatch(columns(0, 10));
    const it = rb.epochs({ batchSize: 4 });
    expect(it.next().done).toBe(false);
    rb.clear();
    expect(it.next().done).toBe(true);
  });

  test('an empty buffer gives no batches; bad options throw', () => {
    const rb = standard(10);
    expect([...rb.epochs({ batchSize: 4, epochs: 3 })]).toEqual([]);
    expect(() => rb.epochs({ batchSize: 0 })).toThrow(OutOfRangeError);
    expect(() => rb.epochs({ batchSize: 2, epochs: -1 })).toThrow(OutOfRangeError);
    expect(() => rb.epochs({ batchSize: 2, shuffle: 'yes' as never })).toThrow(OutOfRangeError);
    expect(() => rb.epochs(undefined as never)).toThrow(OutOfRangeError);
    expect(() => rb.calculateNumBatches(0)).toThrow(OutOfRangeError);
  });
});

describe('ObjectRL-style iteration', () => {
  test('createEpochIterator and getNextBatch', () => {
    const rb = standard(20, 2);
    rb.pushBatch(columns(0, 20));
    expect(() => rb.getNextBatch()).toThrow(StateError);
    rb.createEpochIterator({ batchSize: 5, nEpochs: 2 });
    const ids: number[] = [];
    for (let k = 0; k < 8; k++) ids.push(...idsOf([rb.getNextBatch()])[0]);
    expect(ids.slice(0, 20).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(ids.slice(20).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(() => rb.getNextBatch()).toThrow(StateError);
  });

  test('getStepsAndIterator: nEpochs * batches per epoch, then exactly that many batches', () => {
    const rb = standard(32, 2);
    rb.pushBatch(columns(0, 25));
    expect(rb.calculateNumBatches(10)).toBe(2);
    const steps = rb.getStepsAndIterator({ nEpochs: 2, maxIter: 100, batchSize: 10 });
    expect(steps).toBe(6); // 10 + 10 + 5 per epoch
    const sizes = Array.from({ length: steps }, () => rb.getNextBatch().indices.length);
    expect(sizes).toEqual([10, 10, 5, 10, 10, 5]);
    expect(() => rb.getNextBatch()).toThrow(StateError);
    expect(rb.getStepsAndIterator({ nEpochs: 2, maxIter: 100, batchSize: 10, dropLast: true })).toBe(4);
  });

  test('nEpochs: 0 makes no iterator: getNextBatch samples at random, maxIter steps', () => {
    const rb = standard(32, 9);
    const twin = standard(32, 9);
    rb.pushBatch(columns(0, 25));
    twin.pushBatch(columns(0, 25));
    expect(rb.getStepsAndIterator({ nEpochs: 0, maxIter: 7, batchSize: 16 })).toBe(7);
    for (let k = 0; k < 7; k++) expect(rb.getNextBatch()).toEqual(twin.sample(16));
    expect(rb.getNextBatch().indices).toHaveLength(16); // random mode does not run out
    expect(() => rb.getStepsAndIterator({ nEpochs: 0, maxIter: -1, batchSize: 16 })).toThrow(OutOfRangeError);
  });
});

describe('indexed reads', () => {
  test('sampleByIndex: 0 is the oldest stored item, length - 1 the newest', () => {
    const rb = standard(6);
    rb.pushBatch(columns(0, 9)); // ids 3..8
    const b = rb.sampleByIndex([0, 5, 2, 2]);
    expect(idsOf([b])[0]).toEqual([3, 8, 5, 5]);
    for (let i = 0; i < 4; i++) expect(checkRow(b, i)).toBe(b.indices[i]); // indices are item keys
    expect(idsOf([rb.sampleByIndex(Float64Array.from([1]))])[0]).toEqual([4]);
    expect(rb.sampleByIndex([]).indices).toHaveLength(0);
    for (const bad of [[6], [-1], [1.5], [NaN]]) expect(() => rb.sampleByIndex(bad)).toThrow(OutOfRangeError);
    expect(() => rb.sampleByIndex(['1'] as never)).toThrow(OutOfRangeError);
  });

  test('sampleByIndexFields returns only the named fields', () => {
    const rb = standard(8);
    rb.pushBatch(columns(0, 5));
    const b = rb.sampleByIndexFields([4, 0], ['reward', 'action']);
    expect(Object.keys(b).sort()).toEqual(['action', 'indices', 'reward']);
    expect(Array.from(b.reward)).toEqual([2, 0]);
    expect(Array.from(b.action)).toEqual([4, 0]);
    expect(() => rb.sampleByIndexFields([0], ['rewards' as never])).toThrow(ShapeError);
  });

  test('sampleAll reads every item oldest first', () => {
    const rb = standard(5);
    rb.pushBatch(columns(0, 7));
    const all = rb.sampleAll();
    expect(idsOf([all])[0]).toEqual([2, 3, 4, 5, 6]);
    expect(all.obs).toHaveLength(20);
    rb.clear();
    expect(rb.sampleAll().indices).toHaveLength(0);
  });
});

describe('on a prioritized buffer', () => {
  const make = (eviction: 'fifo' | 'lowest-priority' = 'fifo') =>
    new PrioritizedReplayBuffer({ capacity: 8, obsShape: [4], actionDtype: 'int32', seed: 4, eviction, alpha: 1 });

  test('epochs and indexed reads ignore priorities, carry weights of 1, and give indices for updatePriorities', () => {
    const per = make();
    per.pushBatch(columns(0, 8), { priorities: [100, 1, 1, 1, 1, 1, 1, 0.001] });
    const batches = [...per.epochs({ batchSize: 8 })];
    expect(batches).toHaveLength(1);
    expect(Array.from(batches[0].weights)).toEqual(new Array(8).fill(1));
    expect(idsOf(batches)[0].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(per.updatePriorities(batches[0].indices, new Array(8).fill(2))).toBe(8);
    expect(per.minPriority).toBeCloseTo(2, 5);
    const byIndex = per.sampleByIndex([7]);
    expect(Array.from(byIndex.weights)).toEqual([1]);
    expect(idOf(byIndex, 0)).toBe(7);
    expect(per.sampleAll().weights).toHaveLength(8);
    per.createEpochIterator({ batchSize: 4, nEpochs: 1 });
    expect(Array.from(per.getNextBatch().weights)).toEqual([1, 1, 1, 1]);
  });

  test('positions follow insertion order under lowest-priority eviction', () => {
    const per = make('lowest-priority');
    per.pushBatch(columns(0, 8), { priorities: [5, 1, 5, 5, 5, 5, 5, 5] });
    per.pushBatch(columns(8, 1), { priorities: [9] }); // replaces id 1 in its slot
    expect(idsOf([per.sampleAll()])[0]).toEqual([0, 2, 3, 4, 5, 6, 7, 8]);
    expect(idsOf([...per.epochs({ batchSize: 8, shuffle: false })])[0]).toEqual([0, 2, 3, 4, 5, 6, 7, 8]);
  });
});
