import { JITTER_RATIO, parseRetryAfter, retryDelayMs } from './retry-schedule';

describe('retry schedule', () => {
  // CALLBACK_RETRY_DELAYS_MS's default in the contract.
  const delays = [5000, 300000, 1800000, 7200000, 18000000, 36000000, 50400000, 72000000, 86400000];
  const middle = () => 0.5;

  it('allows 10 attempts in all with the default schedule', () => {
    const scheduled = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((attempt) =>
      retryDelayMs(attempt, delays, undefined, middle),
    );
    expect(scheduled).toEqual(delays);
    expect(retryDelayMs(10, delays, undefined, middle)).toBeUndefined();
  });

  it('jitters by at most ±10 %', () => {
    expect(JITTER_RATIO).toBe(0.1);
    expect(retryDelayMs(2, delays, undefined, () => 0)).toBe(270000);
    const highest = retryDelayMs(2, delays, undefined, () => 0.9999999)!;
    expect(highest).toBeLessThanOrEqual(330000);
    expect(highest).toBeGreaterThan(329990);
  });

  it('waits for a Retry-After longer than the scheduled delay', () => {
    expect(retryDelayMs(1, delays, 120, middle)).toBe(120000);
  });

  it('keeps the schedule when Retry-After is shorter', () => {
    expect(retryDelayMs(2, delays, 10, middle)).toBe(300000);
  });

  it('caps Retry-After at 24 hours', () => {
    expect(retryDelayMs(1, delays, 7 * 24 * 3600, middle)).toBe(24 * 3600 * 1000);
  });

  it('refuses attempt numbers below 1', () => {
    expect(() => retryDelayMs(0, delays)).toThrow(RangeError);
  });

  describe('parseRetryAfter', () => {
    const now = new Date('2026-01-15T12:00:00Z');

    it('reads delta-seconds', () => {
      expect(parseRetryAfter('120', now)).toBe(120);
      expect(parseRetryAfter(' 0 ', now)).toBe(0);
    });

    it('reads an HTTP-date as the seconds until it, in all three RFC 9110 forms', () => {
      expect(parseRetryAfter('Thu, 15 Jan 2026 12:00:30 GMT', now)).toBe(30);
      expect(parseRetryAfter('Thursday, 15-Jan-26 12:00:30 GMT', now)).toBe(30);
      expect(parseRetryAfter('Thu Jan 15 12:00:30 2026', now)).toBe(30);
    });

    it('reads a date in the past as 0', () => {
      expect(parseRetryAfter('Thu, 15 Jan 2026 11:00:00 GMT', now)).toBe(0);
    });

    it('ignores garbage and negative values', () => {
      for (const bad of [undefined, '', 'soon', 'foo 2020', '-5', '1.5', '12abc']) {
        expect(parseRetryAfter(bad, now)).toBeUndefined();
      }
    });
  });
});
