import { describe, expect, it } from 'vitest';
import { SabreError } from '../../src/errors.js';
import { BackendError } from '../../src/proxy/proxy-handle.js';
import { UpstreamError } from '../../src/proxy/upstream-connection.js';

describe('proxy error classes', () => {
  it('are SabreErrors with stable codes and keep the fields callers read', () => {
    const u = new UpstreamError('reset', 'connection closed', true, false);
    expect(u).toBeInstanceOf(SabreError);
    expect(u).toMatchObject({
      code: 'SABRE_UPSTREAM',
      name: 'UpstreamError',
      kind: 'reset',
      responseStarted: true,
      reused: false,
      message: 'connection closed',
    });
    const b = new BackendError(404, 'no backend http://x');
    expect(b).toBeInstanceOf(SabreError);
    expect(b).toMatchObject({ code: 'SABRE_BACKEND', name: 'BackendError', status: 404, message: 'no backend http://x' });
  });
});
