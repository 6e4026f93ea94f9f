import { ADMIN_LOGIN_ATTEMPTS_PER_MINUTE } from '../../src/admin/queue-dashboard';
import { testEnvironment } from '../support/env';
import { call, startApp, TestApp } from '../support/harness';
import { eventually } from '../support/receiver';
import { TcpProxy } from '../support/tcp-proxy';

const ADMIN_TOKEN = 'dashboard-login-admin-token-0123456789';
/** The address is read from X-Forwarded-For (the test, on loopback, is the trusted proxy), so that one test can call from several. */
const SETTINGS = { ADMIN_TOKEN, TRUST_PROXY: '127.0.0.1', APP_ROLE: 'api' };

const login = (test: TestApp, address: string, token: string) =>
  call(test, 'GET', '/admin/queues', {
    headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': address },
  });

/** Spends an address's failed logins, alternating between the given processes. */
async function failLogins(apps: TestApp[], address: string): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < ADMIN_LOGIN_ATTEMPTS_PER_MINUTE; i += 1)
    statuses.push((await login(apps[i % apps.length], address, `${ADMIN_TOKEN}-wrong`)).status);
  return statuses;
}

describe("The queue dashboard's failed logins, limited per address", () => {
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    first = await startApp(SETTINGS);
    second = await startApp(SETTINGS);
  });
  afterAll(async () => {
    await first.close();
    await second.close();
  });

  it('answers 429 RATE_LIMITED with Retry-After, right token or not, once an address has failed N times on any process; other addresses keep their access', async () => {
    const attacker = '203.0.113.7';
    expect(await failLogins([first, second], attacker)).toEqual(
      Array(ADMIN_LOGIN_ATTEMPTS_PER_MINUTE).fill(401),
    );

    for (const [app, token] of [
      [first, ADMIN_TOKEN],
      [second, ADMIN_TOKEN],
      [second, 'not-the-admin-token'],
    ] as const) {
      const refused = await login(app, attacker, token);
      expect(refused.status).toBe(429);
      expect(refused.body).toEqual({
        error_code: 'RATE_LIMITED',
        error_message: expect.any(String),
      });
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }

    // Another address: the right token opens the dashboard on both processes, a wrong one is a 401.
    for (const app of [first, second])
      expect((await login(app, '198.51.100.20', ADMIN_TOKEN)).status).toBe(200);
    expect((await login(first, '198.51.100.21', 'not-the-admin-token')).status).toBe(401);
  });

  it("counts neither the right token nor a browser's first request without credentials", async () => {
    const operator = '198.51.100.30';
    for (let i = 0; i < ADMIN_LOGIN_ATTEMPTS_PER_MINUTE * 2; i += 1) {
      expect((await login(first, operator, ADMIN_TOKEN)).status).toBe(200);
      const anonymous = await call(first, 'GET', '/admin/queues', {
        headers: { 'x-forwarded-for': operator },
      });
      expect(anonymous.status).toBe(401);
    }
    // Its failed attempts are still limited: the others spent none of them.
    expect(await failLogins([first], operator)).toEqual(
      Array(ADMIN_LOGIN_ATTEMPTS_PER_MINUTE).fill(401),
    );
    expect((await login(first, operator, ADMIN_TOKEN)).status).toBe(429);
  });

  it('checks at most N guesses of a burst sent at once: the rest are refused 429 unchecked', async () => {
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        login(i % 2 ? first : second, '203.0.113.50', `${ADMIN_TOKEN}-wrong-${i}`),
      ),
    );
    const statuses = burst.map((answer) => answer.status).sort();
    expect(statuses).toEqual([
      ...Array(ADMIN_LOGIN_ATTEMPTS_PER_MINUTE).fill(401),
      ...Array(30 - ADMIN_LOGIN_ATTEMPTS_PER_MINUTE).fill(429),
    ]);
    expect((await login(first, '203.0.113.50', ADMIN_TOKEN)).status).toBe(429);
  });

  it("counts an IPv6 address's whole /64 together: rotating addresses in it gains no guesses", async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= ADMIN_LOGIN_ATTEMPTS_PER_MINUTE; i += 1)
      statuses.push((await login(first, `2001:db8:0:1::${i.toString(16)}`, 'wrong-token')).status);
    expect(statuses).toEqual(Array(ADMIN_LOGIN_ATTEMPTS_PER_MINUTE).fill(401));
    expect((await login(second, '2001:db8:0:1:ffff:ffff:ffff:fffe', 'wrong-token')).status).toBe(
      429,
    );
    expect((await login(first, '2001:db8:0:1:abcd::1', ADMIN_TOKEN)).status).toBe(429);
    // The next /64 is another subscriber's.
    expect((await login(first, '2001:db8:0:2::1', ADMIN_TOKEN)).status).toBe(200);
  });

  it('fails closed while Redis is away: 503 SERVICE_UNAVAILABLE with Retry-After, right token or not', async () => {
    const env = testEnvironment();
    const proxy = await TcpProxy.for(env.REDIS_URL).start();
    const test = await startApp({ ...SETTINGS, REDIS_URL: proxy.url(env.REDIS_URL) });
    let cut = false;
    try {
      const address = '203.0.113.40';
      expect((await login(test, address, ADMIN_TOKEN)).status).toBe(200);

      await proxy.cut();
      cut = true;
      for (const token of [ADMIN_TOKEN, 'not-the-admin-token']) {
        const refused = await login(test, address, token);
        expect(refused.status).toBe(503);
        expect(refused.body).toEqual({
          error_code: 'SERVICE_UNAVAILABLE',
          error_message: expect.any(String),
        });
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
      // Without credentials nothing is guessed: asked for them, as ever.
      const anonymous = await call(test, 'GET', '/admin/queues', {
        headers: { 'x-forwarded-for': address },
      });
      expect(anonymous.status).toBe(401);

      await proxy.restore();
      cut = false;
      await eventually(async () => (await login(test, address, ADMIN_TOKEN)).status === 200);
    } finally {
      // Back before the app closes, so that its Redis clients close rather than keep retrying.
      if (cut) await proxy.restore();
      await test.close();
      await proxy.stop();
    }
  });
});
