/** Leveled log lines with an ISO time, one line per event: `TIME LEVEL [component] message key=value…`. */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let threshold = RANK[(process.env.SABRE_LOG_LEVEL as LogLevel) ?? 'info'] ?? RANK.info;

/** Sets the lowest level that is written. */
export function setLogLevel(level: LogLevel): void {
  threshold = RANK[level];
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /[\s="]/.test(v) || v === '' ? JSON.stringify(v) : v;
  if (v instanceof Error) return JSON.stringify(v.message);
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function write(level: LogLevel, component: string, msg: string, fields?: Record<string, unknown>): void {
  if (RANK[level] < threshold) return;
  let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${component}] ${msg}`;
  if (fields) for (const k in fields) line += ` ${k}=${formatValue(fields[k])}`;
  (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(`${line}\n`);
}

/** A logger bound to one component name (`server`, `shard-2`, `proxy`…). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Returns a logger whose lines carry `[component]`. */
export function logger(component: string): Logger {
  return {
    debug: (m, f) => write('debug', component, m, f),
    info: (m, f) => write('info', component, m, f),
    warn: (m, f) => write('warn', component, m, f),
    error: (m, f) => write('error', component, m, f),
  };
}
