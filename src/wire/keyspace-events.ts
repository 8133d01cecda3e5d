/** The `notify-keyspace-events` flag letters: parsing, Redis's canonical spelling, and the bits shards test. */

/** Flag bits, numbered as Redis's NOTIFY_* constants. */
export const NOTIFY_KEYSPACE = 1 << 0;
export const NOTIFY_KEYEVENT = 1 << 1;
export const NOTIFY_GENERIC = 1 << 2;
export const NOTIFY_STRING = 1 << 3;
export const NOTIFY_LIST = 1 << 4;
export const NOTIFY_SET = 1 << 5;
export const NOTIFY_HASH = 1 << 6;
export const NOTIFY_ZSET = 1 << 7;
export const NOTIFY_EXPIRED = 1 << 8;
export const NOTIFY_EVICTED = 1 << 9;
export const NOTIFY_STREAM = 1 << 10;
export const NOTIFY_KEY_MISS = 1 << 11;
export const NOTIFY_MODULE = 1 << 13;
export const NOTIFY_NEW = 1 << 14;
/** The classes `A` stands for. */
export const NOTIFY_ALL =
  NOTIFY_GENERIC |
  NOTIFY_STRING |
  NOTIFY_LIST |
  NOTIFY_SET |
  NOTIFY_HASH |
  NOTIFY_ZSET |
  NOTIFY_EXPIRED |
  NOTIFY_EVICTED |
  NOTIFY_STREAM |
  NOTIFY_MODULE;

const LETTERS: [string, number][] = [
  ['g', NOTIFY_GENERIC],
  ['$', NOTIFY_STRING],
  ['l', NOTIFY_LIST],
  ['s', NOTIFY_SET],
  ['h', NOTIFY_HASH],
  ['z', NOTIFY_ZSET],
  ['x', NOTIFY_EXPIRED],
  ['e', NOTIFY_EVICTED],
  ['t', NOTIFY_STREAM],
  ['d', NOTIFY_MODULE],
  ['n', NOTIFY_NEW],
];

/** Parses the letters as Redis's keyspaceEventsStringToFlags; null on an unknown letter. */
export function parseKeyspaceEvents(s: string): number | null {
  let flags = 0;
  for (const ch of s) {
    if (ch === 'A') flags |= NOTIFY_ALL;
    else if (ch === 'K') flags |= NOTIFY_KEYSPACE;
    else if (ch === 'E') flags |= NOTIFY_KEYEVENT;
    else if (ch === 'm') flags |= NOTIFY_KEY_MISS;
    else {
      const l = LETTERS.find(([c]) => c === ch);
      if (l === undefined) return null;
      flags |= l[1];
    }
  }
  return flags;
}

/** The canonical spelling CONFIG GET shows (keyspaceEventsFlagsToString). */
export function formatKeyspaceEvents(flags: number): string {
  let s = '';
  if ((flags & NOTIFY_ALL) === NOTIFY_ALL) s += 'A';
  else for (const [c, bit] of LETTERS) if ((flags & bit) !== 0) s += c;
  if ((flags & NOTIFY_KEYSPACE) !== 0) s += 'K';
  if ((flags & NOTIFY_KEYEVENT) !== 0) s += 'E';
  if ((flags & NOTIFY_KEY_MISS) !== 0) s += 'm';
  return s;
}
