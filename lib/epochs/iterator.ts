/**
 * The epoch iterator: sweeping a buffer without replacement, batch by batch.
 * @module
 */
import { checkInteger } from '../schema/checks';
import { OutOfRangeError } from '../errors';

/** Options of `epochs()` and `createEpochIterator()`. */
export interface EpochOptions {
  /** Rows per batch; a positive integer. */
  batchSize: number;
  /** Whether each epoch visits the items in a fresh seeded permutation (default) or oldest first. */
  shuffle?: boolean;
  /** Whether to drop an epoch's last batch when it is smaller than `batchSize`; default false. */
  dropLast?: boolean;
}

/** What an epoch iterator needs from its buffer. @internal */
export interface EpochHost<B> {
  /** The keys of the items stored now, in a fresh permutation or oldest first. */
  epochKeys(shuffle: boolean): Float64Array;
  /** Up to `want` live items named from keys[start...]: the batch (null when none) and how many keys it consumed. */
  readLive(keys: Float64Array, start: number, want: number): { batch: B | null; consumed: number };
}

/**
 * Where an iterator is: epochs begun, the keys of the current epoch (null before the first),
 * and how many of them were consumed. Its own object, so that whoever made the iterator
 * can archive and restore it. @internal
 */
export class EpochCursor {
  epoch = 0;
  cursor = 0;
  keys: Float64Array | null = null;
}

/**
 * Iterates epochs over a buffer. Each epoch covers the items stored when it begins,
 * each exactly once: items pushed during an epoch join from the next epoch on, and
 * items overwritten during it are skipped (never replaced by their newcomers), so every
 * row handed back is the item it stands for. Batches are full but for the epoch's last.
 */
export class EpochIterator<B> implements IterableIterator<B> {
  /** Rows per batch. */
  readonly batchSize: number;
  /** Epochs to run. */
  readonly epochs: number;
  /** Whether each epoch is a fresh permutation. */
  readonly shuffle: boolean;
  /** Whether a short last batch is dropped. */
  readonly dropLast: boolean;
  readonly #host: EpochHost<B>;
  readonly #at: EpochCursor;

  /** @internal */
  constructor(host: EpochHost<B>, options: EpochOptions, epochs: number, at = new EpochCursor()) {
    if (typeof options !== 'object' || options === null) throw new OutOfRangeError('epoch options must be an object with a batchSize');
    // A bound that no real batch reaches, checked before anything is drawn: 2^33 would only fail later.
    this.batchSize = checkInteger(options.batchSize, 'batchSize', 1, 2 ** 32 - 1);
    this.epochs = checkInteger(epochs, 'epochs', 0);
    this.shuffle = options.shuffle ?? true;
    this.dropLast = options.dropLast ?? false;
    if (typeof this.shuffle !== 'boolean' || typeof this.dropLast !== 'boolean')
      throw new OutOfRangeError('shuffle and dropLast must be booleans');
    this.#host = host;
    this.#at = at;
  }

  /** The epoch under way: 1 for the first; 0 before the first batch. */
  get epoch(): number {
    return this.#at.epoch;
  }

  /** The next batch, or `done` after the last epoch. */
  next(): IteratorResult<B, undefined> {
    const at = this.#at;
    for (;;) {
      if (at.keys === null || at.cursor >= at.keys.length) {
        if (at.epoch >= this.epochs) return { done: true, value: undefined };
        at.keys = this.#host.epochKeys(this.shuffle);
        at.cursor = 0;
        at.epoch++;
        continue;
      }
      const { batch, consumed } = this.#host.readLive(at.keys, at.cursor, this.batchSize);
      at.cursor += consumed;
      if (batch === null) continue; // the rest of this epoch was overwritten
      if (this.dropLast && (batch as { indices: Float64Array }).indices.length < this.batchSize) {
        at.cursor = at.keys.length;
        continue;
      }
      return { done: false, value: batch };
    }
  }

  [Symbol.iterator](): this {
    return this;
  }
}
