import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { connect, Socket } from 'node:net';
import Redis from 'ioredis';
import { hashApiKey } from '../../src/clients/api-key';
import { ReportEvents } from '../../src/reports/store/report-events';
import { forgetQueues, testEnvironment } from '../support/env';
import { call, newClient, startApp, TestApp } from '../support/harness';
import { eventually } from '../support/receiver';

/** Limits of their own: counters and queues under a prefix no other spec shares. */
const QUEUES = { QUEUE_PREFIX: `${testEnvironment().QUEUE_PREFIX}-overload` };

/**
 * A raw connection: what it received, and whether the server closed it. With `allowHalfOpen`, the
 * client keeps its side open when the server ends its own, as a slow-body attacker does.
 */
function rawConnection(
  test: TestApp,
  allowHalfOpen = false,
): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const { hostname, port } = new URL(test.url);
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = connect({ port: Number(port), host: hostname, allowHalfOpen }, () =>
      resolve({ socket, received: () => data, closed }),
    );
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('data', (chunk) => (data += chunk.toString('utf8')));
    socket.once('error', reject);
  });
}

/** The README's bound: HTTP_REQUEST_TIMEOUT_MS, then up to 1 s until the check and 1 s of linger. */
const REQUEST_TIMEOUT_MS = 2000;
const CLOSED_WITHIN_MS = REQUEST_TIMEOUT_MS + 2000;

/** `promise`, failing if it has not settled `ms` after `since` (plus a margin for a busy machine). */
function before<T>(since: number, ms: number, promise: Promise<T>, what: string): Promise<T> {
  const margin = 1500;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what}: not within ${ms} ms (+${margin})`)),
      since + ms + margin - Date.now(),
    );
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

describe('The HTTP server bounded against slow and anonymous clients', () => {
  let test: TestApp;

  // An API process alone, with short bounds: reports stay PENDING, so status requests are held.
  beforeAll(async () => {
    test = await startApp({
      APP_ROLE: 'api',
      ...QUEUES,
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      HTTP_MAX_CONNECTIONS: '40',
      LONG_POLL_MAX_PER_CLIENT: '2',
      LONG_POLL_MAX_PER_PROCESS: '3',
      RATE_LIMIT_STATUS_PER_MINUTE: '100000',
    });
  });
  afterAll(async () => {
    await test.close();
    const redis = new Redis(testEnvironment().REDIS_URL);
    await forgetQueues(redis, QUEUES.QUEUE_PREFIX);
    redis.disconnect();
  });

  it('disconnects a client that sends its headers and one byte of body, with 408 REQUEST_TIMEOUT', async () => {
    const slow = await rawConnection(test);
    slow.socket.write(
      'POST /v1/orders/reports HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n' +
        'Content-Length: 100\r\n\r\n{',
    );
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(slow.received().split('\r\n\r\n')[1])).toEqual({
      error_code: 'REQUEST_TIMEOUT',
      error_message: 'The request did not arrive in time',
    });
  });

  it("closes a slow body's connection within HTTP_REQUEST_TIMEOUT_MS + 2 s though the client keeps its side open, stalled or trickling", async () => {
    const server = test.app.getHttpServer() as Server;
    const serverSides: Socket[] = [];
    const accepted = (socket: Socket) => serverSides.push(socket);
    server.on('connection', accepted);
    const headers =
      'POST /v1/orders/reports HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n' +
      'Content-Length: 100000\r\n\r\n{';
    const start = Date.now();
    const [stalled, trickling] = [await rawConnection(test, true), await rawConnection(test, true)];
    server.off('connection', accepted);
    expect(serverSides).toHaveLength(2);
    stalled.socket.write(headers);
    trickling.socket.write(headers);
    trickling.socket.on('error', () => undefined); // reset once the server is gone
    const trickle = setInterval(() => trickling.socket.write('1'), 200);
    try {
      // The stalled client never ends its side nor writes again: only the server can close.
      const serverClosed = serverSides.map(
        (socket) => new Promise((closed) => socket.once('close', closed)),
      );
      await before(start, CLOSED_WITHIN_MS, Promise.all(serverClosed), 'server-side close');
      await before(start, CLOSED_WITHIN_MS, trickling.closed, 'trickling client disconnected');
      for (const client of [stalled, trickling])
        expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(trickle);
      stalled.socket.destroy();
      trickling.socket.destroy();
    }
  });

  it('disconnects a client whose headers never end, and one that never sends anything', async () => {
    const halfHeaders = await rawConnection(test);
    halfHeaders.socket.write('GET /health HTTP/1.1\r\nHost: te');
    const silent = await rawConnection(test);
    await Promise.all([halfHeaders.closed, silent.closed]);
    expect(halfHeaders.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('does not cut a held Prefer: wait answer, which lasts longer than the request timeout', async () => {
    const shop = await newClient(test, 'Patient');
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2047-01-01', end_date: '2047-01-02' },
    });
    const held = await call(test, 'GET', accepted.headers.get('location')!, {
      key: shop.api_key,
      headers: { prefer: 'wait=4' },
    });
    expect(held.status).toBe(200);
    expect(held.body.status).toBe('PENDING');
    expect(held.headers.get('preference-applied')).toBe('wait=4');
  });

  it('holds at most LONG_POLL_MAX_PER_CLIENT status requests per client and LONG_POLL_MAX_PER_PROCESS in all; beyond, answers at once', async () => {
    const [one, two] = [await newClient(test, 'Holder 1'), await newClient(test, 'Holder 2')];
    const pending = async (key: string) =>
      (
        await call(test, 'POST', '/v1/orders/reports', {
          key,
          json: { start_date: '2047-02-01', end_date: '2047-02-02' },
        })
      ).headers.get('location')!;
    const [mine, theirs] = [await pending(one.api_key), await pending(two.api_key)];
    const wait = (key: string, location: string) =>
      call(test, 'GET', location, { key, headers: { prefer: 'wait=5' } });
    const events = test.app.get(ReportEvents);
    const held = [wait(one.api_key, mine), wait(one.api_key, mine)];
    await eventually(async () => events.held === 2, 10);
    // The client's third is answered at once, without Preference-Applied.
    const third = await wait(one.api_key, mine);
    expect(third.status).toBe(200);
    expect(third.headers.get('preference-applied')).toBeNull();
    // Another client's first is held: the process holds three, its most.
    held.push(wait(two.api_key, theirs));
    await eventually(async () => events.held === 3, 10);
    const overProcess = await wait(two.api_key, theirs);
    expect(overProcess.headers.get('preference-applied')).toBeNull();
    for (const answer of await Promise.all(held)) {
      expect(answer.headers.get('preference-applied')).toBe('wait=5');
    }
    expect(events.held).toBe(0);
  });

  it('answers a flood of /health from one check a second', async () => {
    const pings = jest.spyOn(test.dataSource, 'query');
    try {
      const answers = await Promise.all(
        Array.from({ length: 30 }, () => call(test, 'GET', '/health')),
      );
      expect(answers.every((answer) => answer.status === 200)).toBe(true);
      expect(pings.mock.calls.filter(([sql]) => String(sql).trim() === 'SELECT 1')).toHaveLength(1);
    } finally {
      pings.mockRestore();
    }
  });

  it('closes connections past HTTP_MAX_CONNECTIONS at once, and takes new ones once others close', async () => {
    const open = await Promise.all(Array.from({ length: 40 }, () => rawConnection(test)));
    const extra = await rawConnection(test);
    await extra.closed;
    expect(extra.received()).toBe('');
    for (const connection of open) connection.socket.destroy();
    await Promise.all(open.map((connection) => connection.closed));
    await eventually(async () => (await call(test, 'GET', '/health')).status === 200, 10);
  });

  describe('with RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE=5', () => {
    let limited: TestApp;
    let limitedToo: TestApp;
    const prefix = { QUEUE_PREFIX: `${QUEUES.QUEUE_PREFIX}-addresses` };
    const madeUp = () => `rk_${randomBytes(32).toString('base64url')}`;
    /** The test is the proxy in front of both processes: X-Forwarded-For names the client. */
    const from = (address: string) => ({ 'x-forwarded-for': address });
    /** Lookups of one of the given keys (not reads of every key's hash, which name none). */
    const lookupsOf = (spy: jest.SpyInstance, keys: string[]) => {
      const hashes = new Set(keys.map(hashApiKey));
      return spy.mock.calls.filter(([, parameters]) =>
        (parameters ?? []).some((value: unknown) => hashes.has(String(value))),
      ).length;
    };

    // Two API processes sharing their counters in Redis, as behind a load balancer.
    beforeAll(async () => {
      const settings = {
        APP_ROLE: 'api',
        ...prefix,
        RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '5',
        TRUST_PROXY: '127.0.0.1',
      };
      limited = await startApp(settings);
      limitedToo = await startApp(settings);
    });
    afterAll(async () => {
      await limited.close();
      await limitedToo.close();
      const redis = new Redis(testEnvironment().REDIS_URL);
      await forgetQueues(redis, prefix.QUEUE_PREFIX);
      redis.disconnect();
    });

    it("counts a valid key's burst once: 30 requests at once with a key not yet known here all pass, on one lookup", async () => {
      const burst = await newClient(limited, 'Burst');
      const lookups = jest.spyOn(limited.dataSource, 'query');
      try {
        const statuses = await Promise.all(
          Array.from(
            { length: 30 },
            async () => (await call(limited, 'GET', '/v1/orders', { key: burst.api_key })).status,
          ),
        );
        expect(statuses).toEqual(Array(30).fill(200));
        const keyQueries = lookups.mock.calls.filter(([sql]) =>
          String(sql).includes('api_key_hash'),
        );
        expect(keyQueries).toHaveLength(1);
      } finally {
        lookups.mockRestore();
      }
    });

    it('refuses made-up keys from one address past RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE with 429, looking none of them up', async () => {
      // A known key keeps working: it is already known here, no lookup, no count.
      const shop = await newClient(limited, 'Known');
      expect((await call(limited, 'GET', '/v1/orders', { key: shop.api_key })).status).toBe(200);
      const lookups = jest.spyOn(limited.dataSource, 'query');
      try {
        const keys = Array.from({ length: 8 }, madeUp);
        const statuses: number[] = [];
        for (const key of keys)
          statuses.push((await call(limited, 'GET', '/v1/orders', { key })).status);
        // Five failed lookups, then the address is over its limit: the rest are not looked up.
        expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
        expect(lookupsOf(lookups, keys)).toBe(5);
        const another = madeUp();
        const refused = await call(limited, 'GET', '/v1/orders', { key: another });
        expect(refused.body.error_code).toBe('RATE_LIMITED');
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        const anonymous = await call(limited, 'GET', '/v1/orders');
        expect(anonymous.status).toBe(429);
        expect(lookupsOf(lookups, [...keys, another])).toBe(5);
        expect((await call(limited, 'GET', '/v1/orders', { key: shop.api_key })).status).toBe(200);
      } finally {
        lookups.mockRestore();
      }
    });

    it("lets a new client's valid key through from an address that sent 100 made-up keys, on every process", async () => {
      const address = '198.51.100.7';
      const lookups = jest.spyOn(limited.dataSource, 'query');
      const lookupsToo = jest.spyOn(limitedToo.dataSource, 'query');
      try {
        const keys = Array.from({ length: 100 }, madeUp);
        const statuses = await Promise.all(
          keys.map(
            async (key, i) =>
              (
                await call(i % 2 ? limited : limitedToo, 'GET', '/v1/orders', {
                  key,
                  headers: from(address),
                })
              ).status,
          ),
        );
        expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(90);
        expect(statuses.every((status) => status === 401 || status === 429)).toBe(true);
        // At most the limit's worth looked up by each process; the others were answered from the
        // hashes of the valid keys.
        expect(lookupsOf(lookups, keys)).toBeLessThanOrEqual(5);
        expect(lookupsOf(lookupsToo, keys)).toBeLessThanOrEqual(5);

        // The address is over its limit on both processes; a key created now was never looked up.
        const shop = await newClient(limited, 'Behind the same proxy');
        for (const app of [limited, limitedToo]) {
          expect(
            (await call(app, 'GET', '/v1/orders', { key: madeUp(), headers: from(address) }))
              .status,
          ).toBe(429);
          const valid = await call(app, 'GET', '/v1/orders', {
            key: shop.api_key,
            headers: from(address),
          });
          expect(valid.status).toBe(200);
        }
      } finally {
        lookups.mockRestore();
        lookupsToo.mockRestore();
      }
    });

    it('counts only failures against an address: valid keys looked up from it spend none of its allowance', async () => {
      const address = '198.51.100.8';
      for (let i = 0; i < 10; i += 1) {
        const shop = await newClient(limited, `Valid ${i}`);
        const answer = await call(i % 2 ? limited : limitedToo, 'GET', '/v1/orders', {
          key: shop.api_key,
          headers: from(address),
        });
        expect(answer.status).toBe(200);
      }
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1)
        statuses.push(
          (await call(limited, 'GET', '/v1/orders', { key: madeUp(), headers: from(address) }))
            .status,
        );
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    });
  });
});
