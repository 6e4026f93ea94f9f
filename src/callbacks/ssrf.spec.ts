import { createSocket, Socket } from 'node:dgram';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { ApiError } from '../common/api-error';
import {
  callbackAgents,
  callbackPortProblem,
  CallbackResolver,
  callbackUrlFormatProblem,
  callbackUrlProblem,
  DNS_LOOKUP_TIMEOUT_MS,
  isPublicAddress,
  MAX_LOOKUPS_PER_CLIENT,
} from './ssrf';

/** A lookup error as node:dns raises them: the getaddrinfo / c-ares code in `code`. */
function dnsError(code: string | undefined, host = 'partner.example'): Error {
  return Object.assign(new Error(`getaddrinfo ${code} ${host}`), { code, hostname: host });
}

const NOT_ALLOWED = {
  code: 'CALLBACK_URL_NOT_ALLOWED',
  message: 'callback_url must not point at a private, loopback, link-local or reserved address',
};

describe('isPublicAddress', () => {
  it('accepts public unicast IPv4 and IPv6', () => {
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111']) {
      expect(isPublicAddress(address)).toBe(true);
    }
  });

  it('refuses special-purpose ranges, mapped and tunnelled forms, and unparseable text', () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '224.0.0.1',
      '0.0.0.0',
      '255.255.255.255',
      '240.0.0.1',
      '192.0.0.8',
      '192.0.2.1',
      '198.18.0.1',
      '198.51.100.1',
      '203.0.113.1',
      '::',
      '::1',
      'fe80::1',
      'fd00::1',
      'fc00::1',
      'ff02::1',
      '2001:db8::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '::7f00:1',
      '2002:7f00:1::',
      '2001::1',
      '64:ff9b::a00:1',
      '',
      'localhost',
      '010.0.0.1',
      '2130706433',
      '1.2.3',
      'not an address',
    ]) {
      expect([address, isPublicAddress(address)]).toEqual([address, false]);
    }
  });

  it('judges IPv4-mapped IPv6 by the IPv4 address it carries', () => {
    expect(isPublicAddress('::ffff:93.184.216.34')).toBe(true);
  });

  it('refuses every address in 10/8, 127/8, 192.168/16 and 169.254/16, and their ::ffff: forms', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const privateV4 = fc.oneof(
      fc.tuple(fc.constant(10), octet, octet, octet),
      fc.tuple(fc.constant(127), octet, octet, octet),
      fc.tuple(fc.constant(192), fc.constant(168), octet, octet),
      fc.tuple(fc.constant(169), fc.constant(254), octet, octet),
    );
    fc.assert(
      fc.property(privateV4, (octets) => {
        const address = octets.join('.');
        return !isPublicAddress(address) && !isPublicAddress(`::ffff:${address}`);
      }),
    );
  });
});

describe('callbackUrlFormatProblem', () => {
  it('accepts absolute http and https URLs', () => {
    expect(callbackUrlFormatProblem('https://example.com/cb?x=1')).toBeUndefined();
    expect(callbackUrlFormatProblem('http://example.com:8080/')).toBeUndefined();
  });

  it.each([
    ['ftp://x/', 'must be an absolute http or https URL'],
    ['/relative', 'must be an absolute http or https URL'],
    ['javascript:alert(1)', 'must be an absolute http or https URL'],
    ['https://user:pass@example.com/', 'must not contain credentials'],
    ['https://user@example.com/', 'must not contain credentials'],
    [
      `https://example.com/${'a'.repeat(2049 - 'https://example.com/'.length)}`,
      'must be at most 2048 characters',
    ],
  ])('refuses %s', (raw, message) => {
    expect(callbackUrlFormatProblem(raw)).toEqual({ code: 'VALIDATION_FAILED', message });
  });

  it('refuses values that are not strings', () => {
    for (const value of [undefined, null, 42, { href: 'https://example.com/' }]) {
      expect(callbackUrlFormatProblem(value as unknown as string)?.code).toBe('VALIDATION_FAILED');
    }
  });
});

describe('callbackUrlProblem', () => {
  const noLookup = () => Promise.reject(new Error('no lookup expected'));

  it.each([
    'http://127.0.0.1/cb',
    'http://10.0.0.1/cb',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/cb',
    'http://[::ffff:127.0.0.1]/cb',
    'http://2130706433/cb',
    'http://0x7f000001/',
    'http://0x7f.1/',
    'http://100.64.0.1/',
    'http://[fd00::1]/',
    'http://[fe80::1]/',
    'http://224.0.0.1/',
    'http://0.0.0.0/',
  ])('refuses the IP literal %s without a lookup', async (raw) => {
    await expect(callbackUrlProblem(raw, false, noLookup)).resolves.toEqual(NOT_ALLOWED);
  });

  it.each([
    'http://localhost:8080/cb',
    'http://LOCALHOST./',
    'http://api.localhost/',
    'http://printer.local/',
    'http://db.internal/',
  ])('refuses the local name %s without a lookup', async (raw) => {
    await expect(callbackUrlProblem(raw, false, noLookup)).resolves.toEqual(NOT_ALLOWED);
  });

  it('refuses a name when any of its addresses is private', async () => {
    const lookup = async () => ['93.184.216.34', '10.1.2.3'];
    await expect(callbackUrlProblem('https://mixed.example/cb', false, lookup)).resolves.toEqual(
      NOT_ALLOWED,
    );
  });

  it('accepts a public IP literal and a name resolving only to public addresses', async () => {
    await expect(
      callbackUrlProblem('https://93.184.216.34/cb', false, noLookup),
    ).resolves.toBeUndefined();
    const lookup = jest.fn(async () => ['93.184.216.34']);
    await expect(
      callbackUrlProblem('https://Public.Example/cb', false, lookup),
    ).resolves.toBeUndefined();
    expect(lookup).toHaveBeenCalledWith('public.example');
  });

  it('refuses a name that does not resolve, through the real resolver, as it refuses a private one', async () => {
    // The same answer: telling them apart would let a client map the internal names that exist.
    await expect(callbackUrlProblem('https://nothing.invalid/cb', false)).resolves.toEqual(
      NOT_ALLOWED,
    );
    await expect(
      callbackUrlProblem('https://empty.example/', false, async () => []),
    ).resolves.toEqual(NOT_ALLOWED);
    await expect(
      callbackUrlProblem('https://internal.example/', false, async () => ['10.0.0.7']),
    ).resolves.toEqual(NOT_ALLOWED);
  });

  it.each(['ENOTFOUND', 'ENODATA', 'EINVAL', 'EBADNAME'])(
    'still refuses with 400 a name the resolver answers %s for (as a private one): the name is at fault',
    async (code) => {
      await expect(
        callbackUrlProblem('https://partner.example/cb', false, () =>
          Promise.reject(dnsError(code)),
        ),
      ).resolves.toEqual(NOT_ALLOWED);
    },
  );

  it.each([
    ['EAI_AGAIN', 'EAI_AGAIN'],
    ['ETIMEOUT', 'ETIMEOUT'],
    ['ESERVFAIL', 'ESERVFAIL'],
    ['ECONNREFUSED', 'ECONNREFUSED'],
    ['EAI_FAIL', 'EAI_FAIL'],
    ['an error without a code', undefined],
  ])(
    'answers 503 SERVICE_UNAVAILABLE with Retry-After when the lookup fails with %s: the URL may be fine',
    async (_label, code) => {
      const outcome = callbackUrlProblem('https://partner.example/cb', false, () =>
        Promise.reject(dnsError(code)),
      );
      await expect(outcome).rejects.toBeInstanceOf(ApiError);
      const error = (await outcome.catch((e: unknown) => e)) as ApiError;
      expect(error.status).toBe(503);
      expect(error.headers).toEqual({ 'Retry-After': '5' });
      expect(error.body).toEqual({
        error_code: 'SERVICE_UNAVAILABLE',
        error_message: 'The callback_url host could not be resolved just now; try again later',
      });
    },
  );

  describe('with a resolver that does not answer', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('gives up after DNS_LOOKUP_TIMEOUT_MS with 503 SERVICE_UNAVAILABLE, not before', async () => {
      expect(DNS_LOOKUP_TIMEOUT_MS).toBeGreaterThanOrEqual(1000);
      expect(DNS_LOOKUP_TIMEOUT_MS).toBeLessThanOrEqual(5000);
      const lookup = jest.fn(() => new Promise<string[]>(() => undefined));
      let settled: unknown = 'pending';
      void callbackUrlProblem('https://slow.example/cb', false, lookup).then(
        (value) => (settled = value),
        (error: unknown) => (settled = error),
      );
      await jest.advanceTimersByTimeAsync(DNS_LOOKUP_TIMEOUT_MS - 1);
      expect(lookup).toHaveBeenCalledWith('slow.example');
      expect(settled).toBe('pending');
      await jest.advanceTimersByTimeAsync(1);
      expect(settled).toBeInstanceOf(ApiError);
      expect(settled).toMatchObject({
        status: 503,
        code: 'SERVICE_UNAVAILABLE',
        headers: { 'Retry-After': '5' },
      });
    });

    it('uses an answer that arrives within DNS_LOOKUP_TIMEOUT_MS', async () => {
      const lookup = () =>
        new Promise<string[]>((resolve) =>
          setTimeout(() => resolve(['10.0.0.1']), DNS_LOOKUP_TIMEOUT_MS - 100),
        );
      const outcome = callbackUrlProblem('https://slow.example/cb', false, lookup);
      await jest.advanceTimersByTimeAsync(DNS_LOOKUP_TIMEOUT_MS);
      await expect(outcome).resolves.toEqual(NOT_ALLOWED);
    });
  });

  it('allows private addresses when private networks are allowed, but still checks the format', async () => {
    await expect(
      callbackUrlProblem('http://127.0.0.1:9999/cb', true, noLookup),
    ).resolves.toBeUndefined();
    await expect(callbackUrlProblem('ftp://127.0.0.1/', true, noLookup)).resolves.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });

  it('reports a format problem before any lookup', async () => {
    await expect(callbackUrlProblem('https://u:p@10.0.0.1/', false, noLookup)).resolves.toEqual({
      code: 'VALIDATION_FAILED',
      message: 'must not contain credentials',
    });
  });
});

describe('callbackAgents (connection-time check, real sockets)', () => {
  let server: http.Server;
  let port: number;
  let received: number;
  const agents: http.Agent[] = [];

  beforeAll(async () => {
    server = http.createServer((_request, response) => {
      received += 1;
      response.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  beforeEach(() => {
    received = 0;
  });
  afterAll(async () => {
    agents.forEach((agent) => agent.destroy());
    await new Promise((resolve) => server.close(resolve));
  });

  function get(url: string, agent: http.Agent): Promise<number> {
    agents.push(agent);
    return new Promise((resolve, reject) => {
      http
        .get(url, { agent }, (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        })
        .on('error', reject);
    });
  }

  it('blocks a connection to a loopback IP before anything is sent', async () => {
    await expect(get(`http://127.0.0.1:${port}/`, callbackAgents(false).httpAgent)).rejects.toThrow(
      /127\.0\.0\.1.*is not allowed/,
    );
    expect(received).toBe(0);
  });

  it('blocks a name that resolves to loopback at connection time (DNS rebinding)', async () => {
    await expect(get(`http://localhost:${port}/`, callbackAgents(false).httpAgent)).rejects.toThrow(
      /is not allowed/,
    );
    expect(received).toBe(0);
  });

  it('passes a temporary DNS failure at connection time through as EAI_AGAIN, not as a refusal', async () => {
    const agent = callbackAgents(false).httpAgent;
    agents.push(agent);
    const failure = await new Promise<Error & { code?: string }>((resolve, reject) => {
      http
        .get(
          `http://partner.example:${port}/`,
          {
            agent,
            lookup: (hostname, _options, callback) =>
              callback(dnsError('EAI_AGAIN', hostname), '', 4),
          },
          () => reject(new Error('connected')),
        )
        .on('error', resolve);
    });
    // The delivery retries any failed connection; only the wording would set this one apart.
    expect(failure.code).toBe('EAI_AGAIN');
    expect(failure.message).not.toMatch(/not allowed/);
    expect(received).toBe(0);
  });

  it.each(['::7f00:1', '::a00:1', '::'])(
    'blocks the IPv4-compatible IPv6 literal %s (::/96) before connecting',
    async (address) => {
      await expect(
        get(`http://[${address}]:${port}/`, callbackAgents(false).httpAgent),
      ).rejects.toMatchObject({
        code: 'ERR_CALLBACK_ADDRESS_BLOCKED',
        message: expect.stringMatching(/is not allowed/),
      });
      expect(received).toBe(0);
    },
  );

  it('blocks a name whose lookup gives an IPv4-compatible IPv6 address (::/96)', async () => {
    const agent = callbackAgents(false).httpAgent;
    agents.push(agent);
    const failure = await new Promise<Error & { code?: string }>((resolve, reject) => {
      http
        .get(
          `http://partner.example:${port}/`,
          {
            agent,
            lookup: (_hostname, options, callback) =>
              options.all
                ? (callback as unknown as (e: null, a: object[]) => void)(null, [
                    { address: '::7f00:1', family: 6 },
                  ])
                : callback(null, '::7f00:1', 6),
          },
          () => reject(new Error('connected')),
        )
        .on('error', resolve);
    });
    expect(failure.code).toBe('ERR_CALLBACK_ADDRESS_BLOCKED');
    expect(received).toBe(0);
  });

  it('reaches the loopback server when private networks are allowed', async () => {
    await expect(get(`http://127.0.0.1:${port}/`, callbackAgents(true).httpAgent)).resolves.toBe(
      200,
    );
    expect(received).toBe(1);
  });

  it('uses filtering agents for both schemes and plain keep-alive agents when allowed', () => {
    const strict = callbackAgents(false);
    const open = callbackAgents(true);
    expect(strict.httpAgent).toBeInstanceOf(RequestFilteringHttpAgent);
    expect(strict.httpsAgent).toBeInstanceOf(RequestFilteringHttpsAgent);
    expect(open.httpAgent.constructor).toBe(http.Agent);
    for (const agent of [strict.httpAgent, strict.httpsAgent, open.httpAgent, open.httpsAgent]) {
      expect((agent as unknown as { keepAlive: boolean }).keepAlive).toBe(true);
      agents.push(agent);
    }
  });
});

describe('callbackPortProblem', () => {
  it("names the port refused, the scheme's default when the URL names none", () => {
    expect(callbackPortProblem('https://partner.example/hook', [[8443, 8443]])?.message).toBe(
      'callback_url port 443 is not allowed (allowed: 8443)',
    );
    expect(
      callbackPortProblem('http://8.8.8.8:22/', [
        [80, 80],
        [443, 443],
      ])?.message,
    ).toBe('callback_url port 22 is not allowed (allowed: 80, 443)');
    expect(callbackPortProblem('https://partner.example:8443/', [[8000, 8999]])).toBeUndefined();
  });
});

describe('CallbackResolver (c-ares, real sockets)', () => {
  /** A nameserver that never answers: a UDP socket on loopback that reads and drops every question. */
  let silent: Socket;
  let questions: number;

  beforeAll(async () => {
    silent = createSocket('udp4').on('message', () => (questions += 1));
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  });
  beforeEach(() => {
    questions = 0;
  });
  afterAll(() => new Promise<void>((resolve) => silent.close(() => resolve())));

  const resolver = () => new CallbackResolver([`127.0.0.1:${silent.address().port}`]);

  it('answers localhost and the hosts file without asking DNS', async () => {
    const answers = resolver();
    await expect(answers.lookup('localhost')).resolves.toEqual(
      expect.arrayContaining(['127.0.0.1']),
    );
    await expect(answers.lookup('LOCALHOST.')).resolves.toEqual(
      expect.arrayContaining(['127.0.0.1']),
    );
    expect(questions).toBe(0);
  });

  it('gives up by itself on a nameserver that never answers, with a code that is not about the name', async () => {
    const failure = await resolver()
      .lookup('partner.example')
      .catch((error: { code?: string }) => error);
    expect(questions).toBeGreaterThanOrEqual(2);
    expect(failure).toMatchObject({ code: 'ETIMEOUT' });
  });

  it(`lets one client have at most ${MAX_LOOKUPS_PER_CLIENT} lookups in flight; another client is not refused`, async () => {
    const answers = resolver();
    const waiting = Array.from({ length: MAX_LOOKUPS_PER_CLIENT }, (_, i) =>
      answers.lookupFor('client-a', `host-${i}.example`).catch((error: unknown) => error),
    );
    await expect(answers.lookupFor('client-a', 'one-more.example')).rejects.toMatchObject({
      code: 'EAI_AGAIN',
    });
    const other = answers.lookupFor('client-b', 'partner.example').catch((error) => error);
    const settled = await Promise.all([...waiting, other]);
    // Every one of them was asked, and gave up on the nameserver by itself (not refused at once).
    for (const outcome of settled) expect(outcome).toMatchObject({ code: 'ETIMEOUT' });
    // Slots are given back: the client may look up again.
    await expect(answers.lookupFor('client-a', 'localhost')).resolves.toContain('127.0.0.1');
  });
});
