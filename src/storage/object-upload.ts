import {
  AbortMultipartUploadCommand,
  CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Logger } from '@nestjs/common';

/** S3's smallest part (but the last): what an upload holds in memory at most, plus one write. */
export const PART_BYTES = 5 * 1024 * 1024;

/** Seconds between the tries of an abort that failed (the store was away): about two minutes. */
const ABORT_RETRIES_S = [1, 3, 10, 30, 60];

/**
 * One object written as its bytes come, in bounded memory: the writes are held until they make a
 * part (PART_BYTES), which is sent before the next write returns. An object smaller than a part
 * is sent whole by `complete` (one PUT); a larger one is a multipart upload, begun with its first
 * part. `abort` drops the parts sent, trying again for a while when the store does not answer; a
 * process that dies meanwhile leaves them to the bucket's AbortIncompleteMultipartUpload rule.
 */
export class ObjectUpload {
  private readonly logger = new Logger(ObjectUpload.name);
  private held: Buffer[] = [];
  private heldBytes = 0;
  private uploadId?: string;
  private readonly parts: CompletedPart[] = [];
  /** The part being sent, if any: abort waits for it, so that no part lands after the abort. */
  private sending: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    readonly key: string,
    private readonly contentType: string,
    private readonly partBytes = PART_BYTES,
  ) {}

  async write(data: Buffer): Promise<void> {
    this.held.push(data);
    this.heldBytes += data.length;
    if (this.heldBytes >= this.partBytes) await this.track(this.sendPart());
  }

  /** Sends what is held: the object is whole in the bucket. */
  async complete(): Promise<void> {
    if (this.uploadId === undefined) {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key,
          Body: this.take(),
          ContentType: this.contentType,
        }),
      );
      return;
    }
    if (this.heldBytes > 0) await this.track(this.sendPart());
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: this.key,
        UploadId: this.uploadId,
        MultipartUpload: { Parts: this.parts },
      }),
    );
  }

  /**
   * Drops the parts sent. Resolves after the first try; when that fails, tries again in the
   * background (ABORT_RETRIES_S). Never fails the caller.
   */
  async abort(): Promise<void> {
    this.held = [];
    this.heldBytes = 0;
    await this.sending.catch(() => undefined);
    const uploadId = this.uploadId;
    if (uploadId === undefined) return;
    const tryAbort = () =>
      this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: uploadId }),
      );
    const retry = async (error: unknown, tries: number[]): Promise<void> => {
      const [next, ...later] = tries;
      if (next === undefined) {
        this.logger.warn(
          `Upload ${uploadId} of ${this.key} not aborted (${String(error)}): the bucket's ` +
            'AbortIncompleteMultipartUpload rule will drop its parts',
        );
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, next * 1000).unref());
      await tryAbort().catch((again: unknown) => retry(again, later));
    };
    await tryAbort().catch((error: unknown) => void retry(error, ABORT_RETRIES_S));
  }

  private track<T>(sending: Promise<T>): Promise<T> {
    this.sending = sending.catch(() => undefined);
    return sending;
  }

  private async sendPart(): Promise<void> {
    this.uploadId ??= (
      await this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.key,
          ContentType: this.contentType,
        }),
      )
    ).UploadId;
    const partNumber = this.parts.length + 1;
    const { ETag } = await this.client.send(
      new UploadPartCommand({
        Bucket: this.bucket,
        Key: this.key,
        UploadId: this.uploadId,
        PartNumber: partNumber,
        Body: this.take(),
      }),
    );
    this.parts.push({ ETag, PartNumber: partNumber });
  }

  private take(): Buffer {
    const body = Buffer.concat(this.held, this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
    return body;
  }
}
