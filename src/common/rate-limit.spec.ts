import { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ThrottlerStorage } from '@nestjs/throttler';
import { ApiError } from './api-error';
import { addressBlock, RateLimitGuard, rateLimits, StatusPollingLimit } from './rate-limit';

class Routes {
  @StatusPollingLimit()
  status() {}
  list() {}
}

function contextFor(handler: () => void, client: { id: string } | null = { id: 'a-client' }) {
  const request = { client, ip: '127.0.0.1' };
  return {
    getHandler: () => handler,
    getClass: () => Routes,
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => ({}) }),
  } as unknown as ExecutionContext;
}

type Count = Awaited<ReturnType<ThrottlerStorage['increment']>>;
const allowed: Count = { totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 };
const blockedFor = (seconds: number): Count => ({
  totalHits: 99,
  timeToExpire: 60,
  isBlocked: true,
  timeToBlockExpire: seconds,
});

/** A guard over a storage that answers each limit (by name) as `answer` says, recording the calls. */
async function guardWith(answer: (name: string) => Promise<Count>) {
  const names: string[] = [];
  const storage: ThrottlerStorage = {
    increment: (_key, _ttl, _limit, _block, name) => {
      names.push(name);
      return answer(name);
    },
  };
  const guard = new RateLimitGuard(
    { throttlers: rateLimits(600, 120), setHeaders: false },
    storage,
    new Reflector(),
  );
  await guard.onModuleInit();
  return { guard, names };
}

describe('RateLimitGuard', () => {
  it('counts the status route against both limits at once, before either count answers', async () => {
    const pending: Array<() => void> = [];
    const { guard, names } = await guardWith(
      () => new Promise((resolve) => pending.push(() => resolve(allowed))),
    );
    const verdict = guard.canActivate(contextFor(Routes.prototype.status));
    await new Promise((resolve) => setImmediate(resolve));
    expect(names.sort()).toEqual(['all-routes', 'status-polling']);
    pending.forEach((release) => release());
    await expect(verdict).resolves.toBe(true);
  });

  it('counts other routes against the all-routes limit only, and public routes (no client) against none', async () => {
    const { guard, names } = await guardWith(async () => allowed);
    await expect(guard.canActivate(contextFor(Routes.prototype.list))).resolves.toBe(true);
    expect(names).toEqual(['all-routes']);
    await expect(guard.canActivate(contextFor(Routes.prototype.list, null))).resolves.toBe(true);
    expect(names).toEqual(['all-routes']);
  });

  it('answers 429 with the longest wait when both limits refuse, whichever answers first', async () => {
    for (const [allRoutes, statusPolling] of [
      [10, 40],
      [50, 40],
    ]) {
      const { guard } = await guardWith(async (name) =>
        blockedFor(name === 'all-routes' ? allRoutes : statusPolling),
      );
      const refusal = await guard.canActivate(contextFor(Routes.prototype.status)).catch((e) => e);
      expect(refusal).toBeInstanceOf(ApiError);
      expect(refusal).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      expect(refusal.headers['Retry-After']).toBe(String(Math.max(allRoutes, statusPolling)));
    }
  });
});

describe('addressBlock', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:0:1::1', '2001:db8:0:1::/64'],
    ['2001:0DB8:0000:0001:ffff:ffff:ffff:fffe', '2001:db8:0:1::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4::/64'],
  ])('counts %s as %s', (ip, block) => {
    expect(addressBlock(ip)).toBe(block);
  });
});
