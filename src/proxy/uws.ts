/** Loads uWebSockets.js once: a native build when one matches this Node/glibc, else the pure-JS fallback, reporting which. */
import { createRequire } from 'node:module';
import type * as UWS from '@trufflesuite/uws-js-unofficial';

export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, WebSocket } from '@trufflesuite/uws-js-unofficial';

/** Which uWS build is running: `native` binaries, or the slow node:http `fallback` that lacks backpressure and SO_REUSEPORT. */
export interface UwsImplementation {
  package: string;
  native: boolean;
  /** Why a preferred package was skipped (empty when the first choice loaded). */
  notes: string[];
}

const require = createRequire(import.meta.url);

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n').find((l) => l.trim() !== '') ?? 'unknown error';
}

function load(): { uws: typeof UWS; impl: UwsImplementation } {
  const notes: string[] = [];
  // Newest uWS.js first: native for Node 20-25, but its binaries need glibc >= 2.38.
  try {
    return { uws: require('@btc-vision/uwebsockets.js') as typeof UWS, impl: { package: '@btc-vision/uwebsockets.js', native: true, notes } };
  } catch (err) {
    notes.push(`@btc-vision/uwebsockets.js: ${firstLine(err)}`);
  }
  // The trufflesuite package ships natives for ABI 93/108/115 (Node 16-20) and otherwise swaps in a JS
  // fallback with only a console.warn; loading the binary path ourselves makes the choice explicit.
  const pkg = '@trufflesuite/uws-js-unofficial';
  const binary = `${pkg}/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  try {
    return { uws: require(binary) as typeof UWS, impl: { package: pkg, native: true, notes } };
  } catch (err) {
    notes.push(`${pkg} native: ${firstLine(err)}`);
  }
  return { uws: require(`${pkg}/dist/index.js`) as typeof UWS, impl: { package: pkg, native: false, notes } };
}

const loaded = load();

/** The uWS module in use. */
export const uws: typeof UWS = loaded.uws;
/** Which implementation `uws` is. */
export const uwsImplementation: UwsImplementation = loaded.impl;
