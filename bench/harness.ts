/**
 * What the bench's steps share: its environment (its own database and Redis database), the
 * processes it starts, and autocannon's load. No step of its own.
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/database-options';
import { createDatabaseIfMissing, runMigrations } from '../src/database/migrate';

export const ROOT = join(__dirname, '..');

/** Connections autocannon keeps open, and reports polled on the status route. */
export const CONNECTIONS = 20;
/** Seconds of each autocannon round: 8, or BENCH_LOAD_SECONDS for a shorter trial run. */
export const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 8);

export function benchEnvironment(): Record<string, string> {
  const database = new URL(
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/reports',
  );
  database.pathname = `${database.pathname.replace(/_bench$/, '')}_bench`;
  const redis = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0');
  // BENCH_REDIS_DB when two runs of the bench share the machine (each with its DATABASE_URL).
  redis.pathname = `/${process.env.BENCH_REDIS_DB ?? 14}`;
  return {
    DATABASE_URL: database.toString(),
    REDIS_URL: redis.toString(),
    WEBHOOK_SECRETS_KEY: Buffer.alloc(32, 2).toString('base64'),
    RATE_LIMIT_PER_MINUTE: '100000000',
    RATE_LIMIT_STATUS_PER_MINUTE: '100000000',
    // The throughput steps load one client with thousands of reports: they measure the render
    // path, not the bounds, which the fairness step measures on clients of its own.
    REPORT_MAX_UNFINISHED_PER_CLIENT: '100000',
    REPORT_QUEUE_MAX: '10000000',
    // The receiver listens on loopback, on a port of its own.
    CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
    CALLBACK_ALLOWED_PORTS: '1-65535',
  };
}

export const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
export const round1 = (n: number) => Math.round(n * 10) / 10;
export const round2 = (n: number) => Math.round(n * 100) / 100;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function freshDatabase(url: string): Promise<DataSource> {
  await createDatabaseIfMissing(url);
  const dataSource = await new DataSource(dataSourceOptions(url)).initialize();
  await dataSource.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  await runMigrations(dataSource);
  return dataSource;
}

/**
 * A step run on its own (`node … bench/<step>.ts`): the bench's environment in this process, its
 * database made anew and its Redis database emptied.
 */
export async function standaloneStep(): Promise<{
  env: Record<string, string>;
  dataSource: DataSource;
}> {
  const env = benchEnvironment();
  Object.assign(process.env, env);
  const dataSource = await freshDatabase(env.DATABASE_URL);
  const redis = new Redis(env.REDIS_URL);
  await redis.flushdb();
  redis.disconnect();
  return { env, dataSource };
}

/** `dist/main.js` (or a bench script, through ts-node) as a process of its own. */
export function startProcess(env: Record<string, string>, script = join(ROOT, 'dist', 'main.js')) {
  const typescript = script.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only'] : [];
  return spawn(process.execPath, [...typescript, script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export async function waitForHttp(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/health`)).status < 600) return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${url} did not start`);
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
}

/** autocannon for LOAD_SECONDS with 20 connections: requests per second and latency percentiles. */
export function load(
  url: string,
  options: {
    method?: 'POST' | 'GET';
    headers?: Record<string, string>;
    body?: string;
    /** Paths requested in turn across all connections (each request takes the next), not the URL's. */
    paths?: string[];
    connections?: number;
    /** Requests a second in all, instead of as fast as the connections go. */
    overallRate?: number;
    requests?: autocannon.Request[];
  },
) {
  const { paths, connections = CONNECTIONS, ...rest } = options;
  let next = 0;
  const requests = paths && [
    {
      method: 'GET' as const,
      setupRequest: (request: autocannon.Request) => ({
        ...request,
        path: paths[next++ % paths.length],
      }),
    },
  ];
  return new Promise<LoadResult>((resolve, reject) => {
    autocannon({ url, connections, duration: LOAD_SECONDS, requests, ...rest }, (error, result) => {
      if (error) return reject(error);
      resolve({
        requestsPerSecond: Math.round(result.requests.average),
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        non2xx: result.non2xx,
      });
    });
  });
}

/** The round of median ratio among alternating rounds of ours and a bare tool. */
export function medianRound<T extends { ratio: number }>(rounds: T[]): T {
  return [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor(rounds.length / 2)];
}

export interface PairedRound {
  ours: LoadResult;
  bare: LoadResult;
  /** Ours over bare, in requests per second. */
  ratio: number;
}

/**
 * Rounds of ours and of its bare tool in turn (A/B/A/B: the machine drifts from one minute to the
 * next, so each round is compared with its neighbour), each ratio printed as it comes: the round of
 * median ratio, every ratio, and every round's rates. `after` runs after each round of ours (to
 * undo what it added), outside the time measured.
 */
export async function alternate(
  label: string,
  rounds: number,
  ours: () => Promise<LoadResult>,
  bare: () => Promise<LoadResult>,
  after?: () => Promise<unknown>,
) {
  const done: PairedRound[] = [];
  for (let i = 0; i < rounds; i++) {
    const oursRound = await ours();
    await after?.();
    const bareRound = await bare();
    const ratio = round2(oursRound.requestsPerSecond / Math.max(1, bareRound.requestsPerSecond));
    done.push({ ours: oursRound, bare: bareRound, ratio });
    console.log(
      `  ${label}, round ${i + 1}/${rounds}: ours ${oursRound.requestsPerSecond} req/s ` +
        `(p99 ${oursRound.p99Ms} ms, non-2xx ${oursRound.non2xx}), bare ${bareRound.requestsPerSecond} ` +
        `req/s (p99 ${bareRound.p99Ms} ms), ratio ${ratio}`,
    );
  }
  return {
    ...medianRound(done),
    ratios: done.map((round) => round.ratio),
    rounds: done.map(({ ours: o, bare: b }) => ({
      ours: o.requestsPerSecond,
      bare: b.requestsPerSecond,
    })),
  };
}
