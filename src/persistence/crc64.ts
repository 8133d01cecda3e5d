/**
 * CRC-64/REDIS (Jones polynomial, reflected, init 0, xorout 0), the checksum closing RDB files and DUMP
 * payloads. js-crc computes it; crc64Combine (zlib's crc32_combine method, not in any JS package) joins
 * checksums of consecutive blocks, so pool workers checksum their own blocks and the file writer only combines.
 */
import models from 'js-crc/models';

/** The reflected Jones polynomial. */
const POLY_REFLECTED = 0x95ac9329ac4bc9b5n;

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

/** The CRC-64 of one buffer as a number. */
export function crc64(bytes: Uint8Array): bigint {
  return BigInt(`0x${models.crc_64_redis(bytes)}`);
}

/** Little-endian bytes of a CRC value, as stored on disk. */
export function crc64ToLE(crc: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, crc, true);
  return out;
}

function gf2Times(mat: readonly bigint[], vec: bigint): bigint {
  let sum = 0n;
  for (let i = 0; vec !== 0n; i++, vec >>= 1n) if (vec & 1n) sum ^= mat[i]!;
  return sum;
}

function gf2Square(mat: readonly bigint[]): bigint[] {
  return mat.map((row) => gf2Times(mat, row));
}

// ZEROS[k]: the operator that runs the CRC register through 2^k zero bytes; built on first use.
const ZEROS: bigint[][] = [];

function zerosOperator(k: number): bigint[] {
  if (ZEROS.length === 0) {
    let op: bigint[] = [POLY_REFLECTED];
    for (let n = 1; n < 64; n++) op.push(1n << BigInt(n - 1));
    for (let i = 0; i < 3; i++) op = gf2Square(op);
    ZEROS.push(op);
  }
  while (ZEROS.length <= k) ZEROS.push(gf2Square(ZEROS[ZEROS.length - 1]!));
  return ZEROS[k]!;
}

/** The CRC of A followed by B, from crc(A), crc(B) and B's length. */
export function crc64Combine(crcA: bigint, crcB: bigint, lengthB: number): bigint {
  let crc = crcA;
  for (let k = 0, n = lengthB; n > 0; k++, n = Math.floor(n / 2)) {
    if (n % 2 === 1) crc = gf2Times(zerosOperator(k), crc);
  }
  return crc ^ crcB;
}
