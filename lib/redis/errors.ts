/**
 * The error classes of the Redis entry point (`replaykit/redis`). Both extend
 * {@link ReplayError}, so one `instanceof ReplayError` still catches everything replaykit
 * throws on purpose.
 * @module
 */
import { ReplayError } from '../errors';

/** An optional package the Redis entry point needs (`ioredis`) is not installed. The message names it and how to install it. */
export class DependencyError extends ReplayError {
  override readonly code = 'REPLAYKIT_DEPENDENCY';
}

/**
 * Redis could not be reached or answered with an error within the retry budget
 * (`retryMs`), or a backpressure wait ran past its `timeoutMs` (then `timedOut` is true).
 * Nothing is dropped: the rows of a failed `flush` stay staged in the actor and are sent by
 * the next `flush`.
 */
export class RemoteError extends ReplayError {
  override readonly code = 'REPLAYKIT_REMOTE';
  /** True when the error is a backpressure wait that exceeded its `timeoutMs`. */
  readonly timedOut: boolean;
  constructor(message: string, options?: { cause?: unknown; timedOut?: boolean }) {
    super(message);
    this.timedOut = options?.timedOut ?? false;
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}
