import { DynamicModule } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { plainToInstance } from 'class-transformer';
import {
  IsBooleanString,
  IsIn,
  IsInt,
  IsOptional,
  MinLength,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  registerDecorator,
  validateSync,
} from 'class-validator';
import { parseEncryptionKey } from '../common/encryption';

/** `all`: API and worker in one process; `api`: HTTP only; `worker`: queue processors only. */
export type AppRole = 'all' | 'api' | 'worker';

/** The parts a process of each role runs: the API's routes, the worker's processors and sweep. */
export interface RoleParts {
  api: boolean;
  worker: boolean;
}

export function partsOf(role: AppRole): RoleParts {
  return { api: role !== 'worker', worker: role !== 'api' };
}

/**
 * A feature's `forRole`, built once per role: a feature imported by several others is then one
 * module with one instance of each provider (Nest tells dynamic modules apart by reference).
 */
export function perRole(build: (parts: RoleParts) => DynamicModule) {
  const built = new Map<string, DynamicModule>();
  return (parts: RoleParts): DynamicModule => {
    const key = `${parts.api}:${parts.worker}`;
    return built.get(key) ?? built.set(key, build(parts)).get(key)!;
  };
}

/** `postgres`, or `s3://` a bucket name (S3's rules) and an optional prefix. */
const STORAGE_PATTERN = /^(postgres|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/\S*)?)$/;

/** REPORT_STORAGE's bucket and key prefix (`a/b/`, or empty), or undefined for Postgres. */
export function storageBucket(storage: string): { name: string; prefix: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(storage);
  if (!match) return undefined;
  const prefix = match[2].replace(/^\/+|\/+$/g, '');
  return { name: match[1], prefix: prefix ? `${prefix}/` : '' };
}

const HTTP_URL = { require_tld: false, protocols: ['http', 'https'], require_protocol: true };
/** The OTLP exporters the service ships: over HTTP, protobuf or JSON (no gRPC). */
const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'];
const OTLP_PROTOCOL_MESSAGE = '$property must be http/protobuf or http/json';

/** Every variable the service reads, with the contract's defaults. Validated once at boot. */
export class Environment {
  @IsInt() @Min(0) @Max(65535) PORT = 3000;
  @IsString() @Matches(/^postgres(ql)?:\/\//) DATABASE_URL =
    'postgres://postgres@127.0.0.1:5432/reports';
  @IsString() @Matches(/^rediss?:\/\//) REDIS_URL = 'redis://127.0.0.1:6379/0';
  @IsString() @Matches(/^[A-Za-z0-9_-]{1,40}$/) QUEUE_PREFIX = 'bull';
  @IsOptional() @IsString() PUPPETEER_EXECUTABLE_PATH?: string;
  @IsOptional()
  @IsUrl(HTTP_URL)
  PUBLIC_BASE_URL?: string;
  @IsIn(['all', 'api', 'worker']) APP_ROLE: AppRole = 'all';
  @IsInt() @Min(1) @Max(32) RENDER_CONCURRENCY = 2;
  @IsInt() @Min(1000) @Max(600000) RENDER_TIMEOUT_MS = 300000;
  @IsInt() @Min(1) @Max(5) RENDER_ATTEMPTS = 3;
  @IsInt() @Min(10) @Max(1000) RENDER_ROWS_PER_PAGE = 52;
  @IsInt() @Min(100) @Max(100000) RENDER_ROWS_PER_PART = 1000;
  /** Renders after which a worker's Chromium is replaced by a fresh one; 0: never. */
  @IsInt() @Min(0) @Max(10000000) RENDER_RECYCLE_AFTER = 1000;
  /** Summed RSS (MB) of Chromium's processes past which it is replaced (read between renders); 0: off. */
  @IsInt() @Min(0) @Max(1048576) RENDER_RECYCLE_RSS_MB = 3072;
  @IsInt() @Min(1) @Max(3660) REPORT_MAX_RANGE_DAYS = 366;
  @IsInt() @Min(1) @Max(10000000) REPORT_MAX_ORDERS = 100000;
  @IsInt() @Min(1) @Max(87600) REPORT_TTL_HOURS = 168;
  /** Where PDFs are kept: `postgres`, or a bucket and an optional key prefix. */
  @IsString()
  @Matches(STORAGE_PATTERN, {
    message:
      'REPORT_STORAGE must be postgres or s3://bucket/optional/prefix (a bucket name of 3 to 63 ' +
      'lowercase letters, digits, dots and hyphens)',
  })
  REPORT_STORAGE = 'postgres';
  /** Path-style bucket addressing (endpoint/bucket/key), which most S3-compatible servers need. */
  @IsBooleanString() S3_FORCE_PATH_STYLE = 'false';
  /** The S3 endpoint, read by the AWS SDK itself; checked here so that a typo stops the boot. */
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  AWS_ENDPOINT_URL_S3?: string;
  /** `stream`: the PDF route sends the bytes; `redirect`: 307 to a presigned URL (object storage only). */
  @IsIn(['stream', 'redirect']) REPORT_DOWNLOAD: 'stream' | 'redirect' = 'stream';
  /** Days after which a finished report's row, its callback event and attempts are deleted. */
  @IsInt() @Min(1) @Max(36500) REPORT_RETENTION_DAYS = 90;
  @IsInt() @Min(1000) @Max(3600000) SWEEP_INTERVAL_MS = 15000;
  @IsInt() @Min(1000) @Max(3600000) RENDER_STALL_TIMEOUT_MS = 30000;
  @IsInt() @Min(1) @Max(100000) REPORT_MAX_UNFINISHED_PER_CLIENT = 20;
  @IsInt() @Min(1) @Max(10000000) REPORT_QUEUE_MAX = 10000;
  @IsInt() @Min(1) RATE_LIMIT_PER_MINUTE = 600;
  @IsInt() @Min(1) RATE_LIMIT_STATUS_PER_MINUTE = 120;
  /** Per address: requests whose API key is missing, malformed or unknown (each costs a lookup). */
  @IsInt() @Min(1) RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE = 60;
  @IsInt() @Min(0) @Max(100000) LONG_POLL_MAX_PER_CLIENT = 20;
  @IsInt() @Min(0) @Max(1000000) LONG_POLL_MAX_PER_PROCESS = 2000;
  @IsInt() @Min(1000) @Max(600000) HTTP_REQUEST_TIMEOUT_MS = 15000;
  @IsInt() @Min(1) @Max(1000000) HTTP_MAX_CONNECTIONS = 4096;
  /**
   * Whose X-Forwarded-For to believe for the client's address: false, a hop count or the proxies'
   * addresses. Not `true`: every hop of the header would be believed, and anyone can write it.
   */
  @IsString()
  @Matches(/^(false|\d+|[0-9A-Fa-f.:/]+(,[0-9A-Fa-f.:/]+)*)$/, {
    message:
      'TRUST_PROXY must be false, the number of proxy hops in front of the service (e.g. 1), or ' +
      "the proxies' comma-separated addresses or ranges (e.g. 10.0.0.5,10.1.0.0/16); true is " +
      'refused: it believes any X-Forwarded-For, which any client can write',
  })
  TRUST_PROXY = 'false';
  @IsString()
  @Matches(/^\d+(,\d+)*$/, {
    message: 'CALLBACK_RETRY_DELAYS_MS must be comma-separated milliseconds',
  })
  CALLBACK_RETRY_DELAYS_MS =
    '5000,300000,1800000,7200000,18000000,36000000,50400000,72000000,86400000';
  @IsInt() @Min(100) @Max(120000) CALLBACK_TIMEOUT_MS = 15000;
  @IsBooleanString() CALLBACK_ALLOW_PRIVATE_NETWORKS = 'false';
  @IsInt() @Min(1) @Max(1000) CALLBACK_MAX_IN_FLIGHT_PER_CLIENT = 4;
  @IsString()
  @Matches(/^\d{1,5}(-\d{1,5})?(,\d{1,5}(-\d{1,5})?)*$/, {
    message:
      'CALLBACK_ALLOWED_PORTS must be comma-separated ports or ranges, like 80,443,8000-8999',
  })
  CALLBACK_ALLOWED_PORTS = '80,443';
  /** Nameservers for callback hosts (`ip` or `ip:port`, `[ipv6]:port`); the system's when unset. */
  @IsOptional()
  @IsString()
  @Matches(/^[0-9A-Fa-f.:[\]]+(,[0-9A-Fa-f.:[\]]+)*$/, {
    message:
      'CALLBACK_DNS_SERVERS must be comma-separated IP addresses, each with an optional :port',
  })
  CALLBACK_DNS_SERVERS?: string;
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) LOG_LEVEL = 'info';
  /** Opens the queue dashboard at /admin/queues; without it the dashboard is not served at all. */
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'ADMIN_TOKEN must be at least 16 characters' })
  ADMIN_TOKEN?: string;
  /**
   * OpenTelemetry's own variables, read by its SDK (src/tracing/): checked here so that a typo
   * stops the boot instead of sending traces nowhere. Traces are on when an endpoint is set.
   */
  @IsOptional() @IsUrl(HTTP_URL) OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  @IsOptional() @IsUrl(HTTP_URL) OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  @IsOptional()
  @IsIn(OTLP_PROTOCOLS, { message: OTLP_PROTOCOL_MESSAGE })
  OTEL_EXPORTER_OTLP_PROTOCOL?: string;
  @IsOptional()
  @IsIn(OTLP_PROTOCOLS, { message: OTLP_PROTOCOL_MESSAGE })
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?: string;
  @IsOptional() @IsBooleanString() OTEL_SDK_DISABLED?: string;
  @IsEncryptionKey() WEBHOOK_SECRETS_KEY: string;
  /** The key before a rotation: secrets written under it are read, never written (secrets:reencrypt). */
  @IsOptional() @IsEncryptionKey() WEBHOOK_SECRETS_KEY_PREVIOUS?: string;
}

/** What parseEncryptionKey (the one parser of keys) accepts: 32 bytes as hex, base64 or base64url. */
function IsEncryptionKey(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isEncryptionKey',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: `${String(propertyName)} must be 32 random bytes, base64 or hex (openssl rand -base64 32)`,
      },
      validator: {
        validate: (value: unknown) => {
          try {
            return typeof value === 'string' && parseEncryptionKey(value).length === 32;
          } catch {
            return false;
          }
        },
      },
    });
}

/** Variables whose values are never printed, even when wrong: the message goes to logs. */
const SECRET_KEYS = new Set(['WEBHOOK_SECRETS_KEY', 'WEBHOOK_SECRETS_KEY_PREVIOUS', 'ADMIN_TOKEN']);

/**
 * A rejected value as the message shows it: secrets hidden, and of a URL, whatever comes before its
 * last `@` after the scheme (user and password, however malformed the URL).
 */
function shown(name: string, value: unknown): string {
  const text = String(value ?? '');
  if (SECRET_KEYS.has(name) && text) return `<hidden, ${text.length} characters>`;
  if (name.endsWith('_URL') || name.endsWith('_ENDPOINT') || name.startsWith('AWS_ENDPOINT_URL'))
    return JSON.stringify(text.replace(/^([a-z][\w+.-]*:\/\/)?.*@/i, '$1***@'));
  return JSON.stringify(text);
}

const INTEGER_KEYS = new Set(
  Object.entries(new Environment())
    .filter(([, value]) => typeof value === 'number')
    .map(([key]) => key),
);

/** Used by ConfigModule: returns the typed environment or throws one message naming each bad variable. */
export function validateEnvironment(raw: Record<string, unknown>): Environment {
  const given = Object.fromEntries(
    Object.keys(new Environment())
      .concat([
        'PUPPETEER_EXECUTABLE_PATH',
        'PUBLIC_BASE_URL',
        'WEBHOOK_SECRETS_KEY',
        'WEBHOOK_SECRETS_KEY_PREVIOUS',
        'ADMIN_TOKEN',
        'AWS_ENDPOINT_URL_S3',
        'OTEL_EXPORTER_OTLP_ENDPOINT',
        'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
        'OTEL_EXPORTER_OTLP_PROTOCOL',
        'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
        'OTEL_SDK_DISABLED',
      ])
      .filter((key) => raw[key] !== undefined && raw[key] !== '')
      .map((key) => [key, INTEGER_KEYS.has(key) ? toInteger(raw[key]) : raw[key]]),
  );
  const env = Object.assign(new Environment(), plainToInstance(Environment, given));
  const errors = validateSync(env, { skipMissingProperties: false });
  const problems = errors.map((e) => {
    const why = Object.values(e.constraints ?? {})[0];
    return `${e.property}=${shown(e.property, raw[e.property])}${why ? ` (${why})` : ''}`;
  });
  if (env.REPORT_DOWNLOAD === 'redirect' && env.REPORT_STORAGE === 'postgres') {
    problems.push(
      'REPORT_DOWNLOAD="redirect" (needs object storage: set REPORT_STORAGE=s3://bucket/prefix, ' +
        'or REPORT_DOWNLOAD=stream)',
    );
  }
  if (problems.length > 0) {
    throw new Error(`Invalid configuration: ${problems.join('; ')}`);
  }
  return env;
}

function toInteger(value: unknown): unknown {
  return typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
}

export const CHROMIUM_CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
];

export function findChromium(candidates = CHROMIUM_CANDIDATES): string | undefined {
  return candidates.find((path) => existsSync(path));
}

/**
 * The Chromium a worker prints with: PUPPETEER_EXECUTABLE_PATH, which must exist, else the first of
 * `candidates` found. Without one the worker stops at start. (Only the worker's part of the
 * application asks: an API process prints nothing, so an API machine needs no Chromium.)
 */
export function chromiumPath(
  configured: string | undefined,
  candidates = CHROMIUM_CANDIDATES,
): string {
  if (configured && !existsSync(configured)) {
    throw new Error(
      `Invalid configuration: PUPPETEER_EXECUTABLE_PATH=${JSON.stringify(configured)} (no such file)`,
    );
  }
  const found = configured ?? findChromium(candidates);
  if (!found) {
    throw new Error(
      'Invalid configuration: PUPPETEER_EXECUTABLE_PATH is not set and no Chromium was found ' +
        '(install Debian package "chromium")',
    );
  }
  return found;
}
