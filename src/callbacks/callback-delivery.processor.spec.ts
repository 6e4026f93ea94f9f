import { CallbackStatus } from './callback-event.entity';
import { outcomeOf } from './callback-delivery.processor';

describe('a failed connection at delivery time', () => {
  it('is retried: an attempt without an HTTP status stays PENDING, never FAILED or GONE', () => {
    expect(outcomeOf(null)).toBe(CallbackStatus.Pending);
  });
});
