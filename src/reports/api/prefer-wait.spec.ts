import { preferredWait, prefersAsync } from './prefer-wait';

describe('Prefer: wait=N (RFC 7240)', () => {
  it('reads the wait preference among others', () => {
    expect(preferredWait('wait=10')).toBe(10);
    expect(preferredWait('respond-async, wait=5')).toBe(5);
    expect(preferredWait('return=minimal; wait = "7"')).toBe(7);
    expect(preferredWait('WAIT=3')).toBe(3);
  });

  it('caps the wait at 30 seconds', () => {
    expect(preferredWait('wait=31')).toBe(30);
    expect(preferredWait('wait=999999')).toBe(30);
  });

  it('ignores what is not a wait preference', () => {
    for (const prefer of [
      undefined,
      '',
      'respond-async',
      'wait=',
      'wait=-1',
      'wait=1.5',
      'await=3',
      'wait=abc',
    ]) {
      expect(preferredWait(prefer)).toBeUndefined();
    }
  });
});

describe('Prefer: respond-async (RFC 7240)', () => {
  it('reads respond-async alone, among others, with parameters and in any case', () => {
    for (const prefer of [
      'respond-async',
      'wait=10, respond-async',
      'respond-async, wait=10',
      ' Respond-Async ;foo=bar',
      'return=minimal,respond-async',
    ]) {
      expect(prefersAsync(prefer)).toBe(true);
    }
  });

  it('ignores what is not respond-async', () => {
    for (const prefer of [
      undefined,
      '',
      'wait=10',
      'respond-asynchronously',
      'x-respond-async',
      'return=respond-async',
    ]) {
      expect(prefersAsync(prefer)).toBe(false);
    }
  });
});
