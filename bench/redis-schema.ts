/** The MuJoCo schema of the Redis bench (166 bytes a row) and its rows, shared by bench/redis.ts and its actor processes. */
export const MUJOCO_SCHEMA = {
  obs: { shape: [17], dtype: 'float32' },
  action: { shape: [6], dtype: 'float32' },
  reward: { shape: [], dtype: 'float32' },
  nextObs: { shape: [17], dtype: 'float32' },
  terminated: { shape: [], dtype: 'bool' },
  truncated: { shape: [], dtype: 'bool' },
} as const;
export const MUJOCO_ROW_BYTES = 166;
/** Rows per stream entry. */
export const ENTRY_ROWS = 256;

/** `n` rows of pseudo-random values (fixed seed). */
export function mujocoRows(n: number) {
  let s = 12345;
  const f = (k: number) => Float32Array.from({ length: k }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
  const b = (k: number) => Uint8Array.from({ length: k }, (_, i) => (i % 97 === 0 ? 1 : 0));
  return { obs: f(17 * n), action: f(6 * n), reward: f(n), nextObs: f(17 * n), terminated: b(n), truncated: b(n) };
}
