import { chromiumPath, storageBucket, validateEnvironment } from './environment';

const KEY = { WEBHOOK_SECRETS_KEY: Buffer.alloc(32, 7).toString('base64') };

describe('validateEnvironment', () => {
  it("applies the contract's defaults", () => {
    const env = validateEnvironment({ ...KEY });
    expect(env).toMatchObject({
      PORT: 3000,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/reports',
      REDIS_URL: 'redis://127.0.0.1:6379/0',
      APP_ROLE: 'all',
      RENDER_CONCURRENCY: 2,
      REPORT_MAX_RANGE_DAYS: 366,
      REPORT_MAX_ORDERS: 100000,
      REPORT_TTL_HOURS: 168,
      RATE_LIMIT_PER_MINUTE: 600,
      RATE_LIMIT_STATUS_PER_MINUTE: 120,
      CALLBACK_TIMEOUT_MS: 15000,
      CALLBACK_ALLOW_PRIVATE_NETWORKS: 'false',
    });
  });

  it('recycles Chromium after 1,000 renders or past 3,072 MB by default, 0 turning either off', () => {
    expect(validateEnvironment({ ...KEY })).toMatchObject({
      RENDER_RECYCLE_AFTER: 1000,
      RENDER_RECYCLE_RSS_MB: 3072,
    });
    expect(
      validateEnvironment({ ...KEY, RENDER_RECYCLE_AFTER: '0', RENDER_RECYCLE_RSS_MB: '0' }),
    ).toMatchObject({ RENDER_RECYCLE_AFTER: 0, RENDER_RECYCLE_RSS_MB: 0 });
  });

  it('reads numbers from strings', () => {
    expect(validateEnvironment({ ...KEY, PORT: '8080', RENDER_CONCURRENCY: '4' })).toMatchObject({
      PORT: 8080,
      RENDER_CONCURRENCY: 4,
    });
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['APP_ROLE', 'both'],
    ['RENDER_CONCURRENCY', '0'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['REDIS_URL', 'localhost:6379'],
    ['CALLBACK_RETRY_DELAYS_MS', '5s,10s'],
    ['CALLBACK_ALLOW_PRIVATE_NETWORKS', 'yes'],
    ['PUBLIC_BASE_URL', 'not a url'],
    ['RENDER_RECYCLE_AFTER', '-1'],
    ['RENDER_RECYCLE_RSS_MB', '2GB'],
  ])('stops with one message naming %s=%s', (name, value) => {
    expect(() => validateEnvironment({ ...KEY, [name]: value })).toThrow(
      `Invalid configuration: ${name}=${JSON.stringify(value)}`,
    );
  });

  it('names every bad variable in the one message, with what is expected', () => {
    expect(() => validateEnvironment({ ...KEY, PORT: 'x', APP_ROLE: 'y' })).toThrow(
      /^Invalid configuration: PORT="x" \(.+\); APP_ROLE="y" \(APP_ROLE must be one of the following values: all, api, worker\)$/,
    );
  });

  it('requires a 32-byte key for webhook secrets at rest', () => {
    expect(() => validateEnvironment({})).toThrow(
      /WEBHOOK_SECRETS_KEY="" \(WEBHOOK_SECRETS_KEY must be 32 random bytes/,
    );
    expect(() => validateEnvironment({ WEBHOOK_SECRETS_KEY: 'c2hvcnQ=' })).toThrow(
      /WEBHOOK_SECRETS_KEY=<hidden, 8 characters> \(WEBHOOK_SECRETS_KEY must be/,
    );
    expect(validateEnvironment({ WEBHOOK_SECRETS_KEY: 'ab'.repeat(32) }).WEBHOOK_SECRETS_KEY).toBe(
      'ab'.repeat(32),
    );
  });

  it('accepts exactly the encodings the key parser reads: hex, base64 and base64url, for both keys', () => {
    const bytes = Buffer.alloc(32, 0xfb); // base64 and base64url differ: +/ against -_
    for (const text of [
      bytes.toString('hex'),
      bytes.toString('base64'),
      bytes.toString('base64url'),
      bytes.toString('base64').replace(/=+$/, ''),
    ]) {
      const env = validateEnvironment({
        WEBHOOK_SECRETS_KEY: text,
        WEBHOOK_SECRETS_KEY_PREVIOUS: text,
      });
      expect(env.WEBHOOK_SECRETS_KEY).toBe(text);
    }
    expect(() =>
      validateEnvironment({ ...KEY, WEBHOOK_SECRETS_KEY_PREVIOUS: 'not a key' }),
    ).toThrow(
      /WEBHOOK_SECRETS_KEY_PREVIOUS=<hidden, 9 characters> \(WEBHOOK_SECRETS_KEY_PREVIOUS must be 32/,
    );
  });

  it('never prints a secret it rejects: keys and tokens hidden, URL passwords masked', () => {
    const messageOf = (raw: Record<string, string>) => {
      try {
        validateEnvironment({ ...KEY, ...raw });
      } catch (error) {
        return String(error);
      }
      throw new Error('accepted');
    };
    expect(messageOf({ ADMIN_TOKEN: 'hunter2-short' })).toContain(
      'ADMIN_TOKEN=<hidden, 13 characters> (ADMIN_TOKEN must be at least 16 characters)',
    );
    expect(messageOf({ WEBHOOK_SECRETS_KEY: 'my-secret-key!' })).not.toContain('my-secret-key');
    const database = messageOf({ DATABASE_URL: 'mysql://app:s3cret-pw@db.internal/reports' });
    expect(database).toContain('DATABASE_URL="mysql://***@db.internal/reports"');
    for (const url of [
      'redis//:s3cret-pw@cache:6379',
      'app:s3cret-pw@db/reports',
      'pg://app:s3cret/pw@db',
      'mysql://app:s3cret@pw@db',
    ]) {
      expect(messageOf({ DATABASE_URL: url })).not.toContain('s3cret');
      expect(messageOf({ DATABASE_URL: url })).not.toMatch(/pw@/);
    }
  });
});

describe('REPORT_STORAGE, S3_FORCE_PATH_STYLE, REPORT_DOWNLOAD', () => {
  const messageOf = (raw: Record<string, string>) => {
    try {
      validateEnvironment({ ...KEY, ...raw });
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('keeps PDFs in Postgres and streams them by default', () => {
    expect(validateEnvironment({ ...KEY })).toMatchObject({
      REPORT_STORAGE: 'postgres',
      S3_FORCE_PATH_STYLE: 'false',
      REPORT_DOWNLOAD: 'stream',
    });
  });

  it('reads a bucket and an optional prefix, and refuses anything else naming the variable', () => {
    expect(storageBucket('s3://reports')).toEqual({ name: 'reports', prefix: '' });
    expect(storageBucket('s3://my.reports-1/pdfs/eu/')).toEqual({
      name: 'my.reports-1',
      prefix: 'pdfs/eu/',
    });
    expect(storageBucket('postgres')).toBeUndefined();
    for (const bad of ['s3://', 's3://UPPER', 'https://bucket', 's3://ab', 'mysql']) {
      expect(messageOf({ REPORT_STORAGE: bad })).toMatch(/^Invalid configuration: REPORT_STORAGE=/);
    }
    expect(messageOf({ S3_FORCE_PATH_STYLE: 'yes' })).toMatch(/S3_FORCE_PATH_STYLE="yes"/);
    expect(messageOf({ AWS_ENDPOINT_URL_S3: 'minio:9000' })).toMatch(/AWS_ENDPOINT_URL_S3=/);
    expect(
      messageOf({ REPORT_STORAGE: 's3://reports', AWS_ENDPOINT_URL_S3: 'http://minio:9000' }),
    ).toBe('');
  });

  it('refuses REPORT_DOWNLOAD=redirect unless PDFs are in object storage', () => {
    expect(messageOf({ REPORT_DOWNLOAD: 'redirect' })).toMatch(
      /^Invalid configuration: REPORT_DOWNLOAD="redirect" \(needs object storage/,
    );
    expect(messageOf({ REPORT_DOWNLOAD: 'link' })).toMatch(/REPORT_DOWNLOAD="link"/);
    expect(messageOf({ REPORT_DOWNLOAD: 'redirect', REPORT_STORAGE: 's3://reports/pdfs' })).toBe(
      '',
    );
  });
});

describe('chromiumPath', () => {
  const missing = ['/nonexistent/chromium'];

  it('stops a worker at start when its Chromium is missing, naming the variable', () => {
    expect(() => chromiumPath(undefined, missing)).toThrow(
      /^Invalid configuration: PUPPETEER_EXECUTABLE_PATH is not set and no Chromium was found/,
    );
    expect(() => chromiumPath('/nowhere')).toThrow(
      'Invalid configuration: PUPPETEER_EXECUTABLE_PATH="/nowhere" (no such file)',
    );
    expect(chromiumPath(process.execPath)).toBe(process.execPath);
    expect(chromiumPath(undefined, [...missing, process.execPath])).toBe(process.execPath);
  });

  it('takes the OTLP endpoint and protocol, and refuses a protocol the service does not ship', () => {
    expect(
      validateEnvironment({
        ...KEY,
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      }),
    ).toMatchObject({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318' });
    expect(() => validateEnvironment({ ...KEY, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(
      'OTEL_EXPORTER_OTLP_PROTOCOL="grpc" (OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json)',
    );
    expect(() =>
      validateEnvironment({ ...KEY, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'localhost:4318' }),
    ).toThrow('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=');
  });
});
