/**
 * Input staging: checks that a transition or a set of columns has exactly the schema's
 * fields, and turns it into the typed arrays, in schema order, that the native push takes.
 * @module
 */
import { AnyTypedArray, describe } from '../schema/dtypes';
import { allocate, ResolvedField } from '../schema/fields';
import { ShapeError } from '../errors';
import { column, rowCount, writeRow } from './convert';

/** Whether `obj` has its own, defined value for `name` (not one inherited from Object.prototype). */
function present(obj: Record<string, unknown>, name: string): boolean {
  return obj[name] !== undefined && Object.hasOwn(obj, name);
}

/** Rows ready for the native push: one typed array per field, in schema order. @internal */
export interface StagedRows {
  arrays: AnyTypedArray[];
  rows: number;
}

/** Stages pushes for one schema. Reuses one scratch row: consume `row()`'s result before the next call. @internal */
export class Stager {
  readonly #fields: readonly ResolvedField[];
  readonly #names: ReadonlySet<string>;
  readonly #where: readonly string[]; // "field 'obs'", per field: error-message prefixes made once
  readonly #row: AnyTypedArray[];

  constructor(fields: readonly ResolvedField[]) {
    this.#fields = fields;
    this.#names = new Set(fields.map((f) => f.name));
    this.#where = fields.map((f) => `field '${f.name}'`);
    this.#row = fields.map((f) => allocate(f, 1));
  }

  /** Whether the schema has a field of this name. */
  has(name: string): boolean {
    return this.#names.has(name);
  }

  /** The schema's field names, quoted, for messages: `'obs', 'action'`. */
  get namesText(): string {
    return this.#fields.map((f) => `'${f.name}'`).join(', ');
  }

  /** Validates one transition and writes it into the scratch row, which it returns. */
  row(t: unknown): AnyTypedArray[] {
    if (typeof t !== 'object' || t === null) throw new ShapeError(`a transition must be an object of fields, got ${describe(t)}`);
    const obj = t as Record<string, unknown>;
    const fields = this.#fields;
    for (let i = 0; i < fields.length; i++) {
      const v = obj[fields[i].name];
      // A function is never a value: it is an inherited member (a field named `toString` that is missing).
      if (v === undefined || typeof v === 'function') this.#throwFieldMismatch(obj);
      writeRow(fields[i], v, this.#row[i], this.#where[i]);
    }
    if (Object.keys(obj).length !== fields.length) this.#throwFieldMismatch(obj);
    return this.#row;
  }

  /**
   * Validates columns; returns the typed arrays in schema order (the user's own where they
   * are already of the field's dtype) and the row count, or null for zero rows.
   */
  columns(columns: unknown): StagedRows | null {
    if (typeof columns !== 'object' || columns === null) throw new ShapeError(`columns must be an object of arrays, got ${describe(columns)}`);
    const obj = columns as Record<string, unknown>;
    const fields = this.#fields;
    for (const f of fields) if (!present(obj, f.name)) this.#throwFieldMismatch(obj);
    if (Object.keys(obj).length !== fields.length) this.#throwFieldMismatch(obj);
    const first = fields[0];
    const rows = rowCount(first, obj[first.name], this.#where[0]);
    const arrays = fields.map((f, i) => column(f, obj[f.name], rows, this.#where[i]));
    return rows === 0 ? null : { arrays, rows };
  }

  #throwFieldMismatch(obj: Record<string, unknown>): never {
    const missing = this.#fields.filter((f) => !present(obj, f.name)).map((f) => f.name);
    const unknown = Object.keys(obj).filter((k) => !this.#names.has(k));
    const parts: string[] = [];
    if (missing.length) parts.push(`missing field(s) ${missing.map((m) => `'${m}'`).join(', ')}`);
    if (unknown.length) parts.push(`unknown field(s) ${unknown.map((m) => `'${m}'`).join(', ')}`);
    throw new ShapeError(`${parts.join('; ')}; the schema's fields are ${this.namesText}`);
  }
}
