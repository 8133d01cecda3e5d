/** Loads a native uWebSockets.js build once, or reports why none fits this Node/glibc (the caller then serves via the net front). */
import { createRequire } from 'node:module';
import type * as UWS from '@trufflesuite/uws-js-unofficial';

export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, WebSocket } from '@trufflesuite/uws-js-unofficial';
/** The uWS.js module's type (both packages share the trufflesuite typings). */
export type UwsModule = typeof UWS;

/** Which HTTP front end serves clients, for logs and GET /status. */
export interface UwsImplementation {
  /** The uWS package whose native binary loaded, or whose JS fallback would have been used. */
  package: string;
  native: boolean;
  /** Without a native uWS: the front end used instead. */
  fallback: 'net' | null;
  /** Why each candidate was skipped. */
  notes: string[];
}

const require = createRequire(import.meta.url);

/** One line from a loader error: the underlying cause (e.g. the missing GLIBC version), not the banner. */
function cause(err: unknown): string {
  const lines = (err instanceof Error ? err.message : String(err))
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return (
    lines.find((l) => /GLIBC|not found|Cannot find|ENOENT|invalid ELF|NODE_MODULE_VERSION/.test(l)) ??
    lines[0] ??
    'unknown error'
  ).slice(0, 300);
}

function load(): { uws: typeof UWS | null; impl: UwsImplementation } {
  const notes: string[] = [];
  // Newest uWS.js first: native for Node 20-25, but its binaries need glibc >= 2.38.
  try {
    return {
      uws: require('@btc-vision/uwebsockets.js') as typeof UWS,
      impl: { package: '@btc-vision/uwebsockets.js', native: true, fallback: null, notes },
    };
  } catch (err) {
    notes.push(`@btc-vision/uwebsockets.js: ${cause(err)}`);
  }
  // The trufflesuite package ships natives for ABI 93/108/115 (Node 16-20); on other ABIs its entry point
  // silently swaps in a pure-JS fallback. Loading the binary by path makes the outcome explicit.
  const pkg = '@trufflesuite/uws-js-unofficial';
  try {
    const binary = `${pkg}/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
    return { uws: require(binary) as typeof UWS, impl: { package: pkg, native: true, fallback: null, notes } };
  } catch (err) {
    notes.push(`${pkg}: no native binary for Node ABI ${process.versions.modules} (${cause(err)})`);
  }
  // That JS fallback implements neither tryEnd, pause/resume nor remote addresses, so the proxy uses its net front instead.
  notes.push(`${pkg} JS fallback lacks tryEnd/pause/getRemoteAddress; serving through the net front`);
  return { uws: null, impl: { package: pkg, native: false, fallback: 'net', notes } };
}

const loaded = load();

/** The native uWS module, or null when none loads here. */
export const uws: UwsModule | null = loaded.uws;
/** What serves clients. */
export const uwsImplementation: UwsImplementation = loaded.impl;
