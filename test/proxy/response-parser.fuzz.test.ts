/**
 * The proxy's response-head parser against llhttp (Node's own parser, see llhttp-reference.ts) on random responses:
 * they must agree on accept/reject, status, head length, headers, keep-alive and body framing. Where the proxy
 * differs from llhttp on purpose, the difference is asserted (the last describe block) and says why.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { READ_BUFFER } from '../../src/proxy/read-buffer.js';
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  bodyFraming,
  F_INVALID,
  HEAD_ERROR,
  HEAD_INCOMPLETE,
  parseResponseHead,
  ResponseHead,
} from '../../src/proxy/response-head-parser.js';
import { type Framing, LlhttpReference, MAX_PROBED_LENGTH, type Reference } from './llhttp-reference.js';

const llhttp = new LlhttpReference();
const HEAD = new ResponseHead();

/** What the proxy's parser makes of a head, in the reference's terms. */
type Proxy =
  | { result: 'error' }
  | { result: 'incomplete' }
  | { result: 'head'; status: number; headLength: number; keepAlive: boolean; headers: string[]; framing: Framing; invalid: number };

function proxyFraming(head: ResponseHead): Framing {
  switch (bodyFraming(head, false)) {
    case BODY_NONE:
      return { kind: 'none' };
    case BODY_LENGTH:
      return { kind: 'length', length: head.contentLength > MAX_PROBED_LENGTH ? Infinity : head.contentLength };
    case BODY_CHUNKED:
      return { kind: 'chunked' };
    default:
      return { kind: 'close' };
  }
}

/** Parses `bytes` at `at` in `buf` (bytes before it are left as they are, like older data in the read buffer). */
function parseAt(buf: Buffer, at: number, bytes: Uint8Array): Proxy {
  buf.set(bytes, at);
  const end = parseResponseHead(buf, at, at + bytes.length, HEAD);
  if (end === HEAD_INCOMPLETE) return { result: 'incomplete' };
  if (end === HEAD_ERROR) return { result: 'error' };
  const framing = proxyFraming(HEAD);
  let invalid = 0;
  for (let i = 0; i < HEAD.count; i++) if (HEAD.kind(i) === F_INVALID) invalid++;
  // The connection reuses the socket unless the head says close or the body runs until the close.
  const keepAlive = !HEAD.close && framing.kind !== 'close';
  return { result: 'head', status: HEAD.status, headLength: end - at, keepAlive, headers: HEAD.headers(), framing, invalid };
}

/**
 * The proxy's parse, done twice: in a Buffer of its own (the byte-at-a-time line scan, as for a head that was split
 * across reads) and inside the shared read buffer at `offset` (the four-bytes-at-a-time scan); both must agree.
 */
function proxyParse(bytes: Uint8Array, offset = 0): Proxy {
  const own = parseAt(Buffer.alloc(bytes.length), 0, bytes);
  const shared = parseAt(READ_BUFFER, offset, bytes);
  expect(shared).toEqual(own);
  return own;
}

/** The reference's answer in the proxy's terms: header names lower-cased and values trimmed of blanks. */
function reference(bytes: Uint8Array): Reference {
  const r = llhttp.parse(bytes);
  if (r.result !== 'head') return r;
  return { ...r, headers: r.headers.map((s, i) => (i % 2 === 0 ? s.toLowerCase() : s.replace(/^[ \t]+|[ \t]+$/g, ''))) };
}

/** Asserts the two parsers agree on `bytes`: interim (1xx) and upgrade (101) heads carry no framing of their own. */
function expectAgreement(bytes: Uint8Array, offset: number): void {
  const ref = reference(bytes);
  const got = proxyParse(bytes, offset);
  if (ref.result !== 'head' || got.result !== 'head') {
    expect(got.result).toBe(ref.result);
    return;
  }
  expect(got.invalid).toBe(0);
  expect({ status: got.status, headLength: got.headLength, headers: got.headers }).toEqual({
    status: ref.status,
    headLength: ref.headLength,
    headers: ref.headers,
  });
  if (ref.status >= 200 && ref.status !== 101)
    expect({ framing: got.framing, keepAlive: got.keepAlive }).toEqual({ framing: ref.framing, keepAlive: ref.keepAlive });
}

// ---- Generators: responses the proxy supports, as heads of latin1 text ----

const TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".split('');
/** Visible ASCII and obs-text: what a field value or reason phrase may hold besides blanks. */
const VCHAR = [
  ...Array.from({ length: 0x7f - 0x21 }, (_, i) => String.fromCharCode(0x21 + i)),
  ...Array.from({ length: 0x80 }, (_, i) => String.fromCharCode(0x80 + i)),
];

const SPECIAL = ['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'date'];

/** `name` in a random mix of upper and lower case. */
const anyCase = (name: string): fc.Arbitrary<string> =>
  fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));

const token = fc.string({ unit: fc.constantFrom(...TCHAR), minLength: 1, maxLength: 16 });
/** A field value: visible characters with single blanks inside, any optional whitespace around. */
const fieldValue = fc
  .tuple(
    fc.constantFrom('', ' ', '  ', '\t', ' \t'),
    fc.array(fc.string({ unit: fc.constantFrom(...VCHAR), minLength: 1, maxLength: 10 }), { maxLength: 4 }),
    fc.constantFrom(' ', '\t'),
    fc.constantFrom('', ' ', '\t'),
  )
  .map(([lead, words, blank, trail]) => lead + words.join(blank) + (words.length > 0 ? trail : ''));

const otherHeader = fc
  .tuple(
    token.filter((t) => !SPECIAL.includes(t.toLowerCase())),
    fieldValue,
  )
  .map(([n, v]) => `${n}:${v}`);
const hopHeader = fc
  .tuple(fc.constantFrom('keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'date').chain(anyCase), fieldValue)
  .map(([n, v]) => `${n}:${v}`);

/** Content-Length values: mostly small, some past what the reference probes, up to 2^53 - 1, leading zeros allowed. */
const lengthValue = fc.oneof(
  fc.integer({ min: 0, max: 300 }).map(String),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }).map(String),
  fc.tuple(fc.constantFrom('0', '00'), fc.integer({ min: 0, max: 99 })).map(([z, n]) => z + n),
);
/** OWS around a Content-Length value is SP only: llhttp rejects HTAB there (a documented difference below). */
const contentLength = fc
  .tuple(anyCase('content-length'), fc.constantFrom('', ' ', '  '), lengthValue, fc.constantFrom('', ' '))
  .map(([n, a, v, b]) => `${n}:${a}${v}${b}`);

const coding = fc.constantFrom('chunked', 'gzip', 'deflate', 'compress', 'identity', 'x-zstd').chain(anyCase);
/** The only Transfer-Encoding the proxy accepts: chunked, alone. */
const chunkedEncoding = fc
  .tuple(anyCase('transfer-encoding'), anyCase('chunked'), fc.constantFrom('', ' '), fc.constantFrom('', ' '))
  .map(([n, v, a, b]) => `${n}:${a}${v}${b}`);
/** Transfer-Encoding: one or more codings in one header (an empty value is left out: see the notes below). */
const transferEncoding = fc
  .tuple(
    anyCase('transfer-encoding'),
    fc.array(coding, { minLength: 1, maxLength: 3 }),
    fc.constantFrom(', ', ',', ' , '),
    fc.constantFrom('', ' '),
  )
  .map(([n, codings, sep, ows]) => `${n}:${ows}${codings.join(sep)}`);
/** Connection: whole tokens only; the proxy looks for 'close' and 'keep-alive' as substrings (see below). */
const connection = fc
  .tuple(
    anyCase('connection'),
    fc.array(fc.constantFrom('close', 'keep-alive', 'upgrade', 'te', 'x-trace').chain(anyCase), { minLength: 1, maxLength: 3 }),
    fc.constantFrom(', ', ','),
  )
  .map(([n, tokens, sep]) => `${n}: ${tokens.join(sep)}`);

/** The framing headers of a supported response: none, one Content-Length, or Transfer-Encoding: chunked, never both. */
const framingHeaders = fc.oneof(
  fc.constant<string[]>([]),
  contentLength.map((h) => [h]),
  chunkedEncoding.map((h) => [h]),
);

const statusLine = fc
  .tuple(
    fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
    fc.oneof(fc.integer({ min: 100, max: 599 }), fc.constantFrom(100, 101, 103, 200, 204, 304)),
    fc.oneof(fc.constant(null), fc.string({ unit: fc.constantFrom(...VCHAR, ' ', '\t'), maxLength: 20 })),
  )
  .map(([version, status, reason]) => `${version} ${status}${reason === null ? '' : ` ${reason}`}`);

/** True for an HTTP/1.0 head whose Connection headers say both close and keep-alive (a documented difference). */
const closeAndKeepAlive10 = (h: { status: string; lines: string[] }): boolean =>
  h.status.startsWith('HTTP/1.0') &&
  ['close', 'keep-alive'].every((t) => h.lines.some((l) => /^connection:/i.test(l) && l.toLowerCase().includes(t)));

/** A complete, valid response head with its header lines in random order. */
const validHead = fc
  .tuple(statusLine, fc.array(fc.oneof(otherHeader, hopHeader, connection), { maxLength: 10 }), framingHeaders)
  .chain(([status, headers, framing]) =>
    fc.shuffledSubarray([...headers, ...framing], { minLength: headers.length + framing.length }).map((lines) => ({ status, lines })),
  )
  .filter((h) => !closeAndKeepAlive10(h));

const headText = (h: { status: string; lines: string[] }): string => `${h.status}\r\n${h.lines.map((l) => `${l}\r\n`).join('')}\r\n`;
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
/** Where in the shared read buffer to parse; what lies before it is old data, CRs and LFs included. */
const offset = fc.integer({ min: 0, max: 2000 });
/** Bytes after the head (the start of a body, or of a pipelined response): the parser must not read into them. */
const after = fc.uint8Array({ maxLength: 40 });

READ_BUFFER.fill('\r\nHTTP/1.1 200 OK\r\n\n\r\n', 0, 4096);

describe('response-head parser against llhttp', () => {
  it('agrees on valid responses: status, head length, headers, keep-alive and framing', () => {
    fc.assert(
      fc.property(validHead, after, offset, (h, rest, at) => {
        const bytes = Buffer.concat([latin1(headText(h)), rest]);
        const ref = reference(bytes);
        expect(ref.result).toBe('head');
        expectAgreement(bytes, at);
      }),
      { numRuns: 600 },
    );
  });

  it('agrees that every strict prefix of a valid head is incomplete', () => {
    fc.assert(
      fc.property(validHead, offset, (h, at) => {
        const bytes = latin1(headText(h));
        for (let cut = 0; cut < bytes.length; cut++) {
          const prefix = bytes.subarray(0, cut);
          expect(proxyParse(prefix, at).result).toBe('incomplete');
          expect(llhttp.parse(prefix).result).toBe('incomplete');
        }
      }),
      { numRuns: 60 },
    );
  });

  /** Defects both parsers reject, each applied to a valid head. */
  const defect = fc.oneof(
    // A bare LF ends a line for neither: the proxy would otherwise forward it inside a value.
    fc.nat().map((n) => (h: { status: string; lines: string[] }) => {
      const text = headText(h);
      const crlfs = [...text.matchAll(/\r\n/g)].map((m) => m.index);
      const i = crlfs[n % crlfs.length]!;
      return text.slice(0, i) + text.slice(i + 1);
    }),
    // Content-Length is 1*DIGIT: no sign, exponent, hex, fraction, list or empty value.
    fc.constantFrom('', '1e3', '0x10', '1.5', '+5', '-1', '5 5', '5,5', 'five', '١').map(
      (v) => (h: { status: string; lines: string[] }) =>
        headText({
          status: h.status,
          lines: [...h.lines.filter((l) => !/^(content-length|transfer-encoding)\s*:/i.test(l)), `Content-Length: ${v}`],
        }),
    ),
    // Two different lengths.
    fc.tuple(fc.nat(1000), fc.integer({ min: 1, max: 1000 })).map(
      ([a, d]) =>
        (h: { status: string; lines: string[] }) =>
          headText({
            status: h.status,
            lines: [
              `Content-Length: ${a}`,
              ...h.lines.filter((l) => !/^(content-length|transfer-encoding)\s*:/i.test(l)),
              `content-length: ${a + d}`,
            ],
          }),
    ),
    // Transfer-Encoding with a Content-Length: a sign of response splitting (RFC 9112 §6.3).
    fc.tuple(chunkedEncoding, lengthValue).map(
      ([te, cl]) =>
        (h: { status: string; lines: string[] }) =>
          headText({
            status: h.status,
            lines: [...h.lines.filter((l) => !/^(content-length|transfer-encoding)\s*:/i.test(l)), te, `Content-Length: ${cl}`],
          }),
    ),
    // Status lines that are not "HTTP/1.x SP 3DIGIT [SP reason]".
    fc
      .constantFrom(
        'HTTP/1.1  200 OK',
        'HTTP/1.1 200OK',
        'HTTP/1.1 2000 OK',
        'HTTP/1.1 20x OK',
        'HTTP/1.1 2 OK',
        'HTTP/1.1',
        'HTTP/1.1 ',
        'ICY 200 OK',
        'SMTP ready',
        'HTTP/1.1\t200 OK',
        ' HTTP/1.1 200 OK',
      )
      .map((s) => (h: { status: string; lines: string[] }) => headText({ status: s, lines: h.lines })),
  );

  it('agrees on rejecting malformed responses', () => {
    fc.assert(
      fc.property(validHead, defect, offset, (h, spoil, at) => {
        const bytes = latin1(spoil(h));
        expect(reference(bytes).result).toBe('error');
        expect(proxyParse(bytes, at).result).toBe('error');
      }),
      { numRuns: 400 },
    );
  });

  describe('documented differences', () => {
    /** The proxy's and llhttp's results for `text`, and the proxy's for `same` (what it should read `text` as). */
    function compare(text: string, same: string): { got: Proxy; ref: Reference; expected: Proxy } {
      return { got: proxyParse(latin1(text)), ref: reference(latin1(text)), expected: proxyParse(latin1(same)) };
    }
    /** Asserts `a` reads as `b` does; `skip` names a header `a` has besides (e.g. a Content-Length it never forwards). */
    const same = (a: Proxy, b: Proxy, skip = ''): void => {
      expect(a.result).toBe('head');
      if (a.result !== 'head' || b.result !== 'head') return;
      const headers = a.headers.filter((_, i) => a.headers[i - (i % 2)] !== skip);
      expect({ status: a.status, framing: a.framing, keepAlive: a.keepAlive, headers }).toEqual({
        status: b.status,
        framing: b.framing,
        keepAlive: b.keepAlive,
        headers: b.headers,
      });
    };

    // Malformed header lines (no colon, empty name, whitespace before the colon, obs-fold continuation) make
    // llhttp reject the response; the proxy drops the line (F_INVALID, never forwarded) and reads the rest, as
    // RFC 9112 §5.1 lets a proxy do with whitespace before the colon. A dropped line never decides framing.
    it('drops malformed header lines that llhttp rejects', () => {
      const badLine = fc.constantFrom(
        'NoColon',
        ': no name',
        'Content-Length : 5',
        'Transfer-Encoding\t: chunked',
        ' folded: value',
        '\tfolded',
      );
      fc.assert(
        fc.property(validHead, badLine, fc.nat(), (h, line, n) => {
          const at = n % (h.lines.length + 1);
          const lines = [...h.lines.slice(0, at), line, ...h.lines.slice(at)];
          const { got, ref, expected } = compare(headText({ status: h.status, lines }), headText(h));
          expect(ref.result).toBe('error');
          same(got, expected);
          expect(got.result === 'head' && got.invalid).toBe(1);
        }),
        { numRuns: 200 },
      );
    });

    // RFC 9110 §8.6 lets a recipient take repeated identical Content-Length values as one; llhttp rejects them.
    it('accepts a repeated identical Content-Length', () => {
      const { got, ref } = compare('HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n', '');
      expect(ref.result).toBe('error');
      expect(got).toMatchObject({ result: 'head', framing: { kind: 'length', length: 5 } });
    });

    // The proxy re-frames a response body for the client (uWS writes its own chunked framing), so a coding other
    // than chunked could not reach the client intact: gzip alone (llhttp reads until close), "gzip, chunked" (llhttp
    // reads chunks), "chunked" twice. nginx answers 502 for any Transfer-Encoding but chunked; so does the proxy.
    it('rejects any Transfer-Encoding but chunked alone, which llhttp reads', () => {
      const codings = fc
        .array(transferEncoding, { minLength: 1, maxLength: 2 })
        .filter((tes) => !(tes.length === 1 && /^[^:]*:\s*chunked\s*$/i.test(tes[0]!)));
      fc.assert(
        fc.property(validHead, codings, (h, tes) => {
          const lines = h.lines.filter((l) => !/^(content-length|transfer-encoding)\s*:/i.test(l));
          expect(proxyParse(latin1(headText({ status: h.status, lines: [...lines, ...tes] }))).result).toBe('error');
        }),
        { numRuns: 200 },
      );
      expect(reference(latin1('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'))).toMatchObject({ framing: { kind: 'close' } });
      expect(reference(latin1('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'))).toMatchObject({
        framing: { kind: 'chunked' },
      });
    });

    // RFC 9112 §9.3: a close option ends the connection after the response whatever else Connection says; llhttp
    // lets keep-alive win over close in an HTTP/1.0 response (in HTTP/1.1 it agrees).
    it('closes an HTTP/1.0 connection whose Connection says both close and keep-alive', () => {
      for (const text of [
        'HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n',
        'HTTP/1.0 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n',
      ]) {
        expect(reference(latin1(text))).toMatchObject({ result: 'head', keepAlive: true });
        expect(proxyParse(latin1(text))).toMatchObject({ result: 'head', keepAlive: false });
      }
    });

    // Optional whitespace is SP or HTAB (RFC 9110 §5.6.3). llhttp rejects an HTAB around a Content-Length value and
    // takes "chunked<HTAB>" for another coding (so reads until close); the proxy trims it as whitespace.
    it('trims HTAB around Content-Length and Transfer-Encoding values', () => {
      const cl = compare('HTTP/1.1 200 OK\r\nContent-Length:\t5\t\r\n\r\n', '');
      expect(cl.ref.result).toBe('error');
      expect(cl.got).toMatchObject({ result: 'head', framing: { kind: 'length', length: 5 } });
      const te = compare('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n', '');
      expect(te.ref).toMatchObject({ result: 'head', framing: { kind: 'close' } });
      expect(te.got).toMatchObject({ result: 'head', framing: { kind: 'chunked' } });
    });

    // An empty Transfer-Encoding after "chunked" is an empty list element, which llhttp rightly ignores (RFC 9110
    // §5.6.1); the proxy accepts exactly one Transfer-Encoding header and rejects this one.
    it('rejects an empty Transfer-Encoding after chunked', () => {
      const { got, ref } = compare('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: \r\n\r\n', '');
      expect(ref).toMatchObject({ result: 'head', framing: { kind: 'chunked' } });
      expect(got.result).toBe('error');
    });

    // Status codes are 100-599 (RFC 9110 §15); llhttp takes any three digits. Lengths past 2^53 - 1 are no safe
    // JavaScript integer, so the proxy rejects them; llhttp reads up to 2^64 - 1.
    it('rejects status codes outside 100-599 and lengths past 2^53 - 1, which llhttp accepts', () => {
      for (const text of [
        'HTTP/1.1 099 x\r\n\r\n',
        'HTTP/1.1 600 x\r\n\r\n',
        'HTTP/1.1 999 x\r\n\r\n',
        'HTTP/1.1 200 OK\r\nContent-Length: 9007199254740992\r\n\r\n',
      ]) {
        expect(reference(latin1(text)).result).toBe('head');
        expect(proxyParse(latin1(text)).result).toBe('error');
      }
    });

    // RFC 9112 §2.2 has a server skip empty lines before a request line; llhttp skips them before a status line
    // too. The proxy does not: a response starts right after the previous one ended (an idle connection that gets
    // bytes is closed, see upstream-connection.ts), so an empty line there means the backend broke framing.
    it('rejects empty lines before the status line, which llhttp skips', () => {
      const text = '\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
      expect(reference(latin1(text)).result).toBe('head');
      expect(proxyParse(latin1(text)).result).toBe('error');
    });

    // The proxy checks only "HTTP/1." (in any case) and reads the minor digit just to tell 1.0's default close; llhttp
    // wants "HTTP/" in capitals and a version it knows. Both forms only reach the proxy from a broken backend, and
    // its answer to the client is written by the front end, which speaks HTTP/1.1 whatever the backend said.
    it('reads the version loosely', () => {
      for (const text of ['http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'HTTP/1.9 200 OK\r\nContent-Length: 0\r\n\r\n']) {
        expect(reference(latin1(text)).result).toBe('error');
        expect(proxyParse(latin1(text))).toMatchObject({ result: 'head', status: 200, framing: { kind: 'none' } });
      }
    });

    // Checking every byte of a head against the token and field-value grammars would cost the hot path a table
    // lookup per byte, so the proxy does not: a control character or bare CR inside a value, or a non-token
    // character in a name, passes through to the client (whose parser rejects it); llhttp rejects it here. No
    // framing decision depends on such bytes: framing names are matched exactly and a Content-Length must be digits.
    it('does not validate the characters of names and values', () => {
      for (const line of ['X-A: a\x01b', 'X-A: a\rb', 'X-A: a\x7fb', 'X(A): b', 'X A: b', 'X-A\x00: b']) {
        const text = `HTTP/1.1 200 OK\r\n${line}\r\nContent-Length: 0\r\n\r\n`;
        expect(reference(latin1(text)).result).toBe('error');
        expect(proxyParse(latin1(text))).toMatchObject({ result: 'head', framing: { kind: 'none' } });
      }
    });

    // The proxy looks for 'close' and 'keep-alive' anywhere in a Connection value, llhttp for whole tokens (and
    // takes "close<HTAB>" for another token): the proxy then closes a connection llhttp would keep, or keeps an
    // HTTP/1.0 one on a token that merely contains keep-alive. Either costs a reconnect or a retry, never framing.
    it('reads Connection values by substring', () => {
      for (const value of ['closed', 'x-close', 'close\t']) {
        const { got, ref } = compare(`HTTP/1.1 200 OK\r\nConnection: ${value}\r\nContent-Length: 0\r\n\r\n`, '');
        expect(ref).toMatchObject({ result: 'head', keepAlive: true });
        expect(got).toMatchObject({ result: 'head', keepAlive: false });
      }
      const { got, ref } = compare('HTTP/1.0 200 OK\r\nConnection: x-keep-alive\r\nContent-Length: 0\r\n\r\n', '');
      expect(ref).toMatchObject({ result: 'head', keepAlive: false });
      expect(got).toMatchObject({ result: 'head', keepAlive: true });
    });
  });
});
