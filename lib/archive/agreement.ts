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
  const prioritized: Record<string, unknown> | null = archivedPrioritizedOptions(info);
  for (const key of PRIORITIZED_KEYS) {
    if (options[key] === undefined) continue;
    if (prioritized === null) throw new ArchiveError(`option ${key} is for prioritized buffers, but the archive holds a uniform buffer`);
    if (options[key] !== prioritized[key]) differ(key, options[key], prioritized[key]);
  }
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

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : describe(v);
}
