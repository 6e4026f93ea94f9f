import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** s3rver's default credentials: it checks the SDK's signatures with them. */
export const S3_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

/**
 * A real S3-protocol server (s3rver: objects as files in a temporary directory) with one bucket,
 * on a free port of 127.0.0.1. s3rver stores multipart uploads but implements neither
 * AbortMultipartUpload nor ListMultipartUploads; both are added here, on its own storage (an
 * upload is a directory of its parts), so that the service's aborts work and a spec can list what
 * is left.
 */
export async function startS3Server(bucket: string) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require('s3rver') as new (options: object) => {
    middleware: unknown[];
    run(): Promise<{ port: number }>;
    close(): Promise<void>;
  };
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const uploads = join(directory, bucket, '._S3rver_uploads');
  const listUploads = async () => {
    const ids = await readdir(uploads).catch(() => [] as string[]);
    return Promise.all(
      ids.map(async (id) => ({ id, key: await readFile(join(uploads, id, 'key'), 'utf8') })),
    );
  };
  type Context = {
    method: string;
    path: string;
    query: Record<string, string>;
    status: number;
    type: string;
    body: unknown;
  };
  // Before s3rver's router (its last middleware), path-style requests only.
  server.middleware.splice(
    server.middleware.length - 1,
    0,
    async (ctx: Context, next: () => Promise<void>) => {
      const [, name, ...key] = ctx.path.split('/');
      if (name === bucket && ctx.method === 'DELETE' && key.length && 'uploadId' in ctx.query) {
        await rm(join(uploads, ctx.query.uploadId.replace(/[^0-9a-f]/g, '')), {
          recursive: true,
          force: true,
        });
        ctx.status = 204;
        return;
      }
      if (
        name === bucket &&
        ctx.method === 'GET' &&
        key.join('') === '' &&
        'uploads' in ctx.query
      ) {
        const listed = await listUploads();
        ctx.type = 'application/xml';
        ctx.body =
          `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>${bucket}</Bucket>` +
          listed
            .map(
              ({ id, key: uploadKey }) =>
                `<Upload><Key>${uploadKey}</Key><UploadId>${id}</UploadId></Upload>`,
            )
            .join('') +
          '<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>';
        return;
      }
      await next();
    },
  );
  const { port } = await server.run();
  return {
    url: `http://127.0.0.1:${port}`,
    directory,
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
