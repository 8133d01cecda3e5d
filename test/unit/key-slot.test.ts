import { describe, expect, it } from 'vitest';
import calculateSlot from 'cluster-key-slot';
import { keySlot } from '../../src/wire/key-slot.js';

describe('keySlot', () => {
  it('agrees with cluster-key-slot (the acceptor routes by it), hash tags included', () => {
    const keys = ['', 'a', '123456789', '{user}:1', 'x{user}y', '{}a', 'a{}b{c}', '{a', 'a}', 'bull:queue:wait', '{{a}}', 'é{ü}'];
    for (let i = 0; i < 500; i++) keys.push(`k:${i}:${(i * 7919).toString(36)}`);
    for (const k of keys) {
      const b = Buffer.from(`..${k}..`);
      expect(keySlot(b, 2, b.length - 4)).toBe(calculateSlot(Buffer.from(k)));
    }
    expect(keySlot(Buffer.from('123456789'), 0, 9)).toBe(0x31c3 & 16383);
  });
});
