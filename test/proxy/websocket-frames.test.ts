import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/proxy/websocket.js';

/** The masking key and payload offset of one encoded client frame. */
function maskOf(frame: Buffer): { key: number; payloadAt: number } {
  const len = frame[1]! & 0x7f;
  const keyAt = len < 126 ? 2 : len === 126 ? 4 : 10;
  return { key: frame.readUInt32BE(keyAt), payloadAt: keyAt + 4 };
}

function decodeOne(frame: Buffer): Buffer[] {
  const got: Buffer[] = [];
  const dec = new FrameDecoder(
    (data) => got.push(data),
    () => undefined,
    1 << 24,
  );
  expect(dec.push(frame)).toBe(true);
  return got;
}

describe('client-to-backend WebSocket frames', () => {
  it('are masked, each with its own non-zero key, and unmask to the payload at every length class', () => {
    const keys = new Set<number>();
    for (const n of [0, 1, 3, 4, 5, 125, 126, 127, 65535, 65536, 70_001]) {
      const payload = Buffer.alloc(n);
      for (let i = 0; i < n; i++) payload[i] = (i * 31 + 7) & 0xff;
      const frame = encodeFrame(2, payload);
      expect(frame[1]! & 0x80).toBe(0x80);
      const { key, payloadAt } = maskOf(frame);
      expect(key).not.toBe(0);
      keys.add(key);
      expect(frame.length).toBe(payloadAt + n);
      if (n >= 4) expect(frame.subarray(payloadAt).equals(payload)).toBe(false);
      expect(decodeOne(frame)).toEqual([payload]);
    }
    expect(keys.size).toBe(11);
  });

  it('draw fresh keys across refills of the key pool', () => {
    const keys = new Set<number>();
    const payload = Buffer.from('same payload every time');
    // 1 KiB of keys is 256 frames: 600 frames cross two refills.
    for (let i = 0; i < 600; i++) {
      const frame = encodeFrame(1, payload);
      keys.add(maskOf(frame).key);
      expect(decodeOne(frame)[0]!.equals(payload)).toBe(true);
    }
    expect(keys.size).toBe(600);
    expect(keys.has(0)).toBe(false);
  });
});
