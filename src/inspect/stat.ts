/** `sabre inspect stat`: one line a second of what the server is doing, like `redis-cli --stat`. */
import type { Redis } from 'ioredis';
import { parseInfo } from '../wire/info-text.js';

/** Keys in all databases, from INFO keyspace (`db0:keys=…,expires=…`). */
function totalKeys(info: Map<string, string>): number {
  let n = 0;
  for (const [k, v] of info) if (/^db\d+$/.test(k)) n += Number(/keys=(\d+)/.exec(v)?.[1] ?? 0);
  return n;
}

/** A byte count as redis-cli prints it (K, M, G with two decimals). */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n}B`;
  const units = ['K', 'M', 'G', 'T'];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(2)}${units[u]}`;
}

/** Prints a header every 20 lines and a line every `intervalMs`, `count` times (0: until stopped). */
export async function statLoop(
  r: Redis,
  intervalMs: number,
  count: number,
  out: (line: string) => void,
  stop: () => boolean,
): Promise<void> {
  let prev: Map<string, string> | null = null;
  for (let i = 0; count === 0 || i < count; i++) {
    if (stop()) return;
    const info = parseInfo(await r.info());
    if (i % 20 === 0) out('------- data ------ --------------------- load -------------------- - child -');
    if (i % 20 === 0) out('keys       mem      clients blocked requests            connections          ');
    const cmds = Number(info.get('total_commands_processed') ?? 0);
    const conns = Number(info.get('total_connections_received') ?? 0);
    const dCmds = prev ? cmds - Number(prev.get('total_commands_processed') ?? 0) : 0;
    const dConns = prev ? conns - Number(prev.get('total_connections_received') ?? 0) : 0;
    const child = info.get('rdb_bgsave_in_progress') === '1' ? 'RDB' : info.get('aof_rewrite_in_progress') === '1' ? 'AOF' : '';
    out(
      `${String(totalKeys(info)).padEnd(10)} ${humanBytes(Number(info.get('used_memory') ?? 0)).padEnd(8)} ` +
        `${(info.get('connected_clients') ?? '?').padEnd(7)} ${(info.get('blocked_clients') ?? '?').padEnd(7)} ` +
        `${`${cmds} (+${dCmds})`.padEnd(19)} ${`${conns} (+${dConns})`.padEnd(20)} ${child}`,
    );
    prev = info;
    if (count === 0 || i + 1 < count) await new Promise((res) => setTimeout(res, intervalMs));
  }
}
