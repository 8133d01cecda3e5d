/**
 * Test certificates made with the openssl command line (Node has no X.509 generator): a throw-away CA and leaf
 * certificates it signs for given DNS names (plus 127.0.0.1), as PEM files in a temp directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why TLS tests cannot run here ('' when openssl is installed). */
export const OPENSSL_MISSING = ((): string => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return '';
  } catch {
    return 'openssl is not installed (apt-get install openssl): the TLS tests make their certificates with it';
  }
})();

/** A CA and the directory its files live in. */
export interface TestCa {
  dir: string;
  cert: string;
  key: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A self-signed CA (EC P-256, two days). */
export function makeCa(name = 'Sabre Test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'sabre-tls-'));
  const cert = join(dir, 'ca.pem');
  const key = join(dir, 'ca.key');
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert].concat([
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]),
  );
  return { dir, cert, key };
}

let serial = 0;

/** A leaf certificate signed by `ca` for `names` (the first is the CN) and IP 127.0.0.1; returns its file paths. */
export function makeLeaf(ca: TestCa, names: string[], tag = names[0]!): { cert: string; key: string } {
  const base = join(ca.dir, `${tag.replace(/[^a-z0-9]/gi, '_')}-${++serial}`);
  const ext = `${base}.ext`;
  writeFileSync(ext, `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`);
  openssl(
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`].concat([
      '-subj',
      `/CN=${names[0]}`,
    ]),
  );
  openssl(
    ['x509', '-req', '-in', `${base}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', `${base}.pem`].concat([
      '-days',
      '2',
      '-extfile',
      ext,
    ]),
  );
  return { cert: `${base}.pem`, key: `${base}.key` };
}
