/** DUMP/RESTORE payloads: one value in RDB object form, then the RDB version (2 bytes LE) and CRC-64 (8 bytes LE). */
import { ByteWriter } from './byte-writer.js';
import { crc64LE } from './crc64.js';
import { RdbError } from './rdb-error.js';
import { RdbInput } from './rdb-input.js';
import type { RdbValue } from './rdb-types.js';
import { RDB_VERSION } from './rdb-constants.js';
import { readValue, writeValue } from './rdb-value.js';
import { E_DUMP_PAYLOAD } from '../wire/error-text.js';

/** Serializes a value the way Redis's DUMP does. */
export function encodeDumpPayload(value: RdbValue, opts: { compress?: boolean } = {}): Uint8Array {
  const w = new ByteWriter(256);
  writeValue(w, value, { compress: opts.compress ?? true });
  w.u8(RDB_VERSION & 0xff);
  w.u8(RDB_VERSION >> 8);
  const body = w.take();
  const out = new Uint8Array(body.length + 8);
  out.set(body);
  out.set(crc64LE(body), body.length);
  return out;
}

/**
 * Decodes a RESTORE payload. A wrong version or checksum throws RdbError whose message is Redis's reply
 * text (E_DUMP_PAYLOAD); a payload that passes those checks but does not decode throws RdbError 'CORRUPT'
 * (Redis answers "Bad data format").
 */
export function decodeDumpPayload(payload: Uint8Array): RdbValue {
  if (payload.length < 10) throw new RdbError('BAD_VERSION', E_DUMP_PAYLOAD);
  const footer = payload.length - 10;
  const version = payload[footer]! | (payload[footer + 1]! << 8);
  if (version > RDB_VERSION) throw new RdbError('BAD_VERSION', E_DUMP_PAYLOAD);
  const crc = crc64LE(payload.subarray(0, footer + 2));
  if (!crc.every((b, i) => b === payload[footer + 2 + i])) throw new RdbError('CHECKSUM', E_DUMP_PAYLOAD);
  const input = new RdbInput(payload.subarray(0, footer));
  let value: RdbValue;
  try {
    value = readValue(input, input.u8());
  } catch (e) {
    if (e instanceof RdbError) throw new RdbError('CORRUPT', 'Bad data format', e.offset);
    throw e;
  }
  if (!input.atEnd()) throw new RdbError('CORRUPT', 'Bad data format', input.offset);
  return value;
}
