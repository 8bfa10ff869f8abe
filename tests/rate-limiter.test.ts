/**
 * The rate limiter (issue 13): options and their errors, admission against a plain integer
 * model of Reverb's rule over seeded random sequences, timeouts and aborts that change
 * nothing (on jest's fake clock), close while waiting, the synchronous calls that only count,
 * grants whose call then fails, stats, and archives.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArchiveError, OutOfRangeError, PrioritizedReplayBuffer, RateLimitError, ReplayBuffer, ReplayError, StateError } from 'replaykit';
import type { RateLimiterOptions } from 'replaykit';
import { columns, idOf, transition } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replaykit-limiter-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const fresh = () => path.join(dir, `a-${counter++}.rkb`);

const shape = { obsShape: [4], actionShape: [], actionDtype: 'int32' as const };
const make = (rateLimiter?: RateLimiterOptions, capacity = 1000, seed = 5) => new ReplayBuffer({ capacity, seed, ...shape, ...(rateLimiter ? { rateLimiter } : {}) });

/** Lets the event loop deliver the limiter's decisions (they come through a thread-safe function). */
async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A promise's state, observed without awaiting it. */
function track<T>(p: Promise<T>) {
  const s: { state: 'pending' | 'fulfilled' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
  p.then(
    (v) => Object.assign(s, { state: 'fulfilled', value: v }),
    (e) => Object.assign(s, { state: 'rejected', error: e }),
  );
  return s;
}

/** A small seeded generator (mulberry32) for the random sequences. */
function rng(seed: number) {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n | 0;
  };
}

/**
 * Reverb's rule written out in integers, with samplesPerInsert = p / q and the error buffer
 * e / q, so it shares no floating point with the core: a call is admitted when its first item
 * would be, all its items are counted, queued calls are served first come first served, inserts
 * before samples, until neither side can move (rate_limiter.h).
 */
class Model {
  inserts = 0;
  samples = 0;
  insertWaits = 0;
  sampleWaits = 0;
  readonly queue = { insert: [] as Wait[], sample: [] as Wait[] };
  constructor(readonly p: number, readonly q: number, readonly minSize: number, readonly e: number | null) {}
  admits(side: 'insert' | 'sample'): boolean {
    const { p, q, minSize, e } = this;
    const centre = p * minSize;
    if (side === 'insert') return this.inserts < minSize || e === null || (this.inserts + 1) * p - this.samples * q <= centre + e;
    return this.inserts >= minSize && (e === null || this.inserts * p - (this.samples + 1) * q >= centre - e);
  }
  commit(side: 'insert' | 'sample', n: number) {
    if (side === 'insert') this.inserts += n;
    else this.samples += n;
  }
  pump() {
    for (let progress = true; progress; ) {
      progress = false;
      for (const side of ['insert', 'sample'] as const) {
        const q = this.queue[side];
        while (q.length && this.admits(side)) {
          const w = q.shift()!;
          this.commit(side, w.n);
          w.granted = true;
          progress = true;
        }
      }
    }
  }
  /** An async call: granted at once, or queued. */
  ask(w: Wait) {
    if (this.queue[w.side].length === 0 && this.admits(w.side)) {
      this.commit(w.side, w.n);
      w.granted = true;
      this.pump(); // the other side's queued calls may pass now
      return;
    }
    if (w.side === 'insert') this.insertWaits++;
    else this.sampleWaits++;
    this.queue[w.side].push(w);
  }
  sync(side: 'insert' | 'sample', n: number) {
    this.commit(side, n);
    this.pump();
  }
  cancel(w: Wait) {
    const q = this.queue[w.side];
    q.splice(q.indexOf(w), 1);
    w.cancelled = true;
    this.pump();
  }
}

interface Wait {
  side: 'insert' | 'sample';
  n: number;
  granted: boolean;
  cancelled: boolean;
  seen: ReturnType<typeof track>;
  abort: AbortController;
}

describe('options', () => {
  test('a buffer without the option has no limiter, and its async calls act at once', async () => {
    const rb = make();
    expect(rb.rateLimiter).toBeNull();
    await expect(rb.sampleAsync(1)).rejects.toThrow(new OutOfRangeError('cannot sample 1 transitions: only 0 are stored (isReady(1) tells when enough are)'));
    expect(await rb.pushAsync(transition(0))).toBe(0);
    await rb.pushBatchAsync(columns(1, 3));
    expect(rb.length).toBe(4);
    const b = await rb.sampleAsync(4, { timeoutMs: 0 });
    const twin = make();
    twin.pushBatch(columns(0, 4));
    expect(b.indices).toEqual(twin.sample(4).indices);
  });

  test('the options as the core resolved them, the default errorBuffer included', () => {
    const a = make({ minSize: 10 }).rateLimiter!;
    expect([a.minSize, a.samplesPerInsert, a.errorBuffer, a.minDiff, a.maxDiff]).toEqual([10, undefined, undefined, -Infinity, Infinity]);
    const b = make({ minSize: 1000, samplesPerInsert: 4 }).rateLimiter!;
    // max(0.1 * 4 * 1000, 2 * max(1, 4)) = 400, around 4 * 1000
    expect([b.minSize, b.samplesPerInsert, b.errorBuffer, b.minDiff, b.maxDiff]).toEqual([1000, 4, 400, 3600, 4400]);
    const c = make({ minSize: 3, samplesPerInsert: 0.5 }).rateLimiter!;
    expect(c.errorBuffer).toBe(2); // 2 * max(1, 0.5)
    const d = make({ minSize: 8, samplesPerInsert: 2, errorBuffer: 5 }).rateLimiter!;
    expect([d.errorBuffer, d.minDiff, d.maxDiff]).toEqual([5, 11, 21]);
  });

  test.each([
    [{}, 'rateLimiter.minSize is required: the items inserted before any sample is admitted'],
    [{ minSize: 0 }, 'rateLimiter.minSize must be an integer >= 1, got 0'],
    [{ minSize: 2.5 }, 'rateLimiter.minSize must be an integer >= 1, got 2.5'],
    [{ minSize: 101 }, 'rateLimiter.minSize must not exceed the capacity 100 (the buffer could never hold that many items to sample from), got 101'],
    [{ minSize: 5, samplesPerInsert: 0 }, 'rateLimiter.samplesPerInsert must be a finite number > 0, got 0'],
    [{ minSize: 5, samplesPerInsert: NaN }, 'rateLimiter.samplesPerInsert must be a finite number > 0, got NaN'],
    [{ minSize: 5, samplesPerInsert: 1, errorBuffer: -1 }, 'rateLimiter.errorBuffer must be a finite number >= 0, got -1'],
    [{ minSize: 5, samplesPerInsert: 3, errorBuffer: 2 }, 'rateLimiter.errorBuffer must be a finite number >= max(1, samplesPerInsert) = 3 (a narrower range can block inserts or samples for good), got 2'],
    [{ minSize: 5, samplesPerInsert: 0.25, errorBuffer: 0.5 }, 'rateLimiter.errorBuffer must be a finite number >= max(1, samplesPerInsert) = 1 (a narrower range can block inserts or samples for good), got 0.5'],
    [{ minSize: 5, errorBuffer: 4 }, 'rateLimiter.errorBuffer needs rateLimiter.samplesPerInsert (the ratio it bounds)'],
    [{ minsize: 5 }, "unknown rateLimiter option 'minsize'; did you mean 'minSize'? (rateLimiter options: 'minSize', 'samplesPerInsert', 'errorBuffer')"],
    [{ minSize: 5, samplesPerInsert: null }, "rateLimiter option 'samplesPerInsert' is null: omit it to take its default"],
    [7, 'rateLimiter must be an object like { minSize, samplesPerInsert?, errorBuffer? }, got 7'],
  ])('%p is refused, naming the option', (rateLimiter, message) => {
    const opts = { capacity: 100, ...shape, rateLimiter: rateLimiter as unknown as RateLimiterOptions };
    expect(() => new ReplayBuffer(opts)).toThrow(new OutOfRangeError(message));
    expect(() => new PrioritizedReplayBuffer(opts)).toThrow(new OutOfRangeError(message));
  });

  test('the waiting options are checked before anything waits or changes', async () => {
    const rb = make({ minSize: 2 });
    await expect(rb.sampleAsync(1, { timeoutMs: -1 })).rejects.toThrow(new OutOfRangeError('timeoutMs must be a finite number >= 0, got -1'));
    await expect(rb.sampleAsync(1, { signal: {} as AbortSignal })).rejects.toThrow(new OutOfRangeError('signal must be an AbortSignal, got object'));
    await expect(rb.sampleAsync(1001)).rejects.toThrow(new OutOfRangeError('cannot sample 1001 transitions from a buffer of capacity 1000'));
    await expect(rb.sampleAsync(1, { timeout: 5 } as never)).rejects.toThrow(OutOfRangeError);
    await expect(rb.pushAsync(transition(0), { priority: 2 } as never)).rejects.toThrow(
      new OutOfRangeError("unknown pushAsync option 'priority': priority is for PrioritizedReplayBuffer, not a uniform ReplayBuffer"),
    );
    await expect(rb.pushBatchAsync({ ...columns(0, 2), obs: new Float32Array(3) })).rejects.toThrow(ReplayError);
    expect(rb.length).toBe(0);
    expect(rb.rateLimiter!.stats).toMatchObject({ inserts: 0, samples: 0, waits: 0, pendingInserts: 0, pendingSamples: 0 });
  });
});

describe('admission', () => {
  const tally: Record<string, { insertWaits: number; sampleWaits: number; cancelled: number }> = {};
  const configs: [string, RateLimiterOptions, [number, number, number | null]][] = [
    ['MinSize(4)', { minSize: 4 }, [1, 1, null]],
    ['ratio 1, errorBuffer 2', { minSize: 4, samplesPerInsert: 1, errorBuffer: 2 }, [1, 1, 2]],
    ['ratio 2, errorBuffer 3', { minSize: 4, samplesPerInsert: 2, errorBuffer: 3 }, [2, 1, 3]],
    ['ratio 0.5, errorBuffer 1.5', { minSize: 5, samplesPerInsert: 0.5, errorBuffer: 1.5 }, [1, 2, 3]],
    ['ratio 1.5, errorBuffer 4.25', { minSize: 4, samplesPerInsert: 1.5, errorBuffer: 4.25 }, [3, 2, 8.5]],
  ];
  test.each(configs.flatMap(([name, o, m]) => [1, 2, 3].map((seed) => [name, seed, o, m] as const)))(
    '%s, seed %i: every call is admitted, queued, counted and delivered as the integer model says',
    async (_name, seed, options, [p, q, e]) => {
      const rb = make(options, 1000, seed);
      const model = new Model(p, q, options.minSize, e);
      const draw = rng(seed);
      const waits: Wait[] = [];
      let id = 0;
      for (let step = 0; step < 160; step++) {
        const r = draw(100);
        const pending = waits.filter((w) => !w.granted && !w.cancelled);
        if (r < 25) {
          const k = 1 + draw(4);
          rb.pushBatch(columns(id, k));
          id += k;
          model.sync('insert', k);
        } else if (r < 40) {
          const b = 1 + draw(options.minSize);
          if (rb.length >= b) {
            rb.sample(b);
            model.sync('sample', b);
          }
        } else if (r < 60) {
          const k = 1 + draw(3);
          const abort = new AbortController();
          const w: Wait = { side: 'insert', n: k, granted: false, cancelled: false, abort, seen: track<unknown>(k === 1 ? rb.pushAsync(transition(id), { signal: abort.signal }) : rb.pushBatchAsync(columns(id, k), { signal: abort.signal })) };
          id += k;
          model.ask(w);
          waits.push(w);
        } else if (r < 80) {
          const b = 1 + draw(Math.min(3, options.minSize));
          const abort = new AbortController();
          const w: Wait = { side: 'sample', n: b, granted: false, cancelled: false, abort, seen: track(rb.sampleAsync(b, { signal: abort.signal })) };
          model.ask(w);
          waits.push(w);
        } else if (r < 95 && pending.length) {
          const w = pending[draw(pending.length)];
          w.abort.abort(new Error('stop'));
          model.cancel(w);
        }
        await flush();
        for (const w of waits) {
          const expected = w.granted ? 'fulfilled' : w.cancelled ? 'rejected' : 'pending';
          if (w.seen.state !== expected) // the step and both sides' view, to debug a disagreement
            throw new Error(`step ${step}: call ${waits.indexOf(w)} (${w.side} ${w.n}) is ${w.seen.state}, the model says ${expected}; model ${model.inserts}/${model.samples}, core ${JSON.stringify(rb.rateLimiter!.stats)}`);
        }
        const s = rb.rateLimiter!.stats;
        expect([s.inserts, s.samples, s.insertWaits, s.sampleWaits, s.pendingInserts, s.pendingSamples]).toEqual([
          model.inserts,
          model.samples,
          model.insertWaits,
          model.sampleWaits,
          model.queue.insert.length,
          model.queue.sample.length,
        ]);
        expect(s.waits).toBe(model.insertWaits + model.sampleWaits);
        expect(s.diff).toBe((model.inserts * p - model.samples * q) / q);
        // Every granted insert is stored, no other
        expect(rb.length).toBe(model.inserts);
      }
      // The calls waited for something at least once; cancelled calls rejected with RateLimitError
      const t = (tally[_name] ??= { insertWaits: 0, sampleWaits: 0, cancelled: 0 });
      t.insertWaits += model.insertWaits;
      t.sampleWaits += model.sampleWaits;
      t.cancelled += waits.filter((w) => w.cancelled).length;
      for (const w of waits.filter((x) => x.cancelled)) {
        expect(w.seen.error).toBeInstanceOf(RateLimitError);
        expect((w.seen.error as RateLimitError).reason).toBe('abort');
        expect(((w.seen.error as RateLimitError).cause as Error).message).toBe('stop');
      }
      // Stored rows are whole transitions, each pushed once
      const all = rb.sampleAll();
      const ids = Array.from({ length: rb.length }, (_, i) => idOf(all, i)).sort((a, b) => a - b);
      expect(new Set(ids).size).toBe(ids.length);
      rb.close();
    },
  );

  test('the sequences made inserts wait (ratio limiters), samples wait, and calls give up, under every configuration', () => {
    for (const [name, , [, , e]] of configs) {
      expect(tally[name].insertWaits).toBeGreaterThan(e === null ? -1 : 0);
      expect(tally[name].sampleWaits).toBeGreaterThan(0);
      expect(tally[name].cancelled).toBeGreaterThan(0);
    }
  });

  test('a sampleAsync batch is the one sample would draw at the moment it is admitted', async () => {
    const rb = make({ minSize: 6, samplesPerInsert: 1, errorBuffer: 6 }, 100, 11);
    const twin = make(undefined, 100, 11);
    const first = rb.sampleAsync(4);
    const second = rb.sampleAsync(2);
    rb.pushBatch(columns(0, 6)); // admits both, in order
    twin.pushBatch(columns(0, 6));
    const [a, b] = await Promise.all([first, second]);
    expect(Array.from(a.indices)).toEqual(Array.from(twin.sample(4).indices));
    expect(Array.from(b.indices)).toEqual(Array.from(twin.sample(2).indices));
    expect(Array.from(rb.sample(5).indices)).toEqual(Array.from(twin.sample(5).indices));
  });

  test('a prioritized buffer: pushAsync with a priority, sampleAsync with weights and beta', async () => {
    const per = new PrioritizedReplayBuffer({ capacity: 50, seed: 3, ...shape, rateLimiter: { minSize: 3, samplesPerInsert: 1, errorBuffer: 2 } });
    const batch = per.sampleAsync(3, { beta: 1 });
    await per.pushAsync(transition(0), { priority: 5 });
    await per.pushBatchAsync(columns(1, 2), { priorities: [1, 2] });
    const b = await batch;
    expect(b.weights).toHaveLength(3);
    expect(per.maxPriority).toBe(5);
    expect(per.rateLimiter!.stats).toMatchObject({ inserts: 3, samples: 3, sampleWaits: 1 });
  });
});

describe('the synchronous calls never wait: they are counted', () => {
  test('sample before minSize and pushes past the range both go through, and count', () => {
    const rb = make({ minSize: 5, samplesPerInsert: 1, errorBuffer: 2 });
    rb.pushBatch(columns(0, 3));
    const b = rb.sample(2); // stage 1: a sampleAsync would wait
    expect(b.indices).toHaveLength(2);
    rb.pushBatch(columns(3, 10)); // far past max_diff
    rb.push(transition(13));
    const s = rb.rateLimiter!.stats;
    expect([s.inserts, s.samples, s.waits, s.diff]).toEqual([14, 2, 0, 12]);
    expect(rb.length).toBe(14);
  });

  test('clear restarts the ratio and keeps the wait counts', async () => {
    const rb = make({ minSize: 2 });
    const p = rb.sampleAsync(1);
    rb.pushBatch(columns(0, 2));
    await p;
    rb.clear();
    expect(rb.rateLimiter!.stats).toMatchObject({ inserts: 0, samples: 0, sampleWaits: 1, waits: 1 });
  });
});

describe('timeouts and aborts change nothing', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] }));
  afterEach(() => jest.useRealTimers());

  test('a sampleAsync that times out on the fake clock: rejected, nothing counted or drawn', async () => {
    const rb = make({ minSize: 4 }, 100, 9);
    const twin = make(undefined, 100, 9);
    rb.pushBatch(columns(0, 3));
    twin.pushBatch(columns(0, 3));
    const seen = track(rb.sampleAsync(2, { timeoutMs: 1000 }));
    jest.advanceTimersByTime(999);
    await flush();
    expect(seen.state).toBe('pending');
    jest.advanceTimersByTime(1);
    await flush();
    expect(seen.state).toBe('rejected');
    expect(seen.error).toBeInstanceOf(RateLimitError);
    expect((seen.error as RateLimitError).reason).toBe('timeout');
    expect((seen.error as Error).message).toBe('sampleAsync timed out after 1000 ms waiting for the rate limiter to admit 2 samples; nothing changed');
    expect(rb.rateLimiter!.stats).toMatchObject({ inserts: 3, samples: 0, sampleWaits: 1, pendingSamples: 0 });
    expect(rb.getRngState()).toEqual(twin.getRngState()); // no random words drawn
    // a later insert admits nothing that was given up
    rb.push(transition(3));
    await flush();
    expect(rb.rateLimiter!.stats).toMatchObject({ inserts: 4, samples: 0 });
  });

  test('a pushAsync that times out stores nothing; timeoutMs 0 gives up unless admitted at once', async () => {
    const rb = make({ minSize: 1, samplesPerInsert: 1, errorBuffer: 1 });
    rb.pushBatch(columns(0, 3)); // diff 3 > max_diff 2: inserts wait
    const before = rb.sampleAll();
    const a = track(rb.pushAsync(transition(50), { timeoutMs: 0 }));
    const b = track(rb.pushBatchAsync(columns(60, 4), { timeoutMs: 10 }));
    jest.advanceTimersByTime(10);
    await flush();
    expect([a.state, b.state]).toEqual(['rejected', 'rejected']);
    expect(rb.length).toBe(3);
    expect(rb.sampleAll()).toEqual(before);
    expect(rb.rateLimiter!.stats).toMatchObject({ inserts: 3, insertWaits: 2, pendingInserts: 0 });
  });

  test('an abort: its reason is the cause; an already aborted signal never waits', async () => {
    const rb = make({ minSize: 2 });
    const ac = new AbortController();
    const seen = track(rb.sampleAsync(1, { signal: ac.signal }));
    await flush();
    ac.abort('enough');
    await flush();
    expect(seen.error).toBeInstanceOf(RateLimitError);
    expect((seen.error as RateLimitError).cause).toBe('enough');
    await expect(rb.pushAsync(transition(0), { signal: ac.signal })).rejects.toThrow(
      new RateLimitError('pushAsync was aborted while waiting for the rate limiter; nothing changed', 'abort'),
    );
    expect(rb.length).toBe(0);
    expect(rb.rateLimiter!.stats).toMatchObject({ inserts: 0, samples: 0, sampleWaits: 1, insertWaits: 0 });
  });

  test('a grant decided before the timeout fires wins: the call goes ahead', async () => {
    const rb = make({ minSize: 2 });
    const ac = new AbortController();
    const seen = track(rb.sampleAsync(2, { signal: ac.signal, timeoutMs: 5 }));
    rb.pushBatch(columns(0, 2)); // decided now, delivered on the next turn of the loop
    ac.abort();
    jest.advanceTimersByTime(5);
    await flush();
    expect(seen.state).toBe('fulfilled');
    expect(rb.rateLimiter!.stats).toMatchObject({ samples: 2 });
  });
});

describe('close, failures after a grant', () => {
  test('close while calls wait: each rejects with StateError, nothing stored; later calls too', async () => {
    const rb = make({ minSize: 3, samplesPerInsert: 1, errorBuffer: 1 });
    const s = track(rb.sampleAsync(1));
    rb.pushBatch(columns(0, 5));
    await flush();
    const i1 = track(rb.pushAsync(transition(10)));
    const i2 = track(rb.pushBatchAsync(columns(11, 2)));
    await flush();
    expect([s.state, i1.state, i2.state]).toEqual(['fulfilled', 'pending', 'pending']);
    rb.close();
    await flush();
    expect([i1.state, i2.state]).toEqual(['rejected', 'rejected']);
    expect(i1.error).toBeInstanceOf(StateError);
    expect((i1.error as Error).message).toBe('the buffer was closed while pushAsync waited for the rate limiter; nothing was stored');
    await expect(rb.sampleAsync(1)).rejects.toThrow(new StateError('the buffer is closed'));
    await expect(rb.pushAsync(transition(0))).rejects.toThrow(StateError);
    expect(() => rb.rateLimiter!.stats).toThrow(StateError);
  });

  test('a sampleAsync admitted while fewer than its batch are stored rejects, and its grant is given back', async () => {
    const rb = make({ minSize: 2 });
    const seen = track(rb.sampleAsync(5));
    rb.pushBatch(columns(0, 2));
    await flush();
    expect(seen.error).toBeInstanceOf(OutOfRangeError);
    expect(rb.rateLimiter!.stats).toMatchObject({ samples: 0, sampleWaits: 1 });
  });

  test('a pushAsync admitted while a save runs rejects with StateError and is not counted', async () => {
    const rb = make({ minSize: 1, samplesPerInsert: 1, errorBuffer: 1 });
    rb.pushBatch(columns(0, 3)); // inserts wait
    const seen = track(rb.pushAsync(transition(9)));
    const saving = rb.save(fresh());
    rb.sample(2); // allowed during a save; admits the insert
    await flush();
    await saving;
    expect(seen.error).toBeInstanceOf(StateError);
    expect(rb.length).toBe(3);
    expect(rb.rateLimiter!.stats).toMatchObject({ inserts: 3, samples: 2 });
  });

  test('a waiting pushAsync stores what it was given, whatever the caller does with its arrays meanwhile', async () => {
    const rb = make({ minSize: 1, samplesPerInsert: 1, errorBuffer: 1 });
    rb.pushBatch(columns(0, 3));
    const t = transition(7);
    const cols = columns(20, 2);
    const a = rb.pushAsync(t);
    const b = rb.pushBatchAsync(cols);
    t.obs.fill(-1);
    cols.obs.fill(-1);
    cols.reward.fill(-1);
    rb.sample(3);
    await Promise.all([a, b]);
    const all = rb.sampleAll();
    expect([3, 4, 5].map((i) => idOf(all, i))).toEqual([7, 20, 21]);
    expect(Array.from(all.obs.subarray(12, 16))).toEqual(Array.from(transition(7).obs));
  });

  test('disabled, the limiter admits everything (still counting); enabled again, it restarts at the centre', async () => {
    const rb = make({ minSize: 2, samplesPerInsert: 1, errorBuffer: 2 });
    rb.push(transition(100));
    const waiting = rb.sampleAsync(1); // 1 of minSize 2
    rb.rateLimiter!.enabled = false;
    await waiting; // released by the switch
    await rb.sampleAsync(1);
    await rb.pushBatchAsync(columns(0, 8));
    expect(rb.rateLimiter!.stats).toMatchObject({ inserts: 9, samples: 2, sampleWaits: 1 });
    rb.rateLimiter!.enabled = true;
    expect(rb.rateLimiter!.enabled).toBe(true);
    expect(rb.rateLimiter!.stats.diff).toBe(2); // spi * minSize
    expect(() => ((rb.rateLimiter as { enabled: unknown }).enabled = 1)).toThrow(OutOfRangeError);
  });
});

describe('archives', () => {
  test('the counters and options are saved and restored exactly', async () => {
    const rb = make({ minSize: 3, samplesPerInsert: 2, errorBuffer: 4.5 }, 40, 2); // diff in [1.5, 10.5] past minSize
    const s = rb.sampleAsync(2);
    rb.pushBatch(columns(0, 6)); // diff 12: admits the sample, 10
    await s;
    rb.sample(3); // 7
    rb.pushBatch(columns(6, 2)); // 11
    await expect(rb.pushAsync(transition(99), { timeoutMs: 0 })).rejects.toThrow(RateLimitError);
    rb.rateLimiter!.enabled = false;
    const file = fresh();
    await rb.save(file);
    const before = rb.rateLimiter!.stats;
    expect(before).toMatchObject({ inserts: 8, samples: 5, insertWaits: 1, sampleWaits: 1, diff: 11 });
    expect(before.waitedMs).toBeGreaterThan(0);
    for (const loaded of [await ReplayBuffer.load(file), ReplayBuffer.loadSync(file, { rateLimiter: { minSize: 3, samplesPerInsert: 2, errorBuffer: 4.5 } })]) {
      const l = loaded.rateLimiter!;
      expect([l.minSize, l.samplesPerInsert, l.errorBuffer, l.minDiff, l.maxDiff]).toEqual([3, 2, 4.5, 1.5, 10.5]);
      expect(l.stats).toEqual(before); // the wait times too, to the nanosecond
      expect(l.enabled).toBe(false);
      expect(loaded.getRngState()).toEqual(rb.getRngState());
      loaded.close();
    }
  });

  test('a loaded limiter that holds inserts: push still works (no hang, Reverb issue 103); pushAsync waits for samples', async () => {
    const rb = make({ minSize: 2, samplesPerInsert: 1, errorBuffer: 1 });
    rb.pushBatch(columns(0, 4)); // diff 4 > max_diff 3
    const file = fresh();
    rb.saveSync(file);
    const loaded = ReplayBuffer.loadSync(file);
    loaded.push(transition(4));
    const waiting = track(loaded.pushAsync(transition(5)));
    await flush();
    expect(waiting.state).toBe('pending');
    loaded.sample(3);
    await flush();
    expect(waiting.state).toBe('fulfilled');
    expect(loaded.rateLimiter!.stats).toMatchObject({ inserts: 6, samples: 3 });
    loaded.close();
  });

  test('load options must agree with the archive: a limiter is not added, changed or dropped silently', async () => {
    const withOne = make({ minSize: 4, samplesPerInsert: 2 }, 40);
    withOne.pushBatch(columns(0, 4));
    const a = fresh();
    withOne.saveSync(a);
    const without = make(undefined, 40);
    const b = fresh();
    without.saveSync(b);
    expect(() => ReplayBuffer.loadSync(a, { rateLimiter: { minSize: 4, samplesPerInsert: 3 } })).toThrow(
      new ArchiveError('option rateLimiter.samplesPerInsert disagrees with the archive: the archive holds 2, the options give 3 (omit rateLimiter, or load another archive)'),
    );
    expect(() => ReplayBuffer.loadSync(a, { rateLimiter: { minSize: 4, samplesPerInsert: 2, errorBuffer: 5 } })).toThrow(
      new ArchiveError('option rateLimiter.errorBuffer disagrees with the archive: the archive holds 4, the options give 5 (omit rateLimiter, or load another archive)'),
    );
    expect(() => ReplayBuffer.loadSync(b, { rateLimiter: { minSize: 4 } })).toThrow(
      new ArchiveError('option rateLimiter disagrees with the archive: the archive holds a buffer without a rate limiter (omit the option, or load another archive)'),
    );
    expect(ReplayBuffer.loadSync(b).rateLimiter).toBeNull();
    // the defaulted errorBuffer (max(0.8, 4) = 4) agrees with an option that omits it
    expect(ReplayBuffer.loadSync(a, { rateLimiter: { minSize: 4, samplesPerInsert: 2 } }).rateLimiter!.stats.inserts).toBe(4);
    // ifMissing: 'empty' makes a buffer with the option
    const empty = await ReplayBuffer.load(fresh(), { ifMissing: 'empty', capacity: 40, ...shape, rateLimiter: { minSize: 4 } });
    expect(empty.rateLimiter!.minSize).toBe(4);
  });
});

describe('hostile input', () => {
  // Values a caller might pass by mistake (or on purpose), for every option of the async calls.
  const hostile = (rb: ReplayBuffer): unknown[] => {
    const aborted = new AbortController();
    aborted.abort();
    return [
      undefined, null, 0, -1, NaN, Infinity, -Infinity, 2 ** 53, 1e300, '5', '', true, {}, [], [1], () => 1, Symbol('x'), 10n,
      aborted.signal, new Float64Array(2), Object.create(null),
      { get timeoutMs() { rb.push(transition(0)); return 1; } }, // re-enters the buffer
    ];
  };

  test('sampleAsync / pushAsync / pushBatchAsync settle or reject with a ReplayError, never throw, and a rejection changes nothing', async () => {
    const draw = rng(1234);
    let resolved = 0;
    let rejected = 0;
    let waited = 0;
    for (let round = 0; round < 300; round++) {
      const rb = make({ minSize: 2, samplesPerInsert: 1, errorBuffer: 2 }, 16, round);
      rb.pushBatch(columns(0, 2 + draw(3)));
      const values = hostile(rb);
      const v = () => values[draw(values.length)];
      const options = [undefined, v(), { timeoutMs: v() }, { signal: v() }, { timeoutMs: 0, signal: v() }, { out: v(), timeoutMs: 0 }, { timeoutMs: 0, priority: v() }, v()][draw(8)];
      const before = { length: rb.length, rng: rb.getRngState(), stats: rb.rateLimiter!.stats, all: rb.sampleAll() };
      const which = draw(3);
      let p: Promise<unknown>;
      try {
        p = which === 0 ? rb.sampleAsync([1, v(), 2.5, 0][draw(4)] as number, options as never) : which === 1 ? rb.pushAsync(transition(9), options as never) : rb.pushBatchAsync(columns(9, 2), options as never);
      } catch (e) {
        throw new Error(`round ${round}: call ${which} threw synchronously: ${String(e)}`);
      }
      const seen = track(p);
      await flush();
      if (seen.state === 'pending') {
        // Still waiting for admission (no timeout given): nothing has changed meanwhile, and
        // close() ends it with a StateError.
        waited++;
        expect(rb.length).toBe(before.length);
        expect(rb.getRngState()).toEqual(before.rng);
        rb.close();
        await flush();
        expect(seen.error).toBeInstanceOf(StateError);
        continue;
      }
      const outcome = seen.state === 'fulfilled' ? 'resolved' : seen.error;
      if (outcome === 'resolved') {
        resolved++;
      } else {
        rejected++;
        if (!(outcome instanceof ReplayError)) throw new Error(`round ${round}: call ${which} rejected with ${String(outcome)}`);
        expect(rb.length).toBe(before.length);
        expect(rb.getRngState()).toEqual(before.rng);
        expect(rb.rateLimiter!.stats).toEqual({ ...before.stats, waits: rb.rateLimiter!.stats.waits, insertWaits: rb.rateLimiter!.stats.insertWaits, sampleWaits: rb.rateLimiter!.stats.sampleWaits, waitedMs: rb.rateLimiter!.stats.waitedMs, insertWaitedMs: rb.rateLimiter!.stats.insertWaitedMs, sampleWaitedMs: rb.rateLimiter!.stats.sampleWaitedMs });
        expect(rb.sampleAll()).toEqual(before.all);
      }
      rb.close();
    }
    expect(resolved).toBeGreaterThan(10);
    expect(rejected).toBeGreaterThan(100);
    expect(waited).toBeGreaterThan(10);
  });

  test('hostile rateLimiter options are refused with OutOfRangeError, the buffer not made', () => {
    const draw = rng(99);
    const values: unknown[] = [undefined, null, 0, -0, -1, 0.5, 1, 3, 16, 17, NaN, Infinity, 1e300, 2 ** 53, '4', {}, [], true, 10n];
    for (let i = 0; i < 400; i++) {
      const o: Record<string, unknown> = {};
      for (const k of ['minSize', 'samplesPerInsert', 'errorBuffer', 'minsize']) if (draw(3)) o[k] = values[draw(values.length)];
      const option = draw(10) ? o : values[draw(values.length)];
      try {
        const rb = new ReplayBuffer({ capacity: 16, ...shape, rateLimiter: option as RateLimiterOptions });
        if (option !== undefined) {
          // made: then its limiter is what the options say, within Reverb's rules
          const l = rb.rateLimiter!;
          expect(l.minSize).toBe(o.minSize);
          expect(l.maxDiff - l.minDiff).toBeGreaterThanOrEqual(2 * Math.max(1, l.samplesPerInsert ?? 1));
        }
        rb.close();
      } catch (e) {
        if (!(e instanceof OutOfRangeError)) throw new Error(`${JSON.stringify(option, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x))}: ${String(e)}`);
      }
    }
  });
});

describe('threads and process lifetime (fresh node processes, against dist/)', () => {
  const entry = path.join(__dirname, '..', 'dist', 'lib', 'index.js');
  /** Runs `script` in a fresh node process with `rk` (the built package) and `Worker` in scope. */
  const run = (script: string) => {
    if (!fs.existsSync(entry)) throw new Error('run `npm run build:ts` first: these tests load dist/');
    const prelude = `const rk = require(${JSON.stringify(entry)}); const { Worker } = require('node:worker_threads');
      const t = (i) => ({ obs: [i, i, i, i], action: 0, reward: i, nextObs: [0, 0, 0, 0], terminated: false, truncated: false });
      const make = (rateLimiter) => new rk.ReplayBuffer({ capacity: 64, obsShape: [4], actionDtype: 'int32', seed: 1, rateLimiter });`;
    const r = spawnSync(process.execPath, ['-e', `${prelude}\n${script}`], { encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, signal: r.signal, stdout: r.stdout.trim(), stderr: r.stderr };
  };

  test('a wait released by this thread is delivered even when nothing else keeps the process alive', () => {
    const r = run(`const rb = make({ minSize: 2 });
      rb.sampleAsync(2).then((b) => console.log('sampled', b.indices.length, rb.rateLimiter.stats.samples));
      rb.pushBatch({ obs: new Float32Array(8), action: new Int32Array(2), reward: new Float32Array(2), nextObs: new Float32Array(8), terminated: new Uint8Array(2), truncated: new Uint8Array(2) });`);
    expect(r).toEqual({ status: 0, signal: null, stdout: 'sampled 2 2', stderr: '' });
  });

  test('a wait nobody can release does not keep the process alive (no hang), and ends cleanly', () => {
    const r = run(`const rb = make({ minSize: 5 });
      rb.sampleAsync(1).then(() => console.log('never'));
      rb.pushAsync(t(0)).then(() => console.log('pushed'));`);
    expect(r).toEqual({ status: 0, signal: null, stdout: 'pushed', stderr: '' });
  });

  test('buffers with limiters in worker threads: waits delivered there, and a worker terminated while its calls wait exits cleanly', () => {
    const r = run(`
      const code = \`const rk = require(\${JSON.stringify(${JSON.stringify(entry)})});
        const { parentPort } = require('node:worker_threads');
        const rb = new rk.ReplayBuffer({ capacity: 64, obsShape: [2], seed: 2, rateLimiter: { minSize: 3, samplesPerInsert: 1, errorBuffer: 1 } });
        const t = { obs: [1, 2], action: 0, reward: 1, nextObs: [3, 4], terminated: false, truncated: false };
        (async () => {
          const s = rb.sampleAsync(1);
          for (let i = 0; i < 3; i++) await rb.pushAsync(t);
          await s;
          rb.push(t); rb.push(t); // diff 4 > max_diff 4 - 1: pushAsync waits
          rb.pushAsync(t);
          const idle = new rk.ReplayBuffer({ capacity: 8, obsShape: [2], seed: 3, rateLimiter: { minSize: 8 } });
          idle.sampleAsync(1); // waits in stage 1
          parentPort.postMessage(JSON.stringify([rb.rateLimiter.stats, idle.rateLimiter.stats]));
        })();\`;
      const w = new Worker(code, { eval: true });
      w.on('message', (m) => { console.log(m); w.terminate(); });
      w.on('error', (e) => console.log('error', e.message));
      w.on('exit', () => console.log('exit'));`);
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [stats, end] = r.stdout.split('\n');
    const [busy, idle] = JSON.parse(stats);
    expect(busy).toMatchObject({ inserts: 5, samples: 1, sampleWaits: 1, insertWaits: 1, pendingInserts: 1 });
    expect(idle).toMatchObject({ inserts: 0, samples: 0, pendingSamples: 1 });
    expect(end).toBe('exit');
  });
});
