import { DynamicModule, Module } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { storageConfig } from '../config/configuration';
import { Bucket, BUCKET_LOCATION } from './bucket';

/**
 * Object storage, for whoever keeps files in a bucket: `Bucket` (uploads in bounded memory,
 * presigned URLs, deletes, its /health check), at the location configured. Without one the module
 * holds nothing, and /health names no bucket.
 */
@Module({})
export class StorageModule {
  static register(withBucket: boolean): DynamicModule {
    if (!withBucket) return { module: StorageModule };
    return {
      module: StorageModule,
      providers: [
        {
          provide: BUCKET_LOCATION,
          inject: [storageConfig.KEY],
          useFactory: (config: ConfigType<typeof storageConfig>) => config.bucket,
        },
        Bucket,
      ],
      exports: [Bucket],
    };
  }
}
