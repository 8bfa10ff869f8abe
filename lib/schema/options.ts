/**
 * Option keys: which keys each kind of buffer, storage and field spec takes, and the one
 * check that refuses an unknown, misspelt or null key with a message naming it (and the key
 * it probably meant). Silently ignoring `sed: 5` would give a random seed.
 * @module
 */
import { OutOfRangeError, ReplayError } from '../errors';

/** Options of every buffer. @internal */
export const COMMON_KEYS = ['capacity', 'seed', 'storage', 'rateLimiter', 'episodes', 'nStep', 'her', 'frameStack', 'validateNext'] as const;
/** The shorthand schema's options. @internal */
export const SHORTHAND_KEYS = ['obsShape', 'obsDtype', 'actionShape', 'actionDtype', 'extraFields', 'nextObsFromNext'] as const;
/** The explicit schema's option. @internal */
export const EXPLICIT_KEYS = ['fields'] as const;
/** Options of prioritized buffers only. @internal */
export const PRIORITIZED_KEYS = ['alpha', 'betaStart', 'betaEnd', 'betaFrames', 'epsilon', 'eviction'] as const;
/** Options of `load` / `loadSync` beside the constructor's. @internal */
export const LOAD_KEYS = ['ifMissing', 'onProgress'] as const;

type ErrorClass = new (message: string) => ReplayError;

/**
 * Refuses a key of `obj` not in `allowed`, naming it and the allowed key it is closest to
 * (a typo or a case slip), and a known key whose value is `null` (omit a key for its
 * default). `what` names the object in messages ('option', "storage option", "field 'obs'").
 * `elsewhere` maps keys that belong to another kind to a hint (e.g. prioritized options on a
 * uniform buffer). @internal
 */
export function checkKeys(
  obj: object,
  allowed: readonly string[],
  what: string,
  ErrorType: ErrorClass = OutOfRangeError,
  elsewhere?: { keys: readonly string[]; hint: string },
): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      if (elsewhere?.keys.includes(key)) throw new ErrorType(`unknown ${what} '${key}': ${elsewhere.hint}`);
      const near = nearest(key, allowed);
      throw new ErrorType(`unknown ${what} '${key}'${near ? `; did you mean '${near}'?` : ''} (${what}s: ${allowed.map((k) => `'${k}'`).join(', ')})`);
    }
    if ((obj as Record<string, unknown>)[key] === null) throw new ErrorType(`${what} '${key}' is null: omit it to take its default`);
  }
}

/** The allowed key closest to `key` by edit distance (case-insensitive, transpositions count 1), if close enough to be a slip. */
function nearest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of allowed) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(1, Math.min(2, Math.floor(key.length / 3))) ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent transpositions. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.length][b.length];
}

/** `options` without the keys that only `load` takes (what `ifMissing: 'empty'` builds a buffer from). @internal */
export function withoutLoadKeys<T extends object>(options: T): T {
  const out: Record<string, unknown> = { ...(options as Record<string, unknown>) };
  for (const k of LOAD_KEYS) delete out[k];
  return out as T;
}

/**
 * The options of `load` / `loadSync`, their keys checked: the constructor's (which must then
 * agree with the archive) and the load's own. {} when omitted. @internal
 */
export function loadOptions<T extends object>(options: T | undefined): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null) throw new OutOfRangeError(`load options must be an object, got ${options === null ? 'null' : typeof options}`);
  checkKeys(options, [...COMMON_KEYS, ...SHORTHAND_KEYS, ...EXPLICIT_KEYS, ...PRIORITIZED_KEYS, ...LOAD_KEYS], 'load option');
  const onProgress = (options as { onProgress?: unknown }).onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new OutOfRangeError(`load option 'onProgress' must be a function, got ${typeof onProgress}`);
  return options;
}
