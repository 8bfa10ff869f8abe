/**
 * The ObjectRL- and TorchRL-style step API's state: the buffer's own epoch iterator (or a
 * batch size to sample at random), what `getNextBatch` and `getStepsAndIterator` do with it,
 * and its record in an archive.
 * @module
 */
import { StateError, OutOfRangeError } from '../errors';
import { checkInteger } from '../schema/checks';
import type { ArchiveInfo, ArchiveMetaJs } from '../native/contract';
import { EpochCursor, EpochIterator, EpochOptions } from './iterator';

/** What the step API needs from its buffer. @internal */
export interface StepHost<B> {
  assertOpen(): void;
  /** Items stored (the buffer is open). */
  readonly length: number;
  /** A new epoch iterator over the buffer, starting from `at`. */
  epochs(options: EpochOptions & { epochs?: number }, at?: EpochCursor): EpochIterator<B>;
  /** A batch drawn as `sample(batchSize)` draws it. */
  sample(batchSize: number): B;
}

/** The options of `getStepsAndIterator`. @internal */
export interface StepOptions {
  nEpochs: number;
  maxIter: number;
  batchSize: number;
  shuffle?: boolean;
  dropLast?: boolean;
}

/** One buffer's step API state. @internal */
export class StepState<B> {
  readonly #host: StepHost<B>;
  #iterator: EpochIterator<B> | null = null;
  #at: EpochCursor | null = null; // where #iterator is
  #randomBatchSize = 0; // getNextBatch samples at random when > 0 (getStepsAndIterator with nEpochs 0)

  constructor(host: StepHost<B>) {
    this.#host = host;
  }

  /** `createEpochIterator`: makes the buffer's own iterator and returns it. */
  createEpochIterator(options: EpochOptions & { nEpochs?: number }): EpochIterator<B> {
    const at = new EpochCursor();
    this.#iterator = this.#host.epochs({ ...options, epochs: options?.nEpochs ?? 1 }, at);
    this.#at = at;
    this.#randomBatchSize = 0;
    return this.#iterator;
  }

  /** `getNextBatch`: the iterator's next batch, or a random one. */
  getNextBatch(): B {
    this.#host.assertOpen();
    if (this.#randomBatchSize > 0) return this.#host.sample(this.#randomBatchSize);
    if (this.#iterator === null) throw new StateError('no epoch iterator: call createEpochIterator() or getStepsAndIterator() first');
    const r = this.#iterator.next();
    if (r.done) throw new StateError('the epoch iterator is exhausted: call createEpochIterator() or getStepsAndIterator() again');
    return r.value;
  }

  /** `getStepsAndIterator`: prepares `getNextBatch` and returns the number of steps. */
  getStepsAndIterator(options: StepOptions): number {
    this.#host.assertOpen();
    if (typeof options !== 'object' || options === null) throw new OutOfRangeError('getStepsAndIterator needs { nEpochs, maxIter, batchSize }');
    const nEpochs = checkInteger(options.nEpochs, 'nEpochs', 0);
    const batchSize = checkInteger(options.batchSize, 'batchSize', 1);
    const maxIter = checkInteger(options.maxIter, 'maxIter', 0); // checked whatever nEpochs, so a bad call prepares nothing
    if (nEpochs === 0) {
      this.#iterator = null;
      this.#at = null;
      this.#randomBatchSize = batchSize;
      return maxIter;
    }
    const it = this.createEpochIterator({ ...options, nEpochs, batchSize });
    const n = this.#host.length;
    return nEpochs * (it.dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize));
  }

  /** The epoch record an archive holds (none when the step API was not used). */
  archivePart(): Pick<ArchiveMetaJs, 'epoch'> {
    const it = this.#iterator;
    if (it === null && this.#randomBatchSize === 0) return {};
    const at = this.#at;
    return {
      epoch: {
        nEpochs: it?.epochs ?? 0,
        epoch: at?.epoch ?? 0,
        cursor: at?.cursor ?? 0,
        batchSize: it?.batchSize ?? 0,
        randomBatchSize: this.#randomBatchSize,
        shuffle: it?.shuffle ?? false,
        dropLast: it?.dropLast ?? false,
        iterator: it !== null,
        keys: at?.keys ?? null,
      },
    };
  }

  /** Resumes from an archive's epoch record (its keys already copied out of the file by the binding). */
  restore(e: ArchiveInfo['epoch']): void {
    if (e === undefined) return;
    this.#randomBatchSize = e.randomBatchSize;
    if (!e.iterator) return;
    const at = new EpochCursor();
    at.epoch = e.epoch;
    at.cursor = e.cursor;
    at.keys = e.keys;
    this.#iterator = this.#host.epochs({ batchSize: e.batchSize, epochs: e.nEpochs, shuffle: e.shuffle, dropLast: e.dropLast }, at);
    this.#at = at;
  }
}
