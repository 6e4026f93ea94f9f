import { DynamicModule, Module } from '@nestjs/common';
import { Bucket, BUCKET_LOCATION, BucketLocation } from './bucket';

/**
 * Object storage, for whoever keeps files in a bucket: `Bucket` (uploads in bounded memory,
 * presigned URLs, deletes, its /health check). Without a location the module holds nothing, and
 * /health names no bucket.
 */
@Module({})
export class StorageModule {
  static forBucket(location: BucketLocation | undefined): DynamicModule {
    if (!location) return { module: StorageModule };
    return {
      module: StorageModule,
      providers: [{ provide: BUCKET_LOCATION, useValue: location }, Bucket],
      exports: [Bucket],
    };
  }
}
