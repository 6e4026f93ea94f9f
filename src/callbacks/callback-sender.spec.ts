import { describeFailure } from './callback-sender';

describe('a failed connection at delivery time', () => {
  const failure = (code: string, message = `getaddrinfo ${code} partner.example`) =>
    Object.assign(new Error(message), { code });

  it('records a temporary DNS failure (EAI_AGAIN) in its own words, apart from a missing host', () => {
    expect(describeFailure(failure('EAI_AGAIN'), 15000)).toBe('DNS lookup failed temporarily');
    expect(describeFailure(failure('ENOTFOUND'), 15000)).toBe('host not found');
  });

  it('tells a temporary DNS failure from a refused private address', () => {
    const blocked = failure(
      'ERR',
      'DNS lookup 127.0.0.1(family:4, host:partner.example) is not allowed. Because, It is private IP address.',
    );
    expect(describeFailure(blocked, 15000)).toBe(
      'blocked: the host resolves to a private, loopback or reserved address',
    );
    expect(describeFailure(failure('EAI_AGAIN'), 15000)).not.toMatch(/blocked/);
  });
});
