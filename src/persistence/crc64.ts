/** CRC-64/REDIS (Jones polynomial, reflected), the checksum closing RDB files and DUMP payloads, via js-crc. */
import models from 'js-crc/models';

/** An incremental CRC-64 over the bytes fed to it. */
export class Crc64 {
  private readonly state = models.crc_64_redis.create();

  /** Feeds more bytes. */
  update(bytes: Uint8Array): this {
    if (bytes.length > 0) this.state.update(bytes);
    return this;
  }

  /** The checksum as Redis stores it on disk: 8 bytes, little-endian. */
  digestLE(): Uint8Array {
    return Uint8Array.from(this.state.array()).reverse();
  }
}

/** The on-disk (little-endian) CRC-64 of one buffer. */
export function crc64LE(bytes: Uint8Array): Uint8Array {
  return new Crc64().update(bytes).digestLE();
}
