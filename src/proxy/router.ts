/**
 * Routing rules compiled once per config: each request is matched against the rules in order (the first match
 * wins) by string compares on the head the front already parsed — no allocation, no regular expression.
 */
import type { RouteSpec } from './pool-config.js';

/** A compiled rule: what it checks, the pool it sends to (index) and the prefix it strips. */
export interface Route {
  readonly pool: number;
  /** Lower-case host to compare; a leading "." means any subdomain of it ("*.example.com"). */
  readonly host: string | null;
  readonly wildcard: boolean;
  readonly pathPrefix: string | null;
  readonly path: string | null;
  /** Upper-case method names; null: any. */
  readonly methods: ReadonlySet<string> | null;
  /** Lower-case name and exact value, flattened: [name0, value0, name1, value1, …]. */
  readonly headers: readonly string[] | null;
  readonly stripPrefix: string | null;
}

/** Header lookup by lower-case name ('' when absent): the front's request object itself, so matching allocates nothing. */
export interface HeaderLookup {
  getHeader(lowerName: string): string;
}

/** Compiles the config's rules; `poolIndex` maps a pool name to its index. */
export function compileRoutes(specs: readonly RouteSpec[], poolIndex: (name: string) => number): Route[] {
  return specs.map((r) => {
    const h = r.match.host?.toLowerCase() ?? null;
    const wildcard = h?.startsWith('*.') ?? false;
    return {
      pool: poolIndex(r.pool),
      host: h === null ? null : wildcard ? h.slice(1) : h,
      wildcard,
      pathPrefix: r.match.pathPrefix ?? null,
      path: r.match.path ?? null,
      methods: r.match.methods ? new Set(r.match.methods.map((m) => m.toUpperCase())) : null,
      headers: r.match.headers ? Object.entries(r.match.headers).flatMap(([k, v]) => [k.toLowerCase(), v]) : null,
      stripPrefix: r.rewrite?.stripPrefix ?? null,
    };
  });
}

/** The rules of one config, matched in order. */
export class Router {
  constructor(readonly routes: readonly Route[]) {}

  /** The first rule `method path` on `host` matches, or null (the default pool). */
  match(method: string, path: string, host: string, header: HeaderLookup): Route | null {
    const list = this.routes;
    for (let i = 0; i < list.length; i++) {
      const r = list[i]!;
      if (r.path !== null && path !== r.path) continue;
      if (r.pathPrefix !== null && !hasPrefix(path, r.pathPrefix)) continue;
      if (r.methods !== null && !r.methods.has(method)) continue;
      if (r.host !== null && !hostMatches(host, r.host, r.wildcard)) continue;
      if (r.headers !== null && !headersMatch(r.headers, header)) continue;
      return r;
    }
    return null;
  }
}

/** path.startsWith(prefix) as an inlined char loop: most rules fail on their second character, before a builtin call would return. */
function hasPrefix(path: string, prefix: string): boolean {
  const n = prefix.length;
  if (path.length < n) return false;
  for (let i = 0; i < n; i++) if (path.charCodeAt(i) !== prefix.charCodeAt(i)) return false;
  return true;
}

function headersMatch(h: readonly string[], header: HeaderLookup): boolean {
  for (let i = 0; i < h.length; i += 2) if (header.getHeader(h[i]!) !== h[i + 1]) return false;
  return true;
}

/**
 * True when the Host value (any case, maybe with ":port", maybe a bracketed IPv6 literal) names `want` (lower case),
 * or, with `wildcard`, ends with `want` (".example.com") after at least one label.
 */
export function hostMatches(host: string, want: string, wildcard: boolean): boolean {
  let end = host.length;
  // Strip ":port": the last colon, unless it is inside an IPv6 literal's brackets.
  const colon = host.lastIndexOf(':');
  if (colon >= 0 && host.indexOf(']', colon) < 0) end = colon;
  if (end > 0 && host.charCodeAt(end - 1) === 46) end--; // a trailing dot (FQDN form)
  const start = wildcard ? end - want.length : 0;
  if (wildcard ? start < 1 : end !== want.length) return false;
  for (let i = 0; i < want.length; i++) {
    let c = host.charCodeAt(start + i);
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== want.charCodeAt(i)) return false;
  }
  return true;
}

/** The path a rule forwards: `path` without the rule's stripPrefix, keeping a leading "/". */
export function rewritePath(route: Route, path: string): string {
  const strip = route.stripPrefix;
  if (strip === null || !path.startsWith(strip)) return path;
  const rest = path.slice(strip.length);
  return rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
}
