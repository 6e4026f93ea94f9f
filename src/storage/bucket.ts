import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Readable } from 'node:stream';
import { HealthCheckOf } from '../common/health-check';
import { ObjectUpload } from './object-upload';

/** A bucket, and the prefix under which every key of the service lies (`a/b/`, or empty). */
export interface BucketLocation {
  name: string;
  prefix: string;
  forcePathStyle: boolean;
}

export const BUCKET_LOCATION = Symbol('BUCKET_LOCATION');

/** How long /health trusts a write that worked: a write a minute at most, per process. */
const WRITE_CHECK_EVERY_MS = 60_000;
/** Deletes sent at once when deleting many objects. */
const DELETES_AT_ONCE = 16;

/**
 * Objects in one bucket of any S3-compatible store, every key under the location's prefix. The
 * AWS SDK finds the credentials and region its own way (AWS_ACCESS_KEY_ID…, profiles, roles;
 * AWS_REGION), and the endpoint in AWS_ENDPOINT_URL_S3. Checksums are sent only where S3 requires
 * them: many S3-compatible servers refuse the SDK's default ones. Knows nothing of what it keeps.
 */
@Injectable()
@HealthCheckOf('bucket')
export class Bucket implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(Bucket.name);
  private readonly client: S3Client;
  private lastWrite = 0;

  constructor(@Inject(BUCKET_LOCATION) private readonly location: BucketLocation) {
    this.client = new S3Client({
      forcePathStyle: location.forcePathStyle,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // A store that stops answering fails the request, not the render's whole deadline.
      requestHandler: { connectionTimeout: 5000, requestTimeout: 60_000 },
    });
  }

  /** Stops the boot when the SDK finds no region: every request would fail later. */
  async onModuleInit(): Promise<void> {
    try {
      await this.client.config.region();
    } catch {
      throw new Error(
        'Invalid configuration: REPORT_STORAGE names a bucket and no AWS region is set ' +
          '(AWS_REGION, or a region in the AWS profile)',
      );
    }
  }

  onApplicationShutdown(): void {
    this.client.destroy();
  }

  /** `s3://bucket/prefix/`, for logs and /health. */
  get name(): string {
    return `s3://${this.location.name}/${this.location.prefix}`;
  }

  /** An object written as its bytes come (see ObjectUpload). */
  upload(key: string, contentType: string): ObjectUpload {
    return new ObjectUpload(this.client, this.location.name, this.keyOf(key), contentType);
  }

  /** The object's bytes as they come, or undefined when there is no such object. */
  async read(key: string): Promise<Readable | undefined> {
    try {
      const object = await this.client.send(
        new GetObjectCommand({ Bucket: this.location.name, Key: this.keyOf(key) }),
      );
      return object.Body as Readable;
    } catch (error) {
      if (error instanceof NoSuchKey) return undefined;
      throw error;
    }
  }

  /**
   * A URL that GETs the object, without credentials, for `seconds`; the answer carries the
   * headers given (Content-Type, Content-Disposition) instead of those stored.
   */
  presign(
    key: string,
    seconds: number,
    answer: { contentType?: string; contentDisposition?: string } = {},
  ): Promise<string> {
    return getSignedUrl(
      this.client,
      new GetObjectCommand({
        Bucket: this.location.name,
        Key: this.keyOf(key),
        ResponseContentType: answer.contentType,
        ResponseContentDisposition: answer.contentDisposition,
      }),
      { expiresIn: seconds },
    );
  }

  /** Deletes the object, if there is one. */
  async delete(key: string): Promise<void> {
    await this.client.send(
      new DeleteObjectCommand({ Bucket: this.location.name, Key: this.keyOf(key) }),
    );
  }

  /** Deletes every object whose key starts with `keyPrefix`, but `except`'s. */
  async deleteAll(keyPrefix: string, except?: string): Promise<void> {
    const keep = except === undefined ? undefined : this.keyOf(except);
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.location.name,
          Prefix: this.keyOf(keyPrefix),
          ContinuationToken: token,
        }),
      );
      const keys = (page.Contents ?? []).map(({ Key }) => Key!).filter((key) => key !== keep);
      for (let i = 0; i < keys.length; i += DELETES_AT_ONCE) {
        await Promise.all(
          keys
            .slice(i, i + DELETES_AT_ONCE)
            .map((Key) =>
              this.client.send(new DeleteObjectCommand({ Bucket: this.location.name, Key })),
            ),
        );
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * /health's check: the bucket answers (HEAD), and takes a write (a small object under the
   * prefix, written again once a minute while it works).
   */
  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.location.name }));
    if (Date.now() - this.lastWrite < WRITE_CHECK_EVERY_MS) return;
    await this.client
      .send(
        new PutObjectCommand({
          Bucket: this.location.name,
          Key: this.keyOf('.health-check'),
          Body: new Date().toISOString(),
        }),
      )
      .catch((error: unknown) => {
        this.logger.warn(`${this.name} does not take writes: ${String(error)}`);
        throw error;
      });
    this.lastWrite = Date.now();
  }

  private keyOf(key: string): string {
    return this.location.prefix + key;
  }
}
