/**
 * SCAN cursors across shards. A client's cursor holds the shard in its low digits (base
 * `shards`) and that shard's own reverse-binary cursor above them. Parsed like Redis's
 * strtoul (any value up to 2^64-1, a leading '-' wraps), so the acceptor (routing) and the
 * shard (scanning) read the same shard from the same text.
 */
const U64 = 1n << 64n;

/** The cursor as an unsigned 64-bit value, or null when Redis would answer "invalid cursor". */
export function parseScanCursor(buf: Uint8Array, s: number, n: number): bigint | null {
  const text = Buffer.from(buf.buffer, buf.byteOffset + s, n).toString('latin1');
  if (!/^[+-]?\d+$/.test(text)) return null;
  let v = BigInt(text);
  if (v >= U64 || v <= -U64) return null;
  if (v < 0n) v += U64;
  return v;
}

/** The shard a cursor continues on. */
export function cursorShard(cursor: bigint, shards: number): number {
  return Number(cursor % BigInt(shards));
}

/** False for cursors Sabre never issues (a shard cursor past 32 bits): like Redis, such a scan is simply over. */
export function cursorInRange(cursor: bigint, shards: number): boolean {
  return cursor / BigInt(shards) <= 0xffffffffn;
}

/** That shard's own cursor (32 bits). */
export function cursorLocal(cursor: bigint, shards: number): number {
  return Number((cursor / BigInt(shards)) & 0xffffffffn);
}
