/**
 * Load options against the archive they load: an option given to `load` must agree with what
 * the archive holds (a job's second run passes the options that made the buffer); only
 * `storage` may differ, by design. A disagreement is an ArchiveError naming the option,
 * never a silent choice of one side.
 * @module
 */
import { ArchiveError } from '../errors';
import { describe } from '../schema/dtypes';
import { resolveFields } from '../schema/fields';
import { PRIORITIZED_KEYS } from '../schema/options';
import { archivedPrioritizedOptions } from '../buffer/samplers';
import { resolveRateLimiter } from '../schema/rate-limiter';
import type { BufferOptions } from '../schema/types';
import type { ArchiveInfo } from '../native/contract';

/** Throws ArchiveError for the first option of `options` that disagrees with the archive `info` describes. @internal */
export function checkAgreement(info: ArchiveInfo, options: Record<string, unknown>): void {
  const differ = (option: string, given: unknown, archived: unknown): never => {
    throw new ArchiveError(`option ${option} disagrees with the archive: the archive holds ${show(archived)}, the options give ${show(given)} (omit it, or load another archive)`);
  };
  if (options.capacity !== undefined && options.capacity !== info.capacity) differ('capacity', options.capacity, info.capacity);
  if (options.seed !== undefined && options.seed !== info.seed) differ('seed', options.seed, info.seed);
  if (options.fields !== undefined || options.obsShape !== undefined) checkSchema(info, options);
  checkDerived(info, options, differ);
  if (options.rateLimiter !== undefined) checkRateLimiter(info, options.rateLimiter);
  if (options.nStep !== undefined) checkNStep(info, options.nStep);
  if (options.episodes !== undefined && options.episodes !== (info.episodes !== undefined))
    differ('episodes', options.episodes, info.episodes !== undefined);
  const prioritized: Record<string, unknown> | null = archivedPrioritizedOptions(info);
  for (const key of PRIORITIZED_KEYS) {
    if (options[key] === undefined) continue;
    if (prioritized === null) throw new ArchiveError(`option ${key} is for prioritized buffers, but the archive holds a uniform buffer`);
    if (options[key] !== prioritized[key]) differ(key, options[key], prioritized[key]);
  }
}

/**
 * The `nStep` option against the archive's: the same n and gamma. The episode index is the
 * buffer's state: a buffer saved without one cannot gain it at load (the env streams of the
 * stored items are not known), nor lose it (omit the option to take the archive's).
 */
function checkNStep(info: ArchiveInfo, option: unknown): void {
  const archived = info.episodes?.nStep ?? null;
  if (archived === null) throw new ArchiveError(`option nStep disagrees with the archive: the archive holds a buffer without n-step returns, the options give ${show(option)}`);
  const o = option as { n?: unknown; gamma?: unknown } | null;
  if (typeof o !== 'object' || o === null || o.n !== archived.n || o.gamma !== archived.gamma)
    throw new ArchiveError(`option nStep disagrees with the archive: the archive holds ${show(archived)}, the options give ${show(option)} (omit it, or load another archive)`);
}

/**
 * Observations stored once against the archive's: the field with `next` (explicit schema) or
 * `nextObsFromNext` (shorthand), `frameStack` and `validateNext`, each when given. A schema given
 * without `next` for an archive of a buffer that stores observations once (or the reverse)
 * disagrees: the archive's rows are stored one way, and a load cannot change it.
 */
function checkDerived(info: ArchiveInfo, options: Record<string, unknown>, differ: (option: string, given: unknown, archived: unknown) => never): void {
  const d = info.derived;
  if (options.fields !== undefined || options.obsShape !== undefined) {
    const nextOf = new Map<string, string>();
    resolveFields(options as unknown as BufferOptions, nextOf);
    const option = options.fields !== undefined ? 'next (in a field spec)' : 'nextObsFromNext';
    const given = [...nextOf][0];
    const text = (x: { obs: string; next: string } | undefined) => (x ? `'${x.obs}' with next '${x.next}'` : 'every observation stored');
    if ((given === undefined) !== (d === undefined) || (given !== undefined && d !== undefined && (given[0] !== d.obs || given[1] !== d.next)))
      throw new ArchiveError(
        `option ${option} disagrees with the archive: the archive holds ${text(d)}, the options give ${text(given && { obs: given[0], next: given[1] })} (omit the schema, or load another archive)`,
      );
  }
  if (options.frameStack !== undefined) {
    const archived = d && d.frames > 1 ? { field: d.obs, frames: d.frames } : null;
    const o = options.frameStack as { field?: unknown; frames?: unknown } | null;
    const text = (x: { field?: unknown; frames?: unknown } | null) =>
      x === null ? 'no frame stack' : `{ field: ${show(x.field)}, frames: ${show(x.frames)} }`;
    if (archived === null || typeof o !== 'object' || o === null || o.field !== archived.field || o.frames !== archived.frames)
      throw new ArchiveError(
        `option frameStack disagrees with the archive: the archive holds ${text(archived)}, the options give ${typeof o === 'object' ? text(o) : show(o)} (omit it, or load another archive)`,
      );
  }
  if (options.validateNext !== undefined && options.validateNext !== (d?.validateNext ?? false))
    differ('validateNext', options.validateNext, d?.validateNext ?? false);
}

/** The schema the options describe against the archive's: the same fields, in order, of the same dtypes and shapes. */
function checkSchema(info: ArchiveInfo, options: Record<string, unknown>): void {
  const given = resolveFields(options as unknown as BufferOptions);
  const form = options.fields !== undefined ? 'fields' : 'obsShape/obsDtype/actionShape/actionDtype/extraFields';
  const text = (dtype: string, shape: readonly number[]) => `${dtype} [${shape.join(', ')}]`;
  for (let i = 0; i < Math.max(given.length, info.fields.length); i++) {
    const g = given[i];
    const a = info.fields[i];
    if (g === undefined || a === undefined || g.name !== a.name)
      throw new ArchiveError(
        `the schema of the options (${form}) disagrees with the archive's: fields ${given.map((f) => `'${f.name}'`).join(', ')} against ${info.fields.map((f) => `'${f.name}'`).join(', ')}`,
      );
    if (g.dtype !== a.dtype || g.shape.length !== a.shape.length || g.shape.some((d, k) => d !== a.shape[k]))
      throw new ArchiveError(
        `the schema of the options (${form}) disagrees with the archive's: field '${g.name}' is ${text(g.dtype, g.shape)} in the options, ${text(a.dtype, a.shape)} in the archive`,
      );
  }
}

/**
 * The `rateLimiter` option against the archive's limiter: both resolved (defaults filled in),
 * then compared option by option. A buffer saved without a limiter cannot gain one at load
 * (its counters would be invented), nor lose one (omit the option to take the archive's).
 */
function checkRateLimiter(info: ArchiveInfo, option: unknown): void {
  const archived = info.rateLimiter;
  if (!archived)
    throw new ArchiveError('option rateLimiter disagrees with the archive: the archive holds a buffer without a rate limiter (omit the option, or load another archive)');
  const given = resolveRateLimiter(option, info.capacity);
  if (given === null) return;
  for (const key of ['minSize', 'samplesPerInsert', 'errorBuffer'] as const)
    if (!Object.is(given[key], archived[key]))
      throw new ArchiveError(
        `option rateLimiter.${key} disagrees with the archive: the archive holds ${show(archived[key])}, the options give ${show(given[key])}${key === 'errorBuffer' && option !== null && typeof option === 'object' && !('errorBuffer' in option) ? ' (its default)' : ''} (omit rateLimiter, or load another archive)`,
      );
}

function show(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  // An options object is shown by its values ({ n: 3, gamma: 0.99 }), not as 'object'.
  if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v) && !Array.isArray(v))
    return `{ ${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}: ${show(x)}`).join(', ')} }`;
  return describe(v);
}
