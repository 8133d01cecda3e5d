/** The net front's request-head parser as a pure function of bytes: head boundaries across reads, and what it reads. */
import { describe, expect, it } from 'vitest';
import { findHeadEnd, type HeadScan, oversizeStatus, parseRequestHead, RequestHead } from '../../src/proxy/request-head-parser.js';

const scan: HeadScan = { resume: 0 };

describe('findHeadEnd', () => {
  it('finds the end of a head however it is cut, scanning each byte once', () => {
    const head = Buffer.from('GET /a HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\nrest');
    const end = head.indexOf('rest');
    for (let cut = 1; cut < end; cut++) {
      let resume = 0;
      expect(findHeadEnd(head, 0, resume, cut, scan)).toBe(-1);
      resume = scan.resume;
      // Everything before the resume point was seen and holds no blank line; it never passes the bytes received.
      expect(resume).toBeLessThanOrEqual(cut);
      expect(head.subarray(0, resume).includes('\r\n\r\n')).toBe(false);
      expect(findHeadEnd(head, 0, resume, head.length, scan)).toBe(end);
    }
  });

  it('takes LF LF as a head end, as RFC 9112 lets a server', () => {
    const head = Buffer.from('GET / HTTP/1.0\n\nbody');
    expect(findHeadEnd(head, 0, 0, head.length, scan)).toBe(16);
  });
});

describe('parseRequestHead', () => {
  const parse = (text: string): { status: number; head: RequestHead } => {
    const head = new RequestHead();
    const buf = Buffer.from(text, 'latin1');
    return { status: parseRequestHead(buf, 0, head), head };
  };

  it('reads the request line, headers and framing as offsets', () => {
    const { status, head } = parse('POST /p/q?x=1&y HTTP/1.1\r\nHost: ex.com\r\nContent-Length: 12\r\nX-Up: A b\r\n\r\n');
    expect(status).toBe(0);
    expect([head.methodName(), head.path(), head.query(), head.hostValue(), head.minor]).toEqual(['POST', '/p/q', 'x=1&y', 'ex.com', 1]);
    expect([head.contentLength, head.chunked, head.keepAlive]).toEqual([12, false, true]);
    expect([head.name(2), head.value(2)]).toEqual(['x-up', 'A b']);
    expect(head.find('content-length')).toBe(1);
  });

  it('reads HTTP/1.0 keep-alive only when asked for', () => {
    expect(parse('GET / HTTP/1.0\r\n\r\n').head.keepAlive).toBe(false);
    expect(parse('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').head.keepAlive).toBe(true);
    expect(parse('GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n').head.keepAlive).toBe(false);
  });

  it('takes an absolute-form target apart: the authority stands for Host', () => {
    const { status, head } = parse('GET http://a.example:81?q HTTP/1.1\r\nHost: other\r\n\r\n');
    expect(status).toBe(0);
    expect([head.hostValue(), head.path(), head.query()]).toEqual(['a.example:81', '/', 'q']);
  });

  it('recognises a WebSocket upgrade and Expect: 100-continue', () => {
    const ws = parse('GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n').head;
    expect(ws.websocket).toBe(true);
    const ex = parse('PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n').head;
    expect(ex.expectContinue).toBe(true);
  });

  it.each([
    ['GET / HTTP/1.1\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\nBad Name: v\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\nBad\0Name: v\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e1\r\n\r\n', 400],
    [`GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`, 414],
    ['FROB / HTTP/1.1\r\nHost: a\r\n\r\n', 501],
    ['CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n', 501],
    ['GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
    ['GET / HTTP/1.1 \r\nHost: a\r\n\r\n', 400],
    ['GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ])('refuses %j with %i', (text, status) => {
    expect(parse(text).status).toBe(status);
  });
});

describe('oversizeStatus', () => {
  const b = (s: string): Buffer => Buffer.from(s, 'latin1');

  it('answers 414 when the request line is too long, whether or not the whole head arrived', () => {
    const whole = b(`GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
    expect(oversizeStatus(whole, 0, whole.length)).toBe(414);
    expect(oversizeStatus(whole, 0, 40_000)).toBe(414);
  });

  it('answers 431 when the headers are too large', () => {
    const head = b(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'v'.repeat(40_000)}\r\n\r\n`);
    expect(oversizeStatus(head, 0, head.length)).toBe(431);
  });
});
