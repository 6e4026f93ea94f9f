import { estimateRetryAfter } from './retry-after';

describe('Retry-After estimate', () => {
  const base = { jobsAhead: 0, concurrency: 2, meanRenderMs: 3000, progress: 0 };

  it('is the mean render time when nothing is ahead', () => {
    expect(estimateRetryAfter(base)).toBe(3);
  });

  it('grows with the work ahead, drained concurrency at a time', () => {
    expect(estimateRetryAfter({ ...base, jobsAhead: 4 })).toBe(9);
    expect(estimateRetryAfter({ ...base, jobsAhead: 4, concurrency: 4 })).toBe(6);
  });

  it('shrinks as the render progresses', () => {
    expect(estimateRetryAfter({ ...base, meanRenderMs: 10000, progress: 50 })).toBe(5);
  });

  it('is never below 1 s nor above 60 s', () => {
    expect(estimateRetryAfter({ ...base, meanRenderMs: 10 })).toBe(1);
    expect(estimateRetryAfter({ ...base, progress: 100 })).toBe(1);
    expect(estimateRetryAfter({ ...base, jobsAhead: 10000 })).toBe(60);
  });

  it('survives nonsense inputs', () => {
    expect(
      estimateRetryAfter({ jobsAhead: -5, concurrency: 0, meanRenderMs: -1, progress: 400 }),
    ).toBe(1);
  });
});
