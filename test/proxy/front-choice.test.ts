/** Which front `front` in the config gives on each Node, and the reason GET /status reports. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/proxy/config.js';
import { chooseFront, nodeHasReusePort } from '../../src/proxy/front-choice.js';
import type { UwsImplementation } from '../../src/proxy/uws.js';

const NATIVE: UwsImplementation = { package: 'uws', native: true, fallback: null, notes: [] };
const NONE: UwsImplementation = { package: 'uws', native: false, fallback: 'net', notes: ['no binary'] };
const config = (o: Record<string, unknown>) => parseConfig({ threads: 4, ...o });

describe('chooseFront', () => {
  it('auto: the net front wherever it serves every thread, native uWS only where it would not', () => {
    expect(chooseFront(config({}), NATIVE, true)).toMatchObject({ front: 'net', threads: 4 });
    expect(chooseFront(config({ threads: 1 }), NATIVE, false)).toMatchObject({ front: 'net', threads: 1 });
    const several = chooseFront(config({}), NATIVE, false);
    expect(several).toMatchObject({ front: 'uws', threads: 4 });
    expect(several.reason).toMatch(/no SO_REUSEPORT.*set threads 1 or front "net"/);
    expect(chooseFront(config({}), NONE, true)).toMatchObject({ front: 'net', threads: 4 });
  });

  it('serves the net front with one thread where node:net has no SO_REUSEPORT', () => {
    expect(chooseFront(config({ front: 'net' }), NATIVE, false)).toMatchObject({ front: 'net', threads: 1 });
    const fallback = chooseFront(config({}), NONE, false);
    expect(fallback).toMatchObject({ front: 'net', threads: 1 });
    expect(fallback.reason).toMatch(/no native uWS.*one thread/);
  });

  it('honours an explicit front, and says why uws falls back to net', () => {
    expect(chooseFront(config({ front: 'node' }), NATIVE, true)).toMatchObject({ front: 'node', threads: 4 });
    expect(chooseFront(config({ front: 'uws' }), NATIVE, false)).toMatchObject({ front: 'uws', threads: 4 });
    const c = chooseFront(config({ front: 'uws' }), NONE, true);
    expect(c).toMatchObject({ front: 'net', threads: 4 });
    expect(c.reason).toMatch(/no native uWS\.js loads here \(no binary\)/);
  });

  it('serves listen.tls with the net front, on every thread only where node:net has SO_REUSEPORT', () => {
    const tls = { listen: { tls: { cert: 'c.pem', key: 'k.pem' } } };
    expect(chooseFront(config(tls), NATIVE, true)).toMatchObject({ front: 'net', threads: 4 });
    const old = chooseFront(config(tls), NATIVE, false);
    expect(old).toMatchObject({ front: 'net', threads: 1 });
    expect(old.reason).toMatch(/listen\.tls is served by the net front.*one thread/);
    expect(chooseFront(config({ ...tls, front: 'uws' }), NATIVE, true).reason).toMatch(/front "uws" asked: listen\.tls/);
  });

  it('knows which Node versions have reusePort in node:net', () => {
    expect(['20.20.2', '22.11.0', '22.12.0', '23.0.0', '23.1.0', '24.0.0'].map((v) => nodeHasReusePort(v))).toEqual([
      false,
      false,
      true,
      false,
      true,
      true,
    ]);
  });
});
