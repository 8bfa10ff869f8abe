/**
 * Error classes. Every error replaykit throws for bad input or a call in the wrong
 * state is a {@link ReplayError}; a rejected call leaves the buffer exactly as it was.
 * @module
 */

/** Base class of every error replaykit throws on purpose. `code` names the kind. */
export class ReplayError extends Error {
  /** A stable, machine-readable kind: `'REPLAYKIT_SHAPE'`, `'REPLAYKIT_DTYPE'`, `'REPLAYKIT_RANGE'`, `'REPLAYKIT_STATE'`, `'REPLAYKIT_ARCHIVE'`, `'REPLAYKIT_STORAGE'` or `'REPLAYKIT_RATE_LIMIT'`. */
  readonly code: string = 'REPLAYKIT_ERROR';
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * A field is missing, unknown or of the wrong length; a shape or schema is invalid;
 * two arrays that must have the same length do not.
 */
export class ShapeError extends ReplayError {
  override readonly code = 'REPLAYKIT_SHAPE';
}

/** A value is of the wrong type: e.g. a `Float64Array` where the field is `float32`, or an unknown dtype name. */
export class DtypeError extends ReplayError {
  override readonly code = 'REPLAYKIT_DTYPE';
}

/**
 * A number is outside what is allowed: a non-integer or non-positive capacity or batch
 * size, a batch larger than what is stored, a NaN, infinite or non-positive priority,
 * an index the buffer never handed out, an integer out of its dtype's range.
 */
export class OutOfRangeError extends ReplayError {
  override readonly code = 'REPLAYKIT_RANGE';
}

/** A call in the wrong state: any use of a buffer after `close()`, or a prioritized-only call on a uniform buffer. */
export class StateError extends ReplayError {
  override readonly code = 'REPLAYKIT_STATE';
}

/** An archive file is missing, truncated, corrupt or of another format version. */
export class ArchiveError extends ReplayError {
  override readonly code = 'REPLAYKIT_ARCHIVE';
}

/**
 * A file-system fault of disk-backed storage: a missing or unwritable directory, no space
 * left on the device (found when the file is created, since its space is reserved then),
 * or a path already in use by another open buffer.
 */
export class StorageError extends ReplayError {
  override readonly code = 'REPLAYKIT_STORAGE';
}

/**
 * A call waiting for the rate limiter's admission (`sampleAsync`, `pushAsync`,
 * `pushBatchAsync`) gave up: its `timeoutMs` passed or its `signal` aborted (then `cause` is the
 * signal's reason). Nothing changed: no item was counted by the limiter, stored or sampled.
 * A buffer closed while a call waits rejects it with {@link StateError} instead.
 */
export class RateLimitError extends ReplayError {
  override readonly code = 'REPLAYKIT_RATE_LIMIT';
  /** Why the call stopped waiting: `'timeout'` or `'abort'`. */
  readonly reason: 'timeout' | 'abort';
  constructor(message: string, reason: 'timeout' | 'abort', options?: { cause?: unknown }) {
    super(message);
    this.reason = reason;
    if (options && 'cause' in options) Object.defineProperty(this, 'cause', { value: options.cause, writable: true, configurable: true });
  }
}
