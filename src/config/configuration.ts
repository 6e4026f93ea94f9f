import { registerAs } from '@nestjs/config';
import { parseEncryptionKey, SecretKeys } from '../common/encryption';
import { Environment, storageBucket, validateEnvironment } from './environment';

/** The environment, validated: a bad value stops the boot with one message naming it. */
export function environment(): Environment {
  return validateEnvironment(process.env);
}

export const appConfig = registerAs('app', () => {
  const env = environment();
  return {
    port: env.PORT,
    publicBaseUrl: (env.PUBLIC_BASE_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, ''),
  };
});

export const databaseConfig = registerAs('database', () => ({ url: environment().DATABASE_URL }));

export const redisConfig = registerAs('redis', () => {
  const env = environment();
  /** Bull's key prefix: several deployments (or test runs) can share one Redis. */
  return { url: env.REDIS_URL, queuePrefix: env.QUEUE_PREFIX };
});

export const renderConfig = registerAs('render', () => {
  const env = environment();
  return {
    /** As configured; the renderer resolves and checks it (pdf-renderer.service.ts), in workers only. */
    executablePath: env.PUPPETEER_EXECUTABLE_PATH,
    concurrency: env.RENDER_CONCURRENCY,
    timeoutMs: env.RENDER_TIMEOUT_MS,
    attempts: env.RENDER_ATTEMPTS,
    rowsPerPage: env.RENDER_ROWS_PER_PAGE,
    rowsPerPart: env.RENDER_ROWS_PER_PART,
    recycleAfter: env.RENDER_RECYCLE_AFTER,
    recycleRssMb: env.RENDER_RECYCLE_RSS_MB,
  };
});

export const reportsConfig = registerAs('reports', () => {
  const env = environment();
  return {
    maxRangeDays: env.REPORT_MAX_RANGE_DAYS,
    maxOrders: env.REPORT_MAX_ORDERS,
    ttlHours: env.REPORT_TTL_HOURS,
    retentionDays: env.REPORT_RETENTION_DAYS,
    sweepIntervalMs: env.SWEEP_INTERVAL_MS,
    /** A render whose worker stopped renewing its lock for this long is taken by another. */
    stallTimeoutMs: env.RENDER_STALL_TIMEOUT_MS,
    maxUnfinishedPerClient: env.REPORT_MAX_UNFINISHED_PER_CLIENT,
    queueMax: env.REPORT_QUEUE_MAX,
    /** Status requests held by Prefer: wait at once, per client and per process. */
    longPollPerClient: env.LONG_POLL_MAX_PER_CLIENT,
    longPollPerProcess: env.LONG_POLL_MAX_PER_PROCESS,
    /** How the PDF route answers: the bytes, or a 307 to the object (object storage only). */
    download: env.REPORT_DOWNLOAD,
  };
});

/**
 * Where PDFs are kept: in Postgres (`bucket` undefined), or in a bucket of any S3-compatible store,
 * the AWS SDK finding its credentials, region and endpoint (AWS_ENDPOINT_URL_S3) its own way.
 */
/**
 * Whether PDFs are kept in a bucket, for the modules as they are built (before ConfigModule has
 * validated the environment: a bad REPORT_STORAGE stops the boot there).
 */
export function keepsPdfsInBucket(): boolean {
  return storageBucket(process.env.REPORT_STORAGE ?? 'postgres') !== undefined;
}

export const storageConfig = registerAs('storage', () => {
  const env = environment();
  const bucket = storageBucket(env.REPORT_STORAGE);
  return {
    bucket: bucket && { ...bucket, forcePathStyle: env.S3_FORCE_PATH_STYLE === 'true' },
  };
});

export const rateLimitConfig = registerAs('rateLimit', () => {
  const env = environment();
  return {
    perMinute: env.RATE_LIMIT_PER_MINUTE,
    statusPerMinute: env.RATE_LIMIT_STATUS_PER_MINUTE,
    unauthenticatedPerMinute: env.RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE,
  };
});

export const callbacksConfig = registerAs('callbacks', () => {
  const env = environment();
  return {
    retryDelaysMs: env.CALLBACK_RETRY_DELAYS_MS.split(',').map(Number),
    timeoutMs: env.CALLBACK_TIMEOUT_MS,
    allowPrivateNetworks: env.CALLBACK_ALLOW_PRIVATE_NETWORKS === 'true',
    maxInFlightPerClient: env.CALLBACK_MAX_IN_FLIGHT_PER_CLIENT,
    /** Inclusive ranges: `80,443,8000-8999`. */
    allowedPorts: env.CALLBACK_ALLOWED_PORTS.split(',').map((part) => {
      const [low, high = low] = part.split('-').map(Number);
      return [low, high] as [number, number];
    }),
    /** Empty: the system's nameservers (resolv.conf). */
    dnsServers: env.CALLBACK_DNS_SERVERS ? env.CALLBACK_DNS_SERVERS.split(',') : [],
  };
});

export const secretsConfig = registerAs('secrets', () => {
  const env = environment();
  /** AES-256-GCM keys of webhook secrets at rest: the current one writes, both read. */
  const keys: SecretKeys = {
    current: parseEncryptionKey(env.WEBHOOK_SECRETS_KEY),
    previous: env.WEBHOOK_SECRETS_KEY_PREVIOUS
      ? parseEncryptionKey(env.WEBHOOK_SECRETS_KEY_PREVIOUS)
      : undefined,
  };
  return { keys };
});

export const observabilityConfig = registerAs('observability', () => {
  const env = environment();
  return {
    logLevel: env.LOG_LEVEL,
    /** Bearer token (or Basic password) of the queue dashboard; undefined: no dashboard. */
    adminToken: env.ADMIN_TOKEN,
  };
});

/**
 * Tracing is on when an OTLP endpoint is configured (and the SDK is not disabled): otherwise nothing
 * of OpenTelemetry's SDK is loaded. The SDK reads the other OTEL_* variables itself.
 */
export function tracingConfig(): { enabled: boolean } {
  const env = environment();
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return { enabled: Boolean(endpoint) && env.OTEL_SDK_DISABLED !== 'true' };
}

export const allConfig = [
  appConfig,
  databaseConfig,
  redisConfig,
  renderConfig,
  reportsConfig,
  storageConfig,
  rateLimitConfig,
  callbacksConfig,
  secretsConfig,
  observabilityConfig,
];
