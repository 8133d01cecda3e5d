/**
 * The TLS port (Redis's `tls-port`): tls.Server listeners whose sockets, once the handshake is
 * done, the acceptor serves exactly like plain ones. The secure context is built from the tls-*
 * settings with the checks and log lines of Redis's tlsConfigure(); CONFIG SET rebuilds it and
 * hands it to the listeners (tls.Server.setSecureContext), so new connections get the new
 * certificates while open ones keep theirs.
 */
import tls from 'node:tls';
import { X509Certificate, constants } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type net from 'node:net';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { TLS_RECONFIGURE_FAILED } from '../wire/error-text.js';

/** The settings the listener reads (the acceptor's configuration satisfies it). */
export interface TlsSettings {
  get(name: string): string;
  num(name: string): number;
  onChange(name: string, fn: (v: string) => void): void;
}

/** The settings that shape the secure context: a CONFIG SET of any of them rebuilds it (Redis's applyTlsCfg). */
export const TLS_CONTEXT_SETTINGS: readonly string[] = [
  'tls-cert-file',
  'tls-key-file',
  'tls-key-file-pass',
  'tls-client-cert-file',
  'tls-client-key-file',
  'tls-client-key-file-pass',
  'tls-dh-params-file',
  'tls-ca-cert-file',
  'tls-ca-cert-dir',
  'tls-protocols',
  'tls-ciphers',
  'tls-ciphersuites',
  'tls-prefer-server-ciphers',
  'tls-session-caching',
  'tls-session-cache-size',
  'tls-session-cache-timeout',
  'tls-replication',
  'tls-cluster',
];

const VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
const NO_VERSION = [constants.SSL_OP_NO_TLSv1, constants.SSL_OP_NO_TLSv1_1, constants.SSL_OP_NO_TLSv1_2, constants.SSL_OP_NO_TLSv1_3];
/** Redis's default protocol set: TLSv1.2 and TLSv1.3 (bits of VERSIONS). */
const DEFAULT_PROTOCOLS = 0b1100;

/** Node's default cipher string split the way OpenSSL keeps them: TLSv1.3 suites, and the list for older versions. */
const DEFAULT_SUITES = tls.DEFAULT_CIPHERS.split(':').filter((c) => c.startsWith('TLS_'));
const DEFAULT_LIST = tls.DEFAULT_CIPHERS.split(':').filter((c) => !c.startsWith('TLS_'));

/** tls-protocols as a bit set of VERSIONS (case-insensitive names, as Redis), or null when a name is unknown. */
function parseProtocols(text: string): number | null {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return DEFAULT_PROTOCOLS;
  let bits = 0;
  for (const w of words) {
    const i = VERSIONS.findIndex((v) => v.toLowerCase() === w.toLowerCase());
    if (i < 0) return null;
    bits |= 1 << i;
  }
  return bits;
}

/** A failure of the TLS configuration; its message is Redis's log line for it. */
class TlsSetupError extends Error {}

/** Stops building the context with Redis's log line for the step that failed. */
function fail(message: string): never {
  throw new TlsSetupError(message);
}

/** The reason a file or OpenSSL step failed, without Node's stack. */
function why(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Reads a configured file; a read error fails the step `what` names. */
function readOrFail(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    return fail(`${what}: ${file}: ${why(err)}`);
  }
}

/** Runs an OpenSSL step on a scratch context, turning its error into Redis's log line. */
function check(options: tls.SecureContextOptions, message: (reason: string) => string): void {
  try {
    tls.createSecureContext(options);
  } catch (err) {
    fail(message(why(err)));
  }
}

/** A socket's remote address for log lines. */
function peer(socket: net.Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM certificates of tls-ca-cert-file and every file of tls-ca-cert-dir, each parsed to be sure it is one. */
function loadCaCerts(file: string, dir: string): string[] {
  const texts: string[] = [];
  try {
    if (file !== '') texts.push(readFileSync(file, 'latin1'));
    if (dir !== '') {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isFile()) texts.push(readFileSync(path, 'latin1'));
      }
    }
    const certs = texts.flatMap((t) => t.match(PEM_CERT) ?? []);
    for (const c of certs) new X509Certificate(c);
    if (certs.length === 0) fail('Failed to configure CA certificate(s) file/directory: no certificate or crl found');
    return certs;
  } catch (err) {
    if (err instanceof TlsSetupError) throw err;
    return fail(`Failed to configure CA certificate(s) file/directory: ${why(err)}`);
  }
}

/** Loads one certificate and its key (server or client side), checked as OpenSSL loads them. */
function loadIdentity(certFile: string, keyFile: string, pass: string): { cert: Buffer; key: Buffer; passphrase?: string } {
  const cert = readOrFail(certFile, 'Failed to load certificate');
  check({ cert }, (r) => `Failed to load certificate: ${certFile}: ${r}`);
  const key = readOrFail(keyFile, 'Failed to load private key');
  const identity = pass === '' ? { cert, key } : { cert, key, passphrase: pass };
  check(identity, (r) => `Failed to load private key: ${keyFile}: ${r}`);
  return identity;
}

/** The secure-context options the tls-* settings describe; throws TlsSetupError with Redis's log line. */
function contextOptions(s: TlsSettings): tls.SecureContextOptions {
  const certFile = s.get('tls-cert-file');
  const keyFile = s.get('tls-key-file');
  if (certFile === '') fail('No tls-cert-file configured!');
  if (keyFile === '') fail('No tls-key-file configured!');
  const caFile = s.get('tls-ca-cert-file');
  const caDir = s.get('tls-ca-cert-dir');
  const needsCa = s.get('tls-auth-clients') !== 'no' || s.get('tls-cluster') === 'yes' || s.get('tls-replication') === 'yes';
  if (needsCa && caFile === '' && caDir === '') {
    fail('Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!');
  }
  const protocols = parseProtocols(s.get('tls-protocols'));
  if (protocols === null) fail("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.");
  const low = 31 - Math.clz32(protocols & -protocols);
  const high = 31 - Math.clz32(protocols);
  let secureOptions = 0;
  // Node takes a version range; a gap in the set (TLSv1 TLSv1.2) becomes OpenSSL's NO_ flags, as Redis sets them.
  for (let i = low; i < high; i++) if ((protocols & (1 << i)) === 0) secureOptions |= NO_VERSION[i]!;

  const options: tls.SecureContextOptions = loadIdentity(certFile, keyFile, s.get('tls-key-file-pass'));
  if (caFile !== '' || caDir !== '') options.ca = loadCaCerts(caFile, caDir);

  const list = s.get('tls-ciphers');
  const suites = s.get('tls-ciphersuites');
  // Node takes both in one string and tells TLSv1.3 suites (TLS_*) from the rest by name.
  if (list !== '') check({ ciphers: [...DEFAULT_SUITES, list].join(':') }, () => `Failed to configure ciphers: ${list}`);
  if (suites !== '') {
    const message = `Failed to configure ciphersuites: ${suites}`;
    // Node reads a name without TLS_ as a TLSv1.2 cipher, where OpenSSL's suite list would refuse it.
    if (!suites.split(':').every((n) => n.startsWith('TLS_'))) fail(message);
    check({ ciphers: [suites, ...DEFAULT_LIST].join(':') }, () => message);
  }
  options.ciphers = [suites === '' ? DEFAULT_SUITES.join(':') : suites, list === '' ? DEFAULT_LIST.join(':') : list].join(':');
  options.honorCipherOrder = s.get('tls-prefer-server-ciphers') === 'yes';

  const dhFile = s.get('tls-dh-params-file');
  if (dhFile !== '') {
    const dh = readOrFail(dhFile, 'Failed to load');
    if (!dh.includes('-----BEGIN DH PARAMETERS-----')) fail(`${dhFile}: failed to read DH params.`);
    check({ dhparam: dh }, (r) => `Failed to load DH params file: ${dhFile}: ${r}`);
    options.dhparam = dh;
  }
  const clientCert = s.get('tls-client-cert-file');
  const clientKey = s.get('tls-client-key-file');
  // Checked like Redis's client context, though nothing connects out yet (no replication or cluster).
  if (clientCert !== '' && clientKey !== '') loadIdentity(clientCert, clientKey, s.get('tls-client-key-file-pass'));

  options.minVersion = VERSIONS[low]!;
  options.maxVersion = VERSIONS[high]!;
  // tls-session-caching no: no tickets either (and no session-id cache: TlsListener.sessions).
  if (s.get('tls-session-caching') === 'no') secureOptions |= constants.SSL_OP_NO_TICKET;
  if (secureOptions !== 0) options.secureOptions = secureOptions;
  const timeout = s.num('tls-session-cache-timeout');
  if (timeout > 0) options.sessionTimeout = timeout;
  check(options, (r) => r);
  return options;
}

/**
 * The server-side session-id cache OpenSSL keeps for Redis (Node leaves it to the application):
 * up to tls-session-cache-size sessions (0: no limit), each valid tls-session-cache-timeout
 * seconds, oldest dropped first. Tickets need none of it.
 */
class SessionCache {
  private readonly entries = new Map<string, { data: Buffer; expires: number }>();
  enabled = true;
  size = 20480;
  timeoutMs = 300_000;

  /** Stores a new session (tls.Server 'newSession'). */
  readonly store = (id: Buffer, data: Buffer, done: () => void): void => {
    if (this.enabled) {
      if (this.size > 0 && this.entries.size >= this.size) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(id.toString('hex'), { data, expires: Date.now() + this.timeoutMs });
    }
    done();
  };

  /** Finds a session a client offers to resume (tls.Server 'resumeSession'). */
  readonly find = (id: Buffer, done: (err: Error | null, data: Buffer | null) => void): void => {
    const key = id.toString('hex');
    const e = this.entries.get(key);
    if (e === undefined) return done(null, null);
    if (e.expires > Date.now()) return done(null, e.data);
    this.entries.delete(key);
    done(null, null);
  };

  /** Applies the settings; sessions of the previous context cannot be resumed with the new one, so they go. */
  configure(s: TlsSettings): void {
    this.enabled = s.get('tls-session-caching') === 'yes';
    this.size = s.num('tls-session-cache-size');
    this.timeoutMs = s.num('tls-session-cache-timeout') * 1000;
    this.entries.clear();
  }
}

/** The TLS port's listeners (one per bind address) and their secure context. */
export class TlsListener {
  private readonly servers: tls.Server[] = [];
  /** Accepted sockets until they close (handshakes included), so close() can end them all. */
  private readonly sockets = new Set<net.Socket>();
  /** The options of the current secure context; null until configured. */
  private options: tls.SecureContextOptions | null = null;
  private readonly sessions = new SessionCache();

  /** `serve` receives each socket whose handshake (and client certificate check) succeeded. */
  constructor(
    private readonly settings: TlsSettings,
    private readonly log: Logger,
    private readonly serve: (socket: tls.TLSSocket) => void,
  ) {
    // Read per connection, like Redis: no new context needed.
    settings.onChange('tls-auth-clients', () => {
      for (const srv of this.servers) this.applyAuthClients(srv);
    });
  }

  /** TLS is configured when Redis would: a TLS port, or TLS replication or cluster links. */
  get wanted(): boolean {
    const s = this.settings;
    return s.num('tls-port') !== 0 || s.get('tls-replication') === 'yes' || s.get('tls-cluster') === 'yes';
  }

  /** The port bound (0 when not listening). */
  get port(): number {
    const a = this.servers[0]?.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  /**
   * Builds the secure context from the settings and gives it to new connections. Returns null,
   * or the reason it could not (Redis's log line); the previous context then stays.
   */
  private configure(): string | null {
    let options: tls.SecureContextOptions;
    try {
      options = contextOptions(this.settings);
    } catch (err) {
      if (!(err instanceof TlsSetupError)) throw err;
      return err.message;
    }
    this.options = options;
    this.sessions.configure(this.settings);
    for (const srv of this.servers) srv.setSecureContext(options);
    return null;
  }

  /** The CONFIG SET apply step of the tls-* settings: null, or the reason to refuse the change. */
  readonly reconfigure = (): string | null => {
    if (!this.wanted) return null;
    const reason = this.configure();
    if (reason === null) return null;
    // The reply only points at the log, as Redis's does.
    this.log.warn(reason);
    return TLS_RECONFIGURE_FAILED;
  };

  /** Configures TLS at start-up when it is wanted; a bad setting stops the server, as in Redis. */
  start(): void {
    if (!this.wanted) return;
    const reason = this.configure();
    if (reason !== null) throw new ConfigError(`Failed to configure TLS: ${reason}`);
  }

  /** Listens on the TLS port on every bind address (start() has configured the context). */
  async listen(port: number, hosts: readonly string[]): Promise<void> {
    for (const host of hosts) {
      const srv = tls.createServer({ ...this.options, noDelay: true }, (s) => this.onSecure(s));
      this.applyAuthClients(srv);
      srv.on('connection', (raw: net.Socket) => {
        this.sockets.add(raw);
        raw.once('close', () => this.sockets.delete(raw));
      });
      srv.on('tlsClientError', (err: Error & { reason?: string }, socket) =>
        this.log.warn('Error accepting a client connection', { error: err.reason ?? err.message, addr: peer(socket) }),
      );
      srv.on('newSession', this.sessions.store);
      srv.on('resumeSession', this.sessions.find);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ port, host, backlog: 511 }, () => {
          srv.off('error', reject);
          resolve();
        });
      }).catch((err: unknown) => {
        throw new ConfigError(`could not listen on ${host}:${port} (tls-port): ${why(err)}`);
      });
      this.servers.push(srv);
    }
  }

  /** Stops listening and ends every TLS socket, handshaking or not. */
  close(): void {
    for (const srv of this.servers) srv.close();
    for (const s of this.sockets) s.destroy();
  }

  /** tls-auth-clients, read by tls.Server for each new connection: yes requires a certificate, optional asks for one. */
  private applyAuthClients(srv: tls.Server): void {
    const mode = this.settings.get('tls-auth-clients');
    // Plain properties of tls.Server (set from its options, read for each connection), missing from @types/node.
    const flags = srv as unknown as { requestCert: boolean; rejectUnauthorized: boolean };
    flags.requestCert = mode !== 'no';
    flags.rejectUnauthorized = mode === 'yes';
  }

  private onSecure(socket: tls.TLSSocket): void {
    // optional: a client may send no certificate, but one it sends must verify (OpenSSL's SSL_VERIFY_PEER).
    if (!socket.authorized && this.settings.get('tls-auth-clients') !== 'no' && Object.keys(socket.getPeerCertificate()).length > 0) {
      this.log.warn('Error accepting a client connection', { error: String(socket.authorizationError), addr: peer(socket) });
      socket.destroy();
      return;
    }
    this.serve(socket);
  }
}
