/**
 * A reference HTTP/1.1 response parser for tests: llhttp, the parser inside Node's http module, in the WebAssembly
 * build undici ships. Taking it from undici (a pinned devDependency) gives the same llhttp on Node 20, 22 and 24,
 * without Node internals (process.binding('http_parser') warns, DEP0111; _http_common may go away).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The parts of the WebAssembly global used here (the project's lib settings carry no WebAssembly types). */
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

/** llhttp_errno values this wrapper looks at (undici/lib/llhttp/constants.js). */
const HPE_OK = 0;
const HPE_PAUSED = 21;
const HPE_PAUSED_UPGRADE = 22;
const TYPE_RESPONSE = 2;

interface LlhttpExports {
  memory: { buffer: ArrayBuffer };
  malloc(size: number): number;
  llhttp_alloc(type: number): number;
  llhttp_free(parser: number): void;
  llhttp_execute(parser: number, data: number, length: number): number;
  llhttp_resume(parser: number): void;
  llhttp_get_error_pos(parser: number): number;
  llhttp_message_needs_eof(parser: number): number;
}

/** How llhttp frames the body of a response: none, `length` bytes, chunked, or until the connection closes. */
export type Framing = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

/** What llhttp makes of a response head: rejected, incomplete, or a head of `headLength` bytes. */
export type Reference =
  | { result: 'error' }
  | { result: 'incomplete' }
  | { result: 'head'; status: number; headLength: number; keepAlive: boolean; headers: string[]; framing: Framing };

/** Content lengths up to this are found exactly; a longer one reads as Infinity. */
export const MAX_PROBED_LENGTH = 1 << 16;

const DATA_SIZE = 1 << 20;

/** Parses responses with llhttp, one at a time. */
export class LlhttpReference {
  private readonly e: LlhttpExports;
  private readonly data: number;
  private readonly probe = Buffer.alloc(MAX_PROBED_LENGTH, 'z');
  private parser = 0;
  private headersDone = false;
  private complete = false;
  private status = 0;
  private keepAlive = false;
  private bodyBytes = 0;
  private headers: string[] = [];
  private inValue = false;

  constructor() {
    const mod = new wasm.Module(require('undici/lib/llhttp/llhttp-wasm.js') as Buffer);
    const text = (at: number, len: number): string => Buffer.from(this.e.memory.buffer, at, len).toString('latin1');
    const instance = new wasm.Instance(mod, {
      env: {
        wasm_on_url: () => 0,
        wasm_on_status: () => 0,
        wasm_on_message_begin: () => 0,
        wasm_on_header_field: (_p: number, at: number, len: number) => {
          if (this.inValue || this.headers.length === 0) this.headers.push('', '');
          this.inValue = false;
          this.headers[this.headers.length - 2] += text(at, len);
          return 0;
        },
        wasm_on_header_value: (_p: number, at: number, len: number) => {
          this.inValue = true;
          this.headers[this.headers.length - 1] += text(at, len);
          return 0;
        },
        wasm_on_headers_complete: (_p: number, status: number, _upgrade: number, keepAlive: number) => {
          this.headersDone = true;
          this.status = status;
          this.keepAlive = keepAlive === 1;
          // Pausing here leaves the error position just past the head: that is its length.
          return HPE_PAUSED;
        },
        wasm_on_body: (_p: number, _at: number, len: number) => {
          this.bodyBytes += len;
          return 0;
        },
        wasm_on_message_complete: () => {
          this.complete = true;
          return 0;
        },
      },
    });
    this.e = instance.exports as unknown as LlhttpExports;
    this.data = this.e.malloc(DATA_SIZE);
  }

  private execute(bytes: Uint8Array): number {
    if (bytes.length > DATA_SIZE) throw new Error('input too large for the reference parser');
    new Uint8Array(this.e.memory.buffer, this.data, bytes.length).set(bytes);
    return this.e.llhttp_execute(this.parser, this.data, bytes.length);
  }

  /** Parses the response head at the start of `bytes` and, for a final response, finds how its body is framed. */
  parse(bytes: Uint8Array): Reference {
    if (this.parser !== 0) this.e.llhttp_free(this.parser);
    this.parser = this.e.llhttp_alloc(TYPE_RESPONSE);
    this.headersDone = this.complete = this.inValue = false;
    this.headers = [];
    this.bodyBytes = 0;
    const rc = this.execute(bytes);
    if (!this.headersDone) return rc === HPE_OK ? { result: 'incomplete' } : { result: 'error' };
    if (rc !== HPE_PAUSED && rc !== HPE_PAUSED_UPGRADE) return { result: 'error' };
    const headLength = this.e.llhttp_get_error_pos(this.parser) - this.data;
    const { status, keepAlive, headers } = this;
    return { result: 'head', status, headLength, keepAlive, headers, framing: this.framing() };
  }

  /** Feeds probe bytes after the head llhttp paused on, and reads the framing from what it does with them. */
  private framing(): Framing {
    if (this.e.llhttp_message_needs_eof(this.parser) === 1) return { kind: 'close' };
    this.e.llhttp_resume(this.parser);
    // 'z' is no hex digit: a chunked body rejects it at once; a body-less message completes before it (and then
    // rejects it as the start of the next status line); a length-framed body takes it as data.
    const rc = this.execute(this.probe.subarray(0, 1));
    if (this.complete) return this.bodyBytes === 0 ? { kind: 'none' } : { kind: 'length', length: 1 };
    if (rc !== HPE_OK) return { kind: 'chunked' };
    // Past its end, a length-framed message completes and the rest of the probe is the (bad) next message.
    this.execute(this.probe);
    return { kind: 'length', length: this.complete ? this.bodyBytes : Infinity };
  }
}
