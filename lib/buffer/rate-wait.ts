/**
 * Waiting for the rate limiter without blocking the event loop: the JS half of
 * native/binding/rate_wait.h. A call asks the native limiter to admit its items; when the
 * limiter cannot at once, the wait is queued there and the grant (counted by the core when it
 * is decided, on whichever thread decides it) comes back through the event loop, where the
 * call's work runs at once, with no other JavaScript in between. A timeout or an abort cancels
 * the queued wait: the core confirms that nothing was counted, and the call rejects with
 * {@link RateLimitError}; if the grant was decided first, the call goes ahead as granted.
 * @module
 */
import { RateLimitError, StateError } from '../errors';
import type { NativeRateWaits, RateSide } from '../native/contract';

/** setTimeout's largest delay (about 24.8 days); longer timeouts wait without a limit. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Validated waiting options. @internal */
export interface RateWait {
  readonly signal: AbortSignal | undefined;
  /** Milliseconds; Infinity for no limit. */
  readonly timeoutMs: number;
}

/** The admission of one buffer's calls by its native rate limiter. @internal */
export class RateGate {
  readonly #native: NativeRateWaits;
  readonly #keepAlive: boolean;

  /**
   * `keepAlive`: a queued wait keeps this thread's event loop alive (a writer in a worker
   * waiting for the learner on another thread must not see its worker end meanwhile). Without
   * it, as for the buffer's own calls, a wait that nothing in this process can release lets
   * the process end rather than hang.
   */
  constructor(native: NativeRateWaits, keepAlive = false) {
    this.#native = native;
    this.#keepAlive = keepAlive;
  }

  /**
   * Waits until the limiter admits `n` items on `side` (counting them), then runs `run` and
   * settles with its result. `run` runs synchronously here when admitted at once, otherwise in
   * the event-loop task that delivers the grant; if it throws, the grant is given back
   * (nothing counted) and the promise rejects with its error. `queued` runs once if the call
   * has to wait (to copy input that the caller may reuse meanwhile). `what` names the call.
   */
  admit<T>(side: RateSide, n: number, wait: RateWait, what: string, run: () => T, queued?: () => void): Promise<T> {
    const { signal, timeoutMs } = wait;
    if (signal?.aborted) return Promise.reject(aborted(what, signal));
    const native = this.#native;
    return new Promise<T>((resolve, reject) => {
      const go = (): void => {
        try {
          resolve(run());
        } catch (e) {
          native.rateRefund(side, n);
          reject(e);
        }
      };
      let timer: NodeJS.Timeout | undefined;
      let alive: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      const cleanup = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        if (alive !== undefined) clearInterval(alive);
        if (onAbort) signal?.removeEventListener('abort', onAbort);
      };
      const id = native.rateWait(side, n, (result) => {
        cleanup();
        if (result === 'granted') go();
        else reject(new StateError(`the buffer was closed while ${what} waited for the rate limiter; nothing was ${side === 'insert' ? 'stored' : 'sampled'}`));
      });
      if (id === 0) return go();
      if (id < 0) return reject(new StateError('the buffer is closed'));
      queued?.();
      if (this.#keepAlive) alive = setInterval(() => undefined, MAX_TIMER_MS);
      // Only a wait still queued can be given up: otherwise its grant (or close) is on its way.
      const giveUp = (error: RateLimitError): void => {
        if (!native.rateCancel(id)) return;
        cleanup();
        reject(error);
      };
      if (timeoutMs <= MAX_TIMER_MS) {
        const items = `${n} ${side === 'insert' ? 'insert' : 'sample'}${n === 1 ? '' : 's'}`;
        timer = setTimeout(
          () => giveUp(new RateLimitError(`${what} timed out after ${timeoutMs} ms waiting for the rate limiter to admit ${items}; nothing changed`, 'timeout')),
          timeoutMs,
        );
      }
      if (signal) {
        onAbort = () => giveUp(aborted(what, signal));
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }
}

function aborted(what: string, signal: AbortSignal): RateLimitError {
  return new RateLimitError(`${what} was aborted while waiting for the rate limiter; nothing changed`, 'abort', { cause: signal.reason });
}
