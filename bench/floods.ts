/**
 * Polls under floods (issue 20, item 5): an authenticated poll's latency alone, and while made-up
 * API keys or /health flood the same API process; with the API process's CPU time per answered
 * request in each, so that what a flood's request costs the event loop the polls share is seen.
 *
 * Runs alone (an API process started here, no worker):
 *   bash scripts/with-env.sh node -r ts-node/register/transpile-only bench/floods.ts
 * Variants for the investigation: FLOOD_POLLS_APART=1 polls from a process of their own (the
 * autocannon CLI) rather than from the flood's; FLOOD_RATE=2000 floods at that rate instead of as
 * fast as 16 connections go; any variable of the service's (LOG_LEVEL=warn, ...) reaches the API.
 */
import 'reflect-metadata';
import autocannon from 'autocannon';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClientsService } from '../src/clients/clients.service';
import {
  load,
  LOAD_SECONDS,
  LoadResult,
  ROOT,
  round2,
  standaloneStep,
  startProcess,
  waitForHttp,
} from './harness';

/** CPU time (user + system) of a process so far, in milliseconds (Linux /proc; 100 ticks a second). */
function cpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** autocannon's CLI in a process of its own: the polls do not share the flood's event loop. */
async function pollsApart(url: string, headers: Record<string, string>): Promise<LoadResult> {
  const args = ['-c', '4', '-d', String(LOAD_SECONDS), '-j'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}=${value}`);
  const { stdout } = await promisify(execFile)(
    join(ROOT, 'node_modules', '.bin', 'autocannon'),
    [...args, url],
    { maxBuffer: 16 * 2 ** 20 },
  );
  const result = JSON.parse(stdout) as autocannon.Result;
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
  };
}

/**
 * An authenticated poll's latency alone, and while another load floods the API process: made-up
 * API keys (a new one per request) or /health, 16 connections as fast as they go (or `rate`
 * requests a second in all). `apiPid` given: the API's CPU time per request answered in each.
 */
export async function pollsUnderFlood(
  base: string,
  headers: Record<string, string>,
  path: string,
  options: { apiPid?: number; apart?: boolean; rate?: number } = {},
) {
  const polls = () =>
    options.apart
      ? pollsApart(base + path, headers)
      : load(base, { headers, paths: [path], connections: 4 });
  const flood = (target: 'madeUpKeys' | 'health') =>
    target === 'health'
      ? load(`${base}/health`, { connections: 16, overallRate: options.rate })
      : load(base, {
          connections: 16,
          overallRate: options.rate,
          requests: [
            {
              method: 'GET',
              path: '/v1/orders',
              setupRequest: (request: autocannon.Request) => ({
                ...request,
                headers: { authorization: `Bearer rk_${randomBytes(32).toString('base64url')}` },
              }),
            },
          ],
        });
  /** The polls beside a flood (or none), and the API's CPU time per request answered. */
  const measure = async (target?: 'madeUpKeys' | 'health') => {
    const cpuBefore = cpuMs(options.apiPid);
    const [poll, flooding] = await Promise.all([polls(), target ? flood(target) : undefined]);
    const requests =
      (poll.requestsPerSecond + (flooding?.requestsPerSecond ?? 0)) * LOAD_SECONDS || 1;
    const apiCpuMs = cpuMs(options.apiPid) - cpuBefore;
    return {
      poll: { p50Ms: poll.p50Ms, p99Ms: poll.p99Ms, requestsPerSecond: poll.requestsPerSecond },
      flood: flooding && {
        requestsPerSecond: flooding.requestsPerSecond,
        non2xx: flooding.non2xx,
      },
      apiCpuShare: round2(apiCpuMs / (LOAD_SECONDS * 1000)),
      apiCpuUsPerRequest: Math.round((apiCpuMs * 1000) / requests),
    };
  };
  const alone = await measure();
  const duringMadeUpKeys = await measure('madeUpKeys');
  const duringHealth = await measure('health');
  return {
    alone,
    duringMadeUpKeys,
    duringHealth,
    p99RatioMadeUpKeys: round2(duringMadeUpKeys.poll.p99Ms / Math.max(1, alone.poll.p99Ms)),
    p99RatioHealth: round2(duringHealth.poll.p99Ms / Math.max(1, alone.poll.p99Ms)),
  };
}

if (require.main === module) {
  void (async () => {
    const { env, dataSource } = await standaloneStep();
    const port = 3930;
    const api = startProcess({ ...env, APP_ROLE: 'api', PORT: String(port) });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitForHttp(base);
      const client = await ClientsService.of(dataSource).create('Poller');
      const headers = {
        authorization: `Bearer ${client.api_key}`,
        'content-type': 'application/json',
      };
      const accepted = await fetch(`${base}/v1/orders/reports`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ start_date: '2030-01-01', end_date: '2030-01-02' }),
      });
      const path = accepted.headers.get('location')!;
      const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
      for (let i = 0; i < rounds; i++) {
        const result = await pollsUnderFlood(base, headers, path, {
          apiPid: api.pid,
          apart: process.env.FLOOD_POLLS_APART === '1',
          rate: process.env.FLOOD_RATE ? Number(process.env.FLOOD_RATE) : undefined,
        });
        console.log(JSON.stringify(result));
      }
    } finally {
      api.kill('SIGTERM');
      await dataSource.destroy();
    }
  })().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
