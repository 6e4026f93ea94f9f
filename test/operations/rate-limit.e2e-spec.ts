import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { hashApiKey } from '../../src/clients/api-key';
import { testEnvironment } from '../support/env';
import { call, newClient, startApp, TestApp } from '../support/harness';

/** A key of the shape the service makes, that no client has. */
const madeUpKey = () => `rk_${randomBytes(32).toString('base64url')}`;

describe('Rate limits per API key, shared across API processes through Redis', () => {
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    const limits = {
      RATE_LIMIT_STATUS_PER_MINUTE: '4',
      RATE_LIMIT_PER_MINUTE: '12',
      APP_ROLE: 'api',
    };
    first = await startApp(limits);
    second = await startApp(limits);
  });
  afterAll(async () => {
    await first.close();
    await second.close();
  });

  it('answers 429 RATE_LIMITED with Retry-After once a key polls the status route too often, on any process', async () => {
    const { api_key: key } = await newClient(first);
    const path = '/v1/orders/reports/status/00000000-0000-4000-8000-000000000000';
    const statuses: number[] = [];
    for (const app of [first, second, first, second])
      statuses.push((await call(app, 'GET', path, { key })).status);
    expect(statuses).toEqual([404, 404, 404, 404]);

    const limited = await call(second, 'GET', path, { key });
    expect(limited.status).toBe(429);
    expect(limited.body.error_code).toBe('RATE_LIMITED');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // Other routes still answer, and another key has its own allowance.
    expect((await call(first, 'GET', '/v1/orders', { key })).status).toBe(200);
    const { api_key: otherKey } = await newClient(first);
    expect((await call(first, 'GET', path, { key: otherKey })).status).toBe(404);
  });

  it('limits all routes together per key with RATE_LIMIT_PER_MINUTE', async () => {
    const { api_key: key } = await newClient(first);
    const statuses: number[] = [];
    for (let i = 0; i < 13; i += 1)
      statuses.push((await call(i % 2 ? first : second, 'GET', '/v1/orders', { key })).status);
    expect(statuses.slice(0, 12).every((status) => status === 200)).toBe(true);
    expect(statuses[12]).toBe(429);
  });

  it('leaves health checks and metrics scrapes out of every limit', async () => {
    const { api_key: key } = await newClient(first);
    const statuses: number[] = [];
    for (let i = 0; i < 13; i += 1) {
      statuses.push((await call(first, 'GET', '/health', { key })).status);
      statuses.push((await call(second, 'GET', '/metrics', { key })).status);
    }
    expect(statuses).toEqual(Array(26).fill(200));

    // As probes and scrapers send them: without a key, counted (if at all) per address.
    const keyless: number[] = [];
    for (let i = 0; i < 13; i += 1) {
      keyless.push((await call(second, 'GET', '/health')).status);
      keyless.push((await call(first, 'GET', '/metrics')).status);
    }
    expect(keyless).toEqual(Array(26).fill(200));

    // The key's allowance is untouched: 12 requests to a limited route, then 429.
    const orders: number[] = [];
    for (let i = 0; i < 13; i += 1)
      orders.push((await call(first, 'GET', '/v1/orders', { key })).status);
    expect(orders).toEqual([...Array(12).fill(200), 429]);
  });

  it('refuses made-up keys (401) before any count: none gets an allowance or a counter in Redis', async () => {
    // A valid key's request, so that a counter of this minute exists beside them.
    const { api_key: valid } = await newClient(first);
    expect((await call(first, 'GET', '/v1/orders', { key: valid })).status).toBe(200);

    const madeUp = Array.from({ length: 13 }, madeUpKey);
    const statuses: number[] = [];
    for (const key of madeUp)
      statuses.push((await call(first, 'GET', '/v1/orders', { key })).status);
    expect(statuses).toEqual(Array(13).fill(401));

    const { REDIS_URL, QUEUE_PREFIX } = testEnvironment();
    const redis = new Redis(REDIS_URL);
    try {
      const counters = (await redis.keys('*rate-limit*')).join('\n');
      expect(counters).toContain(`${QUEUE_PREFIX}:rate-limit:`); // the keyed tests' counters
      for (const key of madeUp) expect(counters).not.toContain(hashApiKey(key));
    } finally {
      redis.disconnect();
    }
  });

  it('asks Postgres about an unknown key once, then answers it 401 from memory', async () => {
    const lookups = jest.spyOn(first.dataSource, 'query');
    try {
      const key = madeUpKey();
      for (let i = 0; i < 5; i += 1)
        expect((await call(first, 'GET', '/v1/orders', { key })).status).toBe(401);
      const keyQueries = lookups.mock.calls.filter(([sql]) => String(sql).includes('api_key_hash'));
      expect(keyQueries).toHaveLength(1);
    } finally {
      lookups.mockRestore();
    }
  });

  it('refuses a key of the wrong shape (401) without asking Postgres', async () => {
    const lookups = jest.spyOn(first.dataSource, 'query');
    try {
      for (const key of ['rk_short', randomBytes(32).toString('base64url'), `rk_${'a'.repeat(44)}`])
        expect((await call(first, 'GET', '/v1/orders', { key })).status).toBe(401);
      expect(lookups.mock.calls.filter(([sql]) => String(sql).includes('api_key_hash'))).toEqual(
        [],
      );
    } finally {
      lookups.mockRestore();
    }
  });
});
