import { brotliCompressSync, gzipSync } from 'node:zlib';
import { describeFailure, safeExcerpt } from './callback-sender';

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

describe('what is kept of a partner answer (safeExcerpt)', () => {
  it('keeps plain UTF-8 text', () => {
    expect(safeExcerpt(Buffer.from('<h1>502 Bad Gateway</h1>\r\n\tnginx é'))).toBe(
      '<h1>502 Bad Gateway</h1>\r\n\tnginx é',
    );
    expect(safeExcerpt(Buffer.from('ok'), 'identity')).toBe('ok');
  });

  it('keeps nothing of an encoded answer, whatever its bytes', () => {
    expect(safeExcerpt(gzipSync('<h1>502</h1>'), 'gzip')).toBeNull();
    expect(safeExcerpt(brotliCompressSync('<h1>502</h1>'), 'br')).toBeNull();
    // Even text, when it says it is encoded: it is not what it claims.
    expect(safeExcerpt(Buffer.from('text'), 'gzip')).toBeNull();
  });

  it('keeps nothing of bytes that are not text: NUL, control characters, invalid UTF-8', () => {
    expect(safeExcerpt(Buffer.from([0x6f, 0x6b, 0x00]))).toBeNull();
    expect(safeExcerpt(Buffer.from([0x6f, 0x1b, 0x5b]))).toBeNull();
    expect(safeExcerpt(Buffer.from([0x65, 0xc3, 0x28]))).toBeNull();
    expect(safeExcerpt(Buffer.from([0xff, 0xfe]))).toBeNull();
    expect(safeExcerpt(Buffer.alloc(0))).toBeNull();
  });

  it('keeps text whose last character the excerpt cut in two, without it', () => {
    const cut = Buffer.from('abc€').subarray(0, 5); // '€' is 3 bytes: 2 of them kept
    expect(safeExcerpt(cut)).toBe('abc');
  });
});
