/**
 * TLS settings of the proxy: the schema of `listen.tls` (termination, SNI certificates, ALPN) and of `tls` (HTTPS to
 * backends), and loading them into Node secure contexts. Certificate files are read each time the contexts are built
 * (start and every reload), so replacing the files and reloading swaps certificates without a restart.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type ConnectionOptions, type SecureContext, type SecureContextOptions, createSecureContext } from 'node:tls';
import { z } from 'zod';
import { ConfigError } from '../errors.js';

const path = z.string().min(1);
/** A server name as SNI carries it: a DNS name, or `*.` and a domain (one label matched). */
const serverName = z
  .string()
  .regex(/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i, 'must be a DNS name or *.domain');

/** `listen.tls`: PEM files by path; `certificates` adds SNI-selected pairs to the default cert/key. */
export const listenTlsSchema = z.strictObject({
  cert: path,
  key: path,
  /** Extra CA / intermediate certificates (PEM) completing the chain the server sends. */
  ca: path.optional(),
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  /** An OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's defaults); absent: Node's defaults. */
  ciphers: z.string().min(1).optional(),
  /** Protocols offered by ALPN, in the server's order of preference; without `h2` clients get HTTP/1.1 only. */
  alpn: z
    .array(z.enum(['h2', 'http/1.1']))
    .min(1)
    .default(['h2', 'http/1.1']),
  /** Certificates chosen by the client's SNI name; a name matching none (or no SNI) gets cert/key. */
  certificates: z
    .array(z.strictObject({ serverNames: z.array(serverName).min(1), cert: path, key: path, ca: path.optional() }))
    .default([]),
});

/** `tls`: how the proxy connects to https:// backends. */
export const upstreamTlsSchema = z.strictObject({
  /** Check the backend's certificate chain and name (false: accept any certificate, as nginx's default does). */
  verify: z.boolean().default(true),
  /** CA certificates (PEM) a backend's chain must lead to; absent: Node's bundled roots. */
  ca: path.optional(),
  /** The name sent by SNI and checked against the certificate; absent: the backend URL's host name. */
  servername: z.string().min(1).optional(),
});

export type ListenTls = z.infer<typeof listenTlsSchema>;
export type UpstreamTls = z.infer<typeof upstreamTlsSchema>;

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch (err) {
    throw new ConfigError(`tls: cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

function context(options: SecureContextOptions, what: string): SecureContext {
  try {
    return createSecureContext(options);
  } catch (err) {
    throw new ConfigError(`tls: ${what}: ${(err as Error).message}`);
  }
}

/** The server's secure contexts: the default one and those chosen by SNI name (exact names, then `*.domain`). */
export interface ServerContexts {
  /** Options for tls.createServer / setSecureContext (the default certificate). */
  defaults: SecureContextOptions;
  byName: Map<string, SecureContext>;
  byWildcard: Map<string, SecureContext>;
}

/** Reads every certificate file of `tls` and builds its contexts; throws ConfigError naming the file at fault. */
export function loadServerContexts(tls: ListenTls): ServerContexts {
  const base = { minVersion: tls.minVersion, ...(tls.ciphers !== undefined ? { ciphers: tls.ciphers } : {}) };
  const defaults: SecureContextOptions = {
    ...base,
    cert: readPem(tls.cert, 'cert'),
    key: readPem(tls.key, 'key'),
    ...(tls.ca !== undefined ? { ca: readPem(tls.ca, 'ca') } : {}),
  };
  context(defaults, `${tls.cert} / ${tls.key}`);
  const byName = new Map<string, SecureContext>();
  const byWildcard = new Map<string, SecureContext>();
  for (const c of tls.certificates) {
    const ctx = context(
      {
        ...base,
        cert: readPem(c.cert, 'cert'),
        key: readPem(c.key, 'key'),
        ...(c.ca !== undefined ? { ca: readPem(c.ca, 'ca') } : {}),
      },
      `${c.cert} / ${c.key}`,
    );
    for (const n of c.serverNames) {
      const name = n.toLowerCase();
      if (name.startsWith('*.')) byWildcard.set(name.slice(2), ctx);
      else byName.set(name, ctx);
    }
  }
  return { defaults, byName, byWildcard };
}

/** The context for an SNI name, or undefined for the default certificate. */
export function contextFor(contexts: ServerContexts, servername: string): SecureContext | undefined {
  const name = servername.toLowerCase();
  const exact = contexts.byName.get(name);
  if (exact !== undefined) return exact;
  const dot = name.indexOf('.');
  return dot < 0 ? undefined : contexts.byWildcard.get(name.slice(dot + 1));
}

/** The tls.connect options for one https:// backend (a shared secure context holds the CA, parsed once). */
export function upstreamConnectOptions(url: string, tls: UpstreamTls, secureContext: SecureContext): ConnectionOptions {
  const host = new URL(url).hostname;
  const ip = /^[\d.]+$/.test(host) || host.startsWith('[');
  const servername = tls.servername ?? (ip ? undefined : host);
  return {
    secureContext,
    rejectUnauthorized: tls.verify,
    ALPNProtocols: ['http/1.1'],
    // Without a name (an IP literal backend) the certificate is checked against the IP address.
    ...(servername !== undefined ? { servername } : {}),
  };
}

/** The client-side context for https:// backends: the CA bundle of `tls.ca`, or Node's roots. */
export function upstreamContext(tls: UpstreamTls): SecureContext {
  return context(tls.ca !== undefined ? { ca: readPem(tls.ca, 'ca') } : {}, 'tls.ca');
}

/** One certificate as GET /status shows it. */
export interface CertificateStatus {
  serverNames: string[];
  subject: string;
  subjectAltName: string;
  validTo: string;
  sha256: string;
}

function describe(pem: string, serverNames: string[]): CertificateStatus {
  const x = new X509Certificate(pem);
  return {
    serverNames,
    subject: x.subject.replace(/\n/g, ', '),
    subjectAltName: x.subjectAltName ?? '',
    validTo: x.validTo,
    sha256: createHash('sha256').update(x.raw).digest('hex'),
  };
}

/** What GET /status reports of `listen.tls`: the certificates loaded (read from the files now), versions and ALPN. */
export function tlsStatus(tls: ListenTls): {
  minVersion: string;
  alpn: string[];
  certificates: CertificateStatus[];
} {
  const certs: CertificateStatus[] = [];
  try {
    certs.push(describe(readPem(tls.cert, 'cert'), ['(default)']));
    for (const c of tls.certificates) certs.push(describe(readPem(c.cert, 'cert'), c.serverNames));
  } catch {
    // A file replaced mid-read: the figures come back on the next call.
  }
  return { minVersion: tls.minVersion, alpn: tls.alpn, certificates: certs };
}
