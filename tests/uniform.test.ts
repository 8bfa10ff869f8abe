import { DtypeError, OutOfRangeError, ReplayBuffer, ReplayError, ShapeError, StateError } from 'replaykit';
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { seedState } from '../lib/buffer/random';
import { CHI2_CRIT_001, checkRow, chiSquare, columns, transition } from './helpers';

const standard = (capacity: number, seed = 1) =>
  new ReplayBuffer({ capacity, obsShape: [4], actionShape: [], actionDtype: 'int32', seed });

describe('uniform replay', () => {
  test('every dtype round-trips exactly, through push and pushBatch', () => {
    const rb = new ReplayBuffer({
      capacity: 64,
      seed: 3,
      fields: {
        id: { shape: [], dtype: 'int32' },
        f32: { shape: [2, 3], dtype: 'float32' },
        f64: { shape: [], dtype: 'float64' },
        i64: { shape: [2], dtype: 'int64' },
        u8: { shape: [3], dtype: 'uint8' },
        flag: { shape: [2], dtype: 'bool' },
      },
    });
    const row = (id: number) => ({
      id,
      f32: Float32Array.from({ length: 6 }, (_, k) => id * 1.5 + k - 1e30 * (k === 5 ? 1 : 0)),
      f64: Math.PI * id + 1e-300,
      i64: BigInt64Array.from([BigInt(id) - 2n ** 63n, 2n ** 63n - 1n - BigInt(id)]),
      u8: Uint8Array.from([id % 256, 255, 0]),
      flag: Uint8Array.from([id % 2, 1]),
    });
    for (let id = 0; id < 20; id++) rb.push(row(id));
    const ids = Array.from({ length: 20 }, (_, k) => 20 + k);
    const cols = {
      id: Int32Array.from(ids),
      f32: new Float32Array(20 * 6),
      f64: new Float64Array(20),
      i64: new BigInt64Array(40),
      u8: new Uint8Array(60),
      flag: new Uint8Array(40),
    };
    ids.forEach((id, r) => {
      const x = row(id);
      cols.f32.set(x.f32, r * 6);
      cols.f64[r] = x.f64;
      cols.i64.set(x.i64, r * 2);
      cols.u8.set(x.u8, r * 3);
      cols.flag.set(x.flag, r * 2);
    });
    rb.pushBatch(cols);
    expect(rb.length).toBe(40);
    const seen = new Set<number>();
    for (let round = 0; round < 20; round++) {
      const b = rb.sample(40);
      expect(b.f32).toBeInstanceOf(Float32Array);
      expect(b.i64).toBeInstanceOf(BigInt64Array);
      for (let i = 0; i < 40; i++) {
        const x = row(b.id[i]);
        seen.add(b.id[i]);
        expect(Array.from(b.f32.subarray(i * 6, i * 6 + 6))).toEqual(Array.from(x.f32));
        expect(b.f64[i]).toBe(x.f64);
        expect(Array.from(b.i64.subarray(i * 2, i * 2 + 2))).toEqual(Array.from(x.i64));
        expect(Array.from(b.u8.subarray(i * 3, i * 3 + 3))).toEqual(Array.from(x.u8));
        expect(Array.from(b.flag.subarray(i * 2, i * 2 + 2))).toEqual(Array.from(x.flag));
      }
    }
    expect(seen.size).toBe(40);
  });

  test('plain values are converted: numbers, booleans, bigints and arrays', () => {
    const rb = new ReplayBuffer({
      capacity: 4,
      seed: 1,
      fields: { a: { shape: [2], dtype: 'float64' }, n: { shape: [], dtype: 'int64' }, b: { shape: [], dtype: 'bool' }, u: { shape: [2], dtype: 'bool' } },
    });
    rb.push({ a: [0.1, 0.2], n: 2n ** 62n, b: true, u: [true, 0] });
    rb.pushBatch({ a: [1, 2], n: [5], b: [false], u: [1, 1] });
    const all = rb.sampleAll(); // oldest first: the push, then the pushBatch row
    expect(Array.from(all.a)).toEqual([0.1, 0.2, 1, 2]);
    expect(Array.from(all.n)).toEqual([2n ** 62n, 5n]);
    expect(Array.from(all.b)).toEqual([1, 0]);
    expect(Array.from(all.u)).toEqual([1, 0, 1, 1]);
  });

  test('bool fields take 0 and 1 only, from typed arrays as from plain values (issue 12.17: one rule)', () => {
    const rb = standard(4);
    const c = columns(0, 3);
    c.terminated.set([0, 7, 255]);
    expect(() => rb.pushBatch(c)).toThrow(OutOfRangeError);
    expect(rb.length).toBe(0);
    c.terminated.set([0, 1, 1]);
    rb.pushBatch(c);
    const b = rb.sample(3);
    for (let i = 0; i < 3; i++) expect(b.terminated[i]).toBe(b.reward[i] === 0 ? 0 : 1);
  });

  test('FIFO: the oldest item is overwritten first, and indices count insertions', () => {
    const rb = standard(5);
    const keys = Array.from({ length: 8 }, (_, id) => rb.push(transition(id)));
    expect(keys).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(rb.length).toBe(5);
    const seen = new Set<number>();
    for (let r = 0; r < 200; r++) {
      const b = rb.sample(5);
      for (let i = 0; i < 5; i++) {
        const id = checkRow(b, i);
        seen.add(id);
        expect(b.indices[i]).toBe(id);
      }
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
  });

  test('pushBatch equals a loop of push, across wraps and batches larger than capacity', () => {
    for (const n of [1, 6, 7, 13, 30]) {
      const batched = standard(7, 9);
      const looped = standard(7, 9);
      batched.pushBatch(columns(100, 3));
      for (let id = 100; id < 103; id++) looped.push(transition(id));
      batched.pushBatch(columns(0, n));
      for (let id = 0; id < n; id++) looped.push(transition(id));
      expect(batched.length).toBe(looped.length);
      for (let r = 0; r < 5; r++) expect(batched.sample(batched.length)).toEqual(looped.sample(looped.length));
    }
  });

  test('the same seed and pushes give the same batches; another seed does not', () => {
    const make = (seed: number) => {
      const rb = standard(1000, seed);
      rb.pushBatch(columns(0, 500));
      return [rb.sample(64), rb.sample(64), rb.sample(64)];
    };
    expect(make(42)).toEqual(make(42));
    expect(make(42)[0].indices).not.toEqual(make(43)[0].indices);
  });

  test('draws are integer arithmetic on the generator words (the same on every platform)', () => {
    const rb = standard(100, 2024);
    rb.pushBatch(columns(0, 100));
    // Reference: two 32-bit words of xoroshiro128+ (seeded by SplitMix64) per draw, index = (w64 * n) >> 64.
    const rng = xoroshiro128plusFromState(seedState(2024));
    const expected = Array.from({ length: 8 }, () => {
      const hi = BigInt(rng.next() >>> 0), lo = BigInt(rng.next() >>> 0);
      return Number((((hi << 32n) | lo) * 100n) >> 64n);
    });
    expect(Array.from(rb.sample(8).indices)).toEqual(expected);
    expect(expected).toEqual([5, 74, 56, 89, 68, 85, 89, 11]); // pinned: a change here breaks everyone's reproducibility
  });

  test('sampling is uniform (chi-square, fixed seed)', () => {
    const rb = standard(10, 5);
    rb.pushBatch(columns(0, 10));
    const counts = new Array(10).fill(0);
    for (let r = 0; r < 2000; r++) for (const k of rb.sample(10).indices) counts[k]++;
    expect(chiSquare(counts, new Array(10).fill(0.1))).toBeLessThan(CHI2_CRIT_001[9]);
  });

  test('rng state can be read and restored to replay the same batches', () => {
    const rb = standard(100, 8);
    rb.pushBatch(columns(0, 100));
    rb.sample(10);
    const state = rb.getRngState();
    const a = [rb.sample(16), rb.sample(16)];
    rb.setRngState(state);
    expect([rb.sample(16), rb.sample(16)]).toEqual(a);
    expect(() => rb.setRngState([1, 2, 3])).toThrow(ShapeError);
  });

  test('batches are fresh arrays the caller owns; out reuses arrays', () => {
    const rb = standard(8);
    rb.pushBatch(columns(0, 8));
    const b = rb.sample(4);
    const copy = b.obs.slice();
    rb.pushBatch(columns(50, 8)); // overwrites every slot
    expect(b.obs).toEqual(copy);
    const out = rb.sample(4);
    const obs = out.obs;
    const again = rb.sample(4, { out });
    expect(again).toBe(out);
    expect(again.obs).toBe(obs);
    for (let i = 0; i < 4; i++) expect(checkRow(again, i)).toBeGreaterThanOrEqual(50);
    const partial = { reward: new Float32Array(4) };
    const filled = rb.sample(4, { out: partial });
    expect(filled.reward).toBe(partial.reward);
    expect(filled.obs).toHaveLength(16);
    expect(() => rb.sample(4, { out: { reward: new Float32Array(3) } })).toThrow(ShapeError);
    expect(() => rb.sample(4, { out: { reward: new Float64Array(4) as unknown as Float32Array } })).toThrow(DtypeError);
  });

  test('length, isReady, clear, capacity, schema', () => {
    const rb = standard(10);
    expect(rb.capacity).toBe(10);
    expect(rb.isReady(1)).toBe(false);
    rb.pushBatch(columns(0, 3));
    expect(rb.length).toBe(3);
    expect(rb.isReady(3)).toBe(true);
    expect(rb.isReady(4)).toBe(false);
    const before = rb.sample(3).indices;
    rb.clear();
    expect(rb.length).toBe(0);
    expect(() => rb.sample(1)).toThrow(OutOfRangeError);
    rb.push(transition(9));
    const b = rb.sample(1);
    expect(checkRow(b, 0)).toBe(9);
    expect(before).not.toContain(b.indices[0]);
    expect(rb.schema.obs).toEqual({ shape: [4], dtype: 'float32' });
    expect(rb.schema.terminated).toEqual({ shape: [], dtype: 'bool' });
  });

  test('a fresh batch shares nothing stale: every byte of its ArrayBuffer is data or zeroed padding', () => {
    // Fresh batches live in memory that is not zeroed first: make that memory all 0xff and
    // check that each view holds exactly the items and that the alignment gaps are zero.
    const spy = jest.spyOn(Buffer, 'allocUnsafeSlow').mockImplementation((n: number) => Buffer.alloc(n, 0xff));
    try {
      const rb = new ReplayBuffer({ capacity: 8, seed: 3, fields: { a: { shape: [3], dtype: 'uint8' }, x: { shape: [], dtype: 'float64' }, t: { shape: [], dtype: 'bool' } } });
      rb.pushBatch({ a: Uint8Array.from({ length: 24 }, (_, i) => i % 3), x: Float64Array.from({ length: 8 }, (_, i) => i), t: new Uint8Array(8) });
      const b = rb.sample(5);
      expect(spy).toHaveBeenCalled();
      const bytes = new Uint8Array(b.a.buffer);
      const used = new Uint8Array(bytes.length);
      for (const v of [b.a, b.x, b.t, b.indices]) used.fill(1, v.byteOffset, v.byteOffset + v.byteLength);
      expect(used.includes(0)).toBe(true); // this layout has gaps (15 bytes of a, then x at 16; t, then indices at 8k)
      for (let i = 0; i < bytes.length; i++) if (!used[i]) expect(bytes[i]).toBe(0);
      expect(Array.from(b.a)).toEqual(Array.from({ length: 15 }, (_, i) => i % 3));
      expect(Array.from(b.t)).toEqual([0, 0, 0, 0, 0]);
      for (let r = 0; r < 5; r++) expect(b.x[r]).toBe(b.indices[r]); // x = slot = key before any overwrite
      rb.close();
    } finally {
      spy.mockRestore();
    }
  });

  test('close frees the buffer; every later call throws StateError; dispose closes', () => {
    const rb = standard(10);
    rb.push(transition(1));
    rb.close();
    rb.close();
    expect(rb.closed).toBe(true);
    expect(() => rb.length).toThrow(StateError);
    expect(() => rb.push(transition(2))).toThrow(StateError);
    expect(() => rb.pushBatch(columns(0, 2))).toThrow(StateError);
    expect(() => rb.sample(1)).toThrow(StateError);
    expect(() => rb.clear()).toThrow(StateError);
    expect(() => rb.isReady(1)).toThrow(StateError);
    const other = standard(4);
    other[Symbol.dispose]();
    expect(other.closed).toBe(true);
  });
});

describe('bad input: named errors, and the buffer is left exactly as it was', () => {
  const filled = () => {
    const rb = standard(10, 77);
    rb.pushBatch(columns(0, 6));
    return rb;
  };
  const cases: [string, (rb: ReturnType<typeof standard>) => unknown, new (...a: never[]) => ReplayError][] = [
    ['missing field', (rb) => rb.push({ ...transition(1), truncated: undefined } as never), ShapeError],
    ['unknown field', (rb) => rb.push({ ...transition(1), extra: 1 } as never), ShapeError],
    ['misspelt field', (rb) => { const { obs, ...rest } = transition(1); return rb.push({ ...rest, ob: obs } as never); }, ShapeError],
    ['obs of wrong length', (rb) => rb.push({ ...transition(1), obs: new Float32Array(3) }), ShapeError],
    ['obs of wrong dtype', (rb) => rb.push({ ...transition(1), obs: new Float64Array(4) as never }), DtypeError],
    ['action not an integer', (rb) => rb.push({ ...transition(1), action: 1.5 }), OutOfRangeError],
    ['action beyond int32', (rb) => rb.push({ ...transition(1), action: 2 ** 31 }), OutOfRangeError],
    ['terminated not boolean', (rb) => rb.push({ ...transition(1), terminated: 2 }), OutOfRangeError],
    ['reward a string', (rb) => rb.push({ ...transition(1), reward: '1' as never }), DtypeError],
    ['transition null', (rb) => rb.push(null as never), ShapeError],
    ['batch rows disagree', (rb) => rb.pushBatch({ ...columns(0, 4), reward: new Float32Array(3) }), ShapeError],
    ['batch of wrong dtype', (rb) => rb.pushBatch({ ...columns(0, 4), action: new Float32Array(4) as never }), DtypeError],
    ['batch missing field', (rb) => { const { reward, ...rest } = columns(0, 4); void reward; return rb.pushBatch(rest as never); }, ShapeError],
    ['batch with a bad value in a plain array', (rb) => rb.pushBatch({ ...columns(0, 2), action: [1, 1.5] }), OutOfRangeError],
    ['obs length not a multiple of obsDim', (rb) => rb.pushBatch({ ...columns(0, 2), obs: new Float32Array(7) }), ShapeError],
    ['batch size 0', (rb) => rb.sample(0), OutOfRangeError],
    ['batch size negative', (rb) => rb.sample(-3), OutOfRangeError],
    ['batch size fractional', (rb) => rb.sample(2.5), OutOfRangeError],
    ['batch size NaN', (rb) => rb.sample(NaN), OutOfRangeError],
    ['batch size beyond length', (rb) => rb.sample(7), OutOfRangeError],
    ['batch size a string', (rb) => rb.sample('4' as never), OutOfRangeError],
    ['out not an object', (rb) => rb.sample(2, { out: 5 as never }), ShapeError],
  ];
  test.each(cases)('%s', (_name, call, ErrorClass) => {
    const rb = filled();
    const twin = filled();
    expect(() => call(rb)).toThrow(ErrorClass);
    let err: unknown;
    try {
      call(rb);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ReplayError);
    expect((err as Error).message.length).toBeGreaterThan(10);
    expect(rb.length).toBe(twin.length);
    expect(rb.sample(6)).toEqual(twin.sample(6)); // same contents, same generator state
  });

  test.each([
    ['capacity 0', { capacity: 0 }, OutOfRangeError],
    ['capacity fractional', { capacity: 1.5 }, OutOfRangeError],
    ['capacity negative', { capacity: -1 }, OutOfRangeError],
    ['capacity absurd', { capacity: 2 ** 52 }, OutOfRangeError],
    ['capacity missing', { capacity: undefined }, OutOfRangeError],
    ['seed fractional', { seed: 0.5 }, OutOfRangeError],
    ['obsShape with 0', { obsShape: [0] }, ShapeError],
    ['obsShape not an array', { obsShape: 4 }, ShapeError],
    ['unknown dtype', { obsDtype: 'float16' }, DtypeError],
    ['no schema at all', { obsShape: undefined }, ShapeError],
  ] as const)('constructor: %s', (_name, patch, ErrorClass) => {
    expect(() => new ReplayBuffer({ capacity: 10, obsShape: [4], seed: 1, ...patch } as never)).toThrow(ErrorClass);
  });

  test('explicit schemas: reserved or empty', () => {
    expect(() => new ReplayBuffer({ capacity: 4, fields: { indices: { shape: [], dtype: 'float32' } } })).toThrow(ShapeError);
    expect(() => new ReplayBuffer({ capacity: 4, fields: {} })).toThrow(ShapeError);
    expect(() => new ReplayBuffer({ capacity: 4, fields: { a: { shape: [2], dtype: 'complex' as never } } })).toThrow(DtypeError);
    expect(() => new ReplayBuffer({ capacity: 4, obsShape: [2], extraFields: { reward: { shape: [], dtype: 'float64' } } })).toThrow(ShapeError);
  });

  test('an absurd buffer size is refused with an error, not a crash', () => {
    expect(() => new ReplayBuffer({ capacity: 2 ** 40, obsShape: [1 << 20], seed: 1 })).toThrow(OutOfRangeError);
  });

  test('junk arguments to every method give ReplayErrors, never a crash', () => {
    const junk: unknown[] = [undefined, null, NaN, -1, 0, 1.5, 2 ** 60, 'x', {}, [], [1, 2], new Float32Array(3), new BigInt64Array(2), true, () => 1, Symbol('s'), { obs: null }];
    const rb = filled();
    for (const a of junk)
      for (const b of junk) {
        for (const call of [() => rb.push(a as never), () => rb.pushBatch(a as never), () => rb.sample(a as never, b as never), () => rb.isReady(a as never), () => rb.setRngState(a as never)]) {
          try {
            call();
          } catch (e) {
            expect(e).toBeInstanceOf(ReplayError);
          }
        }
      }
    expect(rb.length).toBe(6);
  });
});
