/**
 * Redis Cluster's hash slot of a key (CRC16/XMODEM of the key, or of its {tag}, mod 16384), read straight from a byte range: no Buffer or string per key.
 */

/** CRC16/XMODEM (poly 0x1021) by byte. */
const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c = i << 8;
  for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
  TABLE[i] = c;
}

/**
 * Hash slot (0..16383) of the key bytes [s, s + n) of `b`, hash tags honoured as Redis's
 * keyHashSlot reads them. The acceptor routes keys to shards with it and the shards count slots
 * with it, so both agree on where a key lives (tests check it against cluster-key-slot).
 */
export function keySlot(b: Uint8Array, s: number, n: number): number {
  const e = s + n;
  let open = -1;
  let all = 0;
  let tag = 0;
  for (let i = s; i < e; i++) {
    const ch = b[i]!;
    if (open === -1) {
      if (ch === 123) open = i + 1;
    } else if (ch !== 125) tag = (TABLE[(ch ^ (tag >> 8)) & 0xff]! ^ (tag << 8)) & 0xffff;
    else if (i !== open) return tag & 16383;
    all = (TABLE[(ch ^ (all >> 8)) & 0xff]! ^ (all << 8)) & 0xffff;
  }
  return all & 16383;
}
