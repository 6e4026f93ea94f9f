import { describeFailure } from './callback-sender';

describe('a failed connection at delivery time', () => {
  const failure = (code: string, message = `getaddrinfo ${code} partner.example`) =>
    Object.assign(new Error(message), { code });

  it('records a temporary DNS failure (EAI_AGAIN) in its own words, apart from a missing host', () => {
    expect(describeFailure(failure('EAI_AGAIN'), 15000).detail).toBe(
      'DNS lookup failed temporarily',
    );
    expect(describeFailure(failure('ENOTFOUND'), 15000).detail).toBe('host not found');
  });

  it('tells a temporary DNS failure from a refused private address', () => {
    const blocked = failure(
      'ERR',
      'DNS lookup 127.0.0.1(family:4, host:partner.example) is not allowed. Because, It is private IP address.',
    );
    expect(describeFailure(blocked, 15000).detail).toBe(
      'blocked: the host resolves to a private, loopback or reserved address',
    );
    expect(describeFailure(failure('EAI_AGAIN'), 15000).detail).not.toMatch(/blocked/);
  });

  it('gives the client only coarse classes: connection failed, timed out, TLS failed', () => {
    const classes = [
      failure('ECONNREFUSED'),
      failure('ECONNRESET'),
      failure('ENOTFOUND'),
      failure('EAI_AGAIN'),
      failure('ERR', 'DNS lookup 10.0.0.1 is not allowed. Because, It is private IP address.'),
      failure('EHOSTUNREACH'),
      failure('ETIMEDOUT'),
      Object.assign(new Error('canceled'), { name: 'CanceledError' }),
      failure('ERR_TLS_CERT_ALTNAME_INVALID'),
      failure('DEPTH_ZERO_SELF_SIGNED_CERT'),
    ].map((error) => describeFailure(error, 15000).error);
    expect(classes).toEqual([
      'connection failed',
      'connection failed',
      'connection failed',
      'connection failed',
      'connection failed',
      'connection failed',
      'timed out',
      'timed out',
      'TLS failed',
      'TLS failed',
    ]);
  });
});
