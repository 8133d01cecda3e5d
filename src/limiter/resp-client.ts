/**
 * A minimal RESP2 client on node:net for the limiter's few commands (CL.LEASE, CL.THROTTLE):
 * pipelined requests, bounded timeouts, and reconnection by itself with capped exponential backoff.
 * While disconnected, commands fail at once so callers can apply their fallback without waiting.
 */
import { connect, type Socket } from 'node:net';
import { logger } from '../log.js';
import { encodeCommand } from '../wire/resp-command.js';
import { LimiterError, UnavailableError } from './errors.js';

/** A decoded RESP2 reply. Error replies reject the command with RespReplyError instead. */
export type RespValue = string | number | null | RespValue[];

/** The server answered with an error reply (e.g. unknown command, bad arguments). */
export class RespReplyError extends LimiterError {
  constructor(message: string) {
    super('SABRE_LIMITER_PROTOCOL', message);
  }
}

/** Connection settings; all durations in ms. */
export interface RespClientOptions {
  host?: string;
  port: number;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

interface Pending {
  resolve(v: RespValue): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

const log = logger('limiter-resp');

/** Incremental RESP2 decoder: `push` bytes, then call `next` until it returns undefined. */
export class RespDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;

  /** Appends received bytes. */
  push(chunk: Buffer): void {
    this.buf = this.pos < this.buf.length ? Buffer.concat([this.buf.subarray(this.pos), chunk]) : chunk;
    this.pos = 0;
  }

  /** The next complete reply, an Error for an error reply, or undefined when more bytes are needed. */
  next(): RespValue | Error | undefined {
    const start = this.pos;
    const v = this.parse();
    if (v === undefined) this.pos = start;
    return v;
  }

  private line(): string | undefined {
    const end = this.buf.indexOf('\r\n', this.pos);
    if (end < 0) return undefined;
    const s = this.buf.toString('utf8', this.pos + 1, end);
    this.pos = end + 2;
    return s;
  }

  private parse(): RespValue | Error | undefined {
    if (this.pos >= this.buf.length) return undefined;
    const type = this.buf[this.pos];
    const l = this.line();
    if (l === undefined) return undefined;
    switch (type) {
      case 0x2b: // +
        return l;
      case 0x2d: // -
        return new RespReplyError(l);
      case 0x3a: // :
        return Number(l);
      case 0x24: {
        // $
        const n = Number(l);
        if (n < 0) return null;
        if (this.buf.length < this.pos + n + 2) return undefined;
        const s = this.buf.toString('utf8', this.pos, this.pos + n);
        this.pos += n + 2;
        return s;
      }
      case 0x2a: {
        // *
        const n = Number(l);
        if (n < 0) return null;
        const arr: RespValue[] = [];
        for (let i = 0; i < n; i++) {
          const v = this.parse();
          if (v === undefined) return undefined;
          arr.push(v instanceof Error ? v.message : v);
        }
        return arr;
      }
      default:
        throw new LimiterError('SABRE_LIMITER_PROTOCOL', `unexpected RESP type byte 0x${(type ?? 0).toString(16)}`);
    }
  }
}

/** One connection to sabre server (or any RESP server) that keeps itself connected. */
export class RespClient {
  private socket: Socket | undefined;
  private up = false;
  private closed = false;
  private attempts = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly pending: Pending[] = [];
  private decoder = new RespDecoder();
  private readonly host: string;
  private readonly port: number;
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;

  constructor(opts: RespClientOptions) {
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 500;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 250;
    this.backoffInitialMs = opts.backoffInitialMs ?? 50;
    this.backoffMaxMs = opts.backoffMaxMs ?? 2000;
    this.open();
  }

  /** True while the socket is connected. */
  get connected(): boolean {
    return this.up;
  }

  /** Sends a command; rejects with UnavailableError when disconnected or past the timeout. */
  command(args: readonly (string | number)[]): Promise<RespValue> {
    const socket = this.socket;
    if (!this.up || !socket) return Promise.reject(new UnavailableError(`not connected to ${this.host}:${this.port}`));
    return new Promise<RespValue>((resolve, reject) => {
      // A late reply would desynchronize the pipeline, so a timeout drops the connection.
      const timer = setTimeout(
        () => socket.destroy(new UnavailableError(`no reply within ${this.commandTimeoutMs} ms`)),
        this.commandTimeoutMs,
      );
      this.pending.push({ resolve, reject, timer });
      socket.write(encodeCommand(args));
    });
  }

  /** Closes the connection for good. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.socket?.destroy();
  }

  private open(): void {
    if (this.closed) return;
    const socket = connect({ host: this.host, port: this.port });
    this.socket = socket;
    this.decoder = new RespDecoder();
    socket.setNoDelay(true);
    socket.setTimeout(this.connectTimeoutMs, () => socket.destroy(new UnavailableError('connect timeout')));
    socket.once('connect', () => {
      socket.setTimeout(0);
      this.up = true;
      if (this.attempts > 0) log.info('reconnected', { host: this.host, port: this.port, attempts: this.attempts });
      this.attempts = 0;
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    socket.once('close', () => this.onClose(socket));
  }

  private onData(chunk: Buffer): void {
    this.decoder.push(chunk);
    for (;;) {
      let v: RespValue | Error | undefined;
      try {
        v = this.decoder.next();
      } catch (err) {
        this.socket?.destroy(err as Error);
        return;
      }
      if (v === undefined) return;
      const p = this.pending.shift();
      if (!p) continue;
      clearTimeout(p.timer);
      if (v instanceof Error) p.reject(v);
      else p.resolve(v);
    }
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) return;
    const wasUp = this.up;
    this.up = false;
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new UnavailableError('connection closed'));
    }
    if (this.closed) return;
    if (wasUp) log.warn('connection lost; reconnecting', { host: this.host, port: this.port });
    const delay = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** this.attempts);
    this.attempts++;
    this.retryTimer = setTimeout(() => this.open(), delay * (0.75 + Math.random() * 0.5));
    this.retryTimer.unref();
  }
}
