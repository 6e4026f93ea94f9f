import { PageSlots } from './page-slots';
import { PdfError } from './pdf-error';

describe('PageSlots', () => {
  it('serves waiters in order, before anyone who only tries', async () => {
    const slots = new PageSlots(1);
    await slots.acquire();
    const served: string[] = [];
    const first = slots.acquire().then(() => served.push('first'));
    const second = slots.acquire().then(() => served.push('second'));

    slots.release();
    expect(slots.tryAcquire(1)).toBe(0);
    await first;
    slots.release();
    await second;

    expect(served).toEqual(['first', 'second']);
    expect(slots.tryAcquire(1)).toBe(0);
    slots.release();
    expect(slots.tryAcquire(2)).toBe(1);
  });

  it('gives up a wait once its signal aborts, holding nothing, and serves the next waiter', async () => {
    const slots = new PageSlots(1);
    await slots.acquire();
    const deadline = new AbortController();
    const aborted = slots.acquire(deadline.signal);
    const next = slots.acquire();
    expect(slots.waiters).toBe(2);

    deadline.abort();
    await expect(aborted).rejects.toBeInstanceOf(PdfError);
    expect(slots.waiters).toBe(1);
    slots.release();
    await next;
    slots.release();

    expect(slots.tryAcquire(1)).toBe(1);
    await expect(slots.acquire(deadline.signal)).rejects.toBeInstanceOf(PdfError);
  });
});
