import { preferredWait } from './prefer-wait';

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
