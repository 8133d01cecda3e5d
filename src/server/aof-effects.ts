/**
 * What a write that depends on chance or on time spent blocked is logged as once its reply is known:
 * SPOP as SREM of the members it took, a blocking pop as the pop that served it (as Redis propagates
 * them), so replaying the AOF rebuilds the data the clients saw.
 */
import { CMD } from '../commands/ids.generated.js';
import { asciiBytes as ascii } from '../persistence/int-string.js';

/** A decoded reply: bulk or simple strings as bytes, arrays (and sets, maps) as lists, null for nil. */
type Reply = Uint8Array | null | Reply[];

/** Decodes the RESP2/RESP3 reply at `p`; returns it with the offset just past it. */
function decode(b: Uint8Array, p: number): [Reply, number] {
  const type = b[p]!;
  let e = p + 1;
  while (b[e] !== 13) e++;
  const line = Buffer.from(b.buffer, b.byteOffset + p + 1, e - p - 1);
  const next = e + 2;
  switch (type) {
    case 36: {
      // $len
      const n = Number(line.toString('latin1'));
      if (n < 0) return [null, next];
      return [b.subarray(next, next + n), next + n + 2];
    }
    case 42:
    case 126:
    case 62:
    case 37: {
      // * ~ > arrays, sets, pushes; % maps as a flat list
      let n = Number(line.toString('latin1'));
      if (n < 0) return [null, next];
      if (type === 37) n *= 2;
      const items: Reply[] = [];
      let q = next;
      for (let i = 0; i < n; i++) {
        const [v, after] = decode(b, q);
        items.push(v);
        q = after;
      }
      return [items, q];
    }
    case 95:
      return [null, next];
    default:
      return [line, next];
  }
}

const list = (r: Reply): Reply[] => (Array.isArray(r) ? r : []);
const bytes = (r: Reply): Uint8Array => (r instanceof Uint8Array ? r : ascii(''));

/** Commands whose effect depends on chance or on when they were served; the others are logged as dispatched. */
const BY_EFFECT = new Set<number>([
  CMD.SPOP,
  CMD.BLPOP,
  CMD.BRPOP,
  CMD.BZPOPMIN,
  CMD.BZPOPMAX,
  CMD.BLMPOP,
  CMD.BZMPOP,
  CMD.BLMOVE,
  CMD.BRPOPLPUSH,
  CMD.XADD,
  CMD.XCLAIM,
  CMD.XAUTOCLAIM,
]);

/** Whether command `id` is logged by what its reply says (effectForm needs its arguments). */
export function dependsOnReply(id: number): boolean {
  return BY_EFFECT.has(id);
}

/**
 * The argv to log for command `id` (as dispatched: `argv`) given its successful reply, or null when
 * it changed nothing. Commands whose effect the arguments alone decide are logged as they are.
 */
export function effectForm(id: number, argv: Uint8Array[], reply: Uint8Array, s: number, len: number): Uint8Array[] | null {
  if (!BY_EFFECT.has(id)) return argv;
  const [r] = decode(reply.subarray(s, s + len), 0);
  if (r === null) return null;
  switch (id) {
    case CMD.XADD:
      return xaddWithId(argv, bytes(r));
    case CMD.XCLAIM:
      return xclaimTaken(argv, list(r));
    case CMD.XAUTOCLAIM: {
      // XCLAIM of what it took and of the deleted entries it dropped (a replay drops them again).
      const [, taken, deleted] = list(r);
      const ids = [...list(taken!).map(entryId), ...list(deleted!).map(bytes)];
      if (ids.length === 0) return null;
      const justid = argv.slice(6).some((a) => word(a) === 'JUSTID');
      return [ascii('XCLAIM'), argv[1]!, argv[2]!, argv[3]!, ascii('0'), ...ids, ...(justid ? [ascii('JUSTID')] : [])];
    }
    case CMD.SPOP: {
      const members = Array.isArray(r) ? r.map(bytes) : [r];
      return members.length === 0 ? null : [ascii('SREM'), argv[1]!, ...members];
    }
    case CMD.BLPOP:
    case CMD.BRPOP:
      return [ascii(id === CMD.BLPOP ? 'LPOP' : 'RPOP'), bytes(list(r)[0]!)];
    case CMD.BZPOPMIN:
    case CMD.BZPOPMAX: {
      const [key, member] = list(r);
      return [ascii('ZREM'), bytes(key!), bytes(member!)];
    }
    case CMD.BLMPOP: {
      const [key, popped] = list(r);
      const side = argv[3 + Number(Buffer.from(argv[2]!).toString('latin1'))]!;
      return [ascii('LMPOP'), ascii('1'), bytes(key!), side, ascii('COUNT'), ascii(String(list(popped!).length))];
    }
    case CMD.BZMPOP: {
      const [key, popped] = list(r);
      return [ascii('ZREM'), bytes(key!), ...list(popped!).map((pair) => bytes(list(pair)[0]!))];
    }
    case CMD.BLMOVE:
      return [ascii('LMOVE'), argv[1]!, argv[2]!, argv[3]!, argv[4]!];
    default:
      return [ascii('RPOPLPUSH'), argv[1]!, argv[2]!];
  }
}

const word = (a: Uint8Array): string => Buffer.from(a.buffer, a.byteOffset, a.length).toString('latin1').toUpperCase();

/** XADD with the id it generated (`*`, `ms-*`) in place, as Redis propagates it, so a replay adds the same entry. */
function xaddWithId(argv: Uint8Array[], id: Uint8Array): Uint8Array[] {
  const out = argv.slice();
  for (let i = 2; i < argv.length; i++) {
    const w = word(argv[i]!);
    if (w === 'NOMKSTREAM') continue;
    if (w === 'MAXLEN' || w === 'MINID' || w === 'LIMIT') {
      const next = word(argv[i + 1] ?? new Uint8Array());
      i += next === '=' || next === '~' ? 2 : 1;
      continue;
    }
    out[i] = id;
    return out;
  }
  return out;
}

/** A claimed entry's id: the entry itself (JUSTID) or the first element of [id, fields]. */
const entryId = (e: Reply): Uint8Array => (Array.isArray(e) ? bytes(e[0]!) : bytes(e));

/** XCLAIM as what it took: min-idle 0 and only the claimed ids (idle times differ at replay), the options kept. */
function xclaimTaken(argv: Uint8Array[], taken: Reply[]): Uint8Array[] | null {
  const ids = taken.filter((e) => e !== null).map(entryId);
  if (ids.length === 0) return null;
  let j = 5;
  while (j < argv.length && /^\d+(-\d+)?$/.test(Buffer.from(argv[j]!).toString('latin1'))) j++;
  return [argv[0]!, argv[1]!, argv[2]!, argv[3]!, ascii('0'), ...ids, ...argv.slice(j)];
}
