/** Shared helpers for the TypeScript tests. */

/** xorshift32 in [0, 1), for reproducible streams of test data. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Chi-square statistic of observed counts against expected probabilities. */
export function chiSquare(counts: ArrayLike<number>, probs: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  let chi2 = 0;
  for (let i = 0; i < counts.length; i++) {
    const e = total * probs[i];
    chi2 += ((counts[i] - e) * (counts[i] - e)) / e;
  }
  return chi2;
}

/** Upper critical values of chi-square at p = 0.001, by degrees of freedom. */
export const CHI2_CRIT_001: Record<number, number> = { 3: 16.266, 4: 18.467, 5: 20.515, 7: 24.322, 9: 27.877 };

/** A standard transition for obs dimension `d` whose every field encodes `id`. */
export function transition(id: number, d = 4) {
  return {
    obs: Float32Array.from({ length: d }, (_, k) => id + k / 10),
    action: id % 7,
    reward: id * 0.5,
    nextObs: Float32Array.from({ length: d }, (_, k) => id + 1 + k / 10),
    terminated: id % 3 === 0,
    truncated: id % 5 === 0,
  };
}

/** Columns of `n` standard transitions with ids first .. first+n-1. */
export function columns(first: number, n: number, d = 4) {
  const obs = new Float32Array(n * d);
  const nextObs = new Float32Array(n * d);
  const action = new Int32Array(n);
  const reward = new Float32Array(n);
  const terminated = new Uint8Array(n);
  const truncated = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const t = transition(first + r, d);
    obs.set(t.obs, r * d);
    nextObs.set(t.nextObs, r * d);
    action[r] = t.action;
    reward[r] = t.reward;
    terminated[r] = t.terminated ? 1 : 0;
    truncated[r] = t.truncated ? 1 : 0;
  }
  return { obs, action, reward, nextObs, terminated, truncated };
}

/** Asserts that row i of a standard batch is the transition with id = reward * 2, and returns that id. */
export function checkRow(b: { obs: Float32Array; action: Int32Array; reward: Float32Array; nextObs: Float32Array; terminated: Uint8Array; truncated: Uint8Array }, i: number, d = 4): number {
  const id = Math.round(b.reward[i] * 2);
  const t = transition(id, d);
  expect(Array.from(b.obs.subarray(i * d, (i + 1) * d))).toEqual(Array.from(t.obs));
  expect(Array.from(b.nextObs.subarray(i * d, (i + 1) * d))).toEqual(Array.from(t.nextObs));
  expect(b.action[i]).toBe(t.action);
  expect(b.terminated[i]).toBe(t.terminated ? 1 : 0);
  expect(b.truncated[i]).toBe(t.truncated ? 1 : 0);
  return id;
}

/** The id of row i of a standard batch (its reward is id / 2). */
export function idOf(b: { reward: Float32Array }, i: number): number {
  return Math.round(b.reward[i] * 2);
}

/** Asserts that `fn` throws an error of class `cls` with exactly `message`. */
export function expectError(fn: () => unknown, cls: new (message: string) => Error, message: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(cls);
  expect((caught as Error).message).toBe(message);
}
