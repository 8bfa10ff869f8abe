/**
 * The plain TypeScript reference: the replay buffer a competent Node user writes by hand
 * today. One typed array per field in a ring, `Math.random` indices, a Float64Array
 * binary sum-tree and min-tree for prioritized replay (as in OpenAI Baselines'
 * segment trees), `Math.pow` for p^alpha and the weights. Same schema, same outputs
 * (one typed array per field, indices, weights) as replaykit, so the work is the same.
 * @module
 */

/** A field of the reference buffer: Float32Array or Uint8Array storage. */
export interface PlainField {
  readonly name: string;
  readonly elems: number;
  readonly kind: 'f32' | 'u8';
}

export type PlainArray = Float32Array | Uint8Array;
export type PlainColumns = Record<string, PlainArray>;
export type PlainRow = Record<string, number | PlainArray>;

function alloc(f: PlainField, rows: number): PlainArray {
  return f.kind === 'f32' ? new Float32Array(rows * f.elems) : new Uint8Array(rows * f.elems);
}

/** A uniform FIFO ring. */
export class PlainReplay {
  readonly capacity: number;
  readonly fields: readonly PlainField[];
  readonly data: PlainArray[];
  length = 0;
  cursor = 0;

  constructor(capacity: number, fields: readonly PlainField[]) {
    this.capacity = capacity;
    this.fields = fields;
    this.data = fields.map((f) => alloc(f, capacity));
  }

  /** One transition: scalars as numbers, the rest as typed arrays. Returns its slot. */
  push(row: PlainRow): number {
    const slot = this.cursor;
    for (let f = 0; f < this.fields.length; f++) {
      const fd = this.fields[f];
      const v = row[fd.name];
      const d = this.data[f];
      if (typeof v === 'number') d[slot] = v;
      else d.set(v, slot * fd.elems);
    }
    this.cursor = slot + 1 === this.capacity ? 0 : slot + 1;
    if (this.length < this.capacity) this.length++;
    return slot;
  }

  /** `n` rows as one typed array per field; returns the first slot. */
  pushBatch(cols: PlainColumns, n: number): number {
    const first = this.cursor;
    const head = Math.min(n, this.capacity - first);
    for (let f = 0; f < this.fields.length; f++) {
      const e = this.fields[f].elems;
      const src = cols[this.fields[f].name];
      const d = this.data[f];
      d.set(head === n ? src : src.subarray(0, head * e), first * e);
      if (head < n) d.set(src.subarray(head * e, n * e), 0);
    }
    this.cursor = (first + n) % this.capacity;
    this.length = Math.min(this.capacity, this.length + n);
    return first;
  }

  /** Fresh output arrays for a batch of n. */
  newBatch(n: number): PlainColumns {
    const out: PlainColumns = {};
    for (const f of this.fields) out[f.name] = alloc(f, n);
    return out;
  }

  /** Copies the rows at `slots` into `out` (fresh arrays when omitted). */
  gather(slots: Uint32Array, out: PlainColumns): PlainColumns {
    const n = slots.length;
    for (let f = 0; f < this.fields.length; f++) {
      const e = this.fields[f].elems;
      const src = this.data[f];
      const dst = out[this.fields[f].name];
      if (e === 1) {
        for (let i = 0; i < n; i++) dst[i] = src[slots[i]];
      } else if (e < 64) {
        for (let i = 0; i < n; i++) {
          const s = slots[i] * e;
          const o = i * e;
          for (let k = 0; k < e; k++) dst[o + k] = src[s + k];
        }
      } else {
        for (let i = 0; i < n; i++) dst.set(src.subarray(slots[i] * e, slots[i] * e + e), i * e);
      }
    }
    return out;
  }

  /** `n` items uniformly with replacement. */
  sample(n: number, out?: PlainColumns, slots: Uint32Array = new Uint32Array(n)): { batch: PlainColumns; slots: Uint32Array } {
    for (let i = 0; i < n; i++) slots[i] = Math.floor(Math.random() * this.length);
    return { batch: this.gather(slots, out ?? this.newBatch(n)), slots };
  }
}

/** A binary sum-tree over a power-of-two number of leaves (1-based heap in a Float64Array). */
export class PlainSumTree {
  readonly leaves: number;
  readonly t: Float64Array;
  constructor(capacity: number) {
    let l = 1;
    while (l < capacity) l *= 2;
    this.leaves = l;
    this.t = new Float64Array(2 * l);
  }
  set(i: number, v: number): void {
    const t = this.t;
    let n = this.leaves + i;
    t[n] = v;
    for (n >>= 1; n >= 1; n >>= 1) t[n] = t[2 * n] + t[2 * n + 1];
  }
  get total(): number {
    return this.t[1];
  }
  find(mass: number): number {
    const t = this.t;
    let n = 1;
    while (n < this.leaves) {
      const l = t[2 * n];
      if (mass < l || !(t[2 * n + 1] > 0)) n = 2 * n;
      else {
        mass -= l;
        n = 2 * n + 1;
      }
    }
    return n - this.leaves;
  }
}

/** A binary min-tree (empty leaves are +Infinity). */
export class PlainMinTree {
  readonly leaves: number;
  readonly t: Float64Array;
  constructor(capacity: number) {
    let l = 1;
    while (l < capacity) l *= 2;
    this.leaves = l;
    this.t = new Float64Array(2 * l).fill(Infinity);
  }
  set(i: number, v: number): void {
    const t = this.t;
    let n = this.leaves + i;
    t[n] = v;
    for (n >>= 1; n >= 1; n >>= 1) {
      const a = t[2 * n];
      const b = t[2 * n + 1];
      t[n] = a < b ? a : b;
    }
  }
  get min(): number {
    return this.t[1];
  }
}

/** Proportional prioritized replay over {@link PlainReplay}: stratified sampling, IS weights. */
export class PlainPrioritized extends PlainReplay {
  readonly alpha: number;
  readonly sum: PlainSumTree;
  readonly mins: PlainMinTree;
  maxPriority = 1;

  constructor(capacity: number, fields: readonly PlainField[], alpha: number) {
    super(capacity, fields);
    this.alpha = alpha;
    this.sum = new PlainSumTree(capacity);
    this.mins = new PlainMinTree(capacity);
  }

  private setPriority(slot: number, p: number): void {
    this.sum.set(slot, Math.pow(p, this.alpha));
    this.mins.set(slot, p);
    if (p > this.maxPriority) this.maxPriority = p;
  }

  override push(row: PlainRow): number {
    const slot = super.push(row);
    this.setPriority(slot, this.maxPriority);
    return slot;
  }

  override pushBatch(cols: PlainColumns, n: number): number {
    const first = super.pushBatch(cols, n);
    for (let r = 0; r < n; r++) this.setPriority((first + r) % this.capacity, this.maxPriority);
    return first;
  }

  /** Stratified prioritized sample with importance-sampling weights for `beta`. */
  samplePrioritized(
    n: number,
    beta: number,
    out?: PlainColumns,
    slots: Uint32Array = new Uint32Array(n),
    weights: Float32Array = new Float32Array(n),
  ): { batch: PlainColumns; slots: Uint32Array; weights: Float32Array } {
    const total = this.sum.total;
    const segment = total / n;
    for (let i = 0; i < n; i++) slots[i] = this.sum.find(Math.min((i + Math.random()) * segment, total * (1 - 1e-16)));
    const minMass = Math.pow(this.mins.min, this.alpha);
    const leaves = this.sum.leaves;
    for (let i = 0; i < n; i++) weights[i] = Math.min(1, Math.pow(minMass / this.sum.t[leaves + slots[i]], beta));
    return { batch: this.gather(slots, out ?? this.newBatch(n)), slots, weights };
  }

  /** p = |delta| + epsilon for each slot. */
  updatePriorities(slots: Uint32Array, deltas: Float32Array | Float64Array, epsilon: number): void {
    for (let i = 0; i < slots.length; i++) this.setPriority(slots[i], Math.abs(deltas[i]) + epsilon);
  }
}
