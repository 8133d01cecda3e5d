import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  formatKeyspaceEvents,
  parseKeyspaceEvents,
  NOTIFY_ALL,
  NOTIFY_KEYEVENT,
  NOTIFY_KEYSPACE,
  NOTIFY_NEW,
} from '../../src/wire/keyspace-events.js';

describe('notify-keyspace-events letters', () => {
  it('spells flags the way Redis 7.0 CONFIG GET does', () => {
    expect(formatKeyspaceEvents(parseKeyspaceEvents('xKg')!)).toBe('gxK');
    expect(formatKeyspaceEvents(parseKeyspaceEvents('KEA')!)).toBe('AKE');
    expect(formatKeyspaceEvents(parseKeyspaceEvents('g$lshzxetdKE')!)).toBe('AKE');
    expect(formatKeyspaceEvents(parseKeyspaceEvents('Em')!)).toBe('Em');
    expect(formatKeyspaceEvents(parseKeyspaceEvents('An')!)).toBe('A');
    expect(formatKeyspaceEvents(parseKeyspaceEvents('gn')!)).toBe('gn');
    expect(parseKeyspaceEvents('')).toBe(0);
    expect(parseKeyspaceEvents('KZ')).toBeNull();
    expect(parseKeyspaceEvents('A')! & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)).toBe(0);
  });

  it('round-trips: formatting then parsing keeps the flags (except n under A, which Redis drops too)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...'Ag$lshzxeKEtmdn'.split('')), { maxLength: 12 }), (letters) => {
        const flags = parseKeyspaceEvents(letters.join(''))!;
        const kept = (flags & NOTIFY_ALL) === NOTIFY_ALL ? flags & ~NOTIFY_NEW : flags;
        expect(parseKeyspaceEvents(formatKeyspaceEvents(flags))).toBe(kept);
        if ((flags & NOTIFY_ALL) === NOTIFY_ALL) expect(formatKeyspaceEvents(flags).startsWith('A')).toBe(true);
      }),
    );
  });
});
