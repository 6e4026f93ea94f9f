import { PdfError } from './pdf-error';

/** The render's deadline passed while it waited for a slot. */
const slotWaitAborted = () => new PdfError('timeout', 'Timed out waiting for a page');

/**
 * Counting semaphore over a worker's pages: at most `size` prints hold a page at a time, the rest
 * wait in order. A waiter is served before anyone who only tries (`tryAcquire`): a render that
 * borrows free pages never takes one that a render waiting to start needs.
 */
export class PageSlots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  /** Waits for a slot, in order; rejects (a PdfError, holding none) once `signal` aborts. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(slotWaitAborted());
    if (this.free > 0) {
      this.free -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const served = (): void => {
        signal?.removeEventListener('abort', aborted);
        resolve();
      };
      const aborted = (): void => {
        const at = this.waiting.indexOf(served);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(slotWaitAborted());
      };
      signal?.addEventListener('abort', aborted, { once: true });
      this.waiting.push(served);
    });
  }

  /** Takes up to `count` free slots without waiting, none while a render waits; answers how many. */
  tryAcquire(count: number): number {
    const taken = Math.max(0, Math.min(count, this.free));
    this.free -= taken;
    return taken;
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }

  /** Renders waiting for a slot. */
  get waiters(): number {
    return this.waiting.length;
  }
}
