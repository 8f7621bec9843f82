// Throwaway certificates for the TLS tests, made with the openssl command line
// into a fresh temporary directory on every run (nothing is kept in the repo).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** One certificate authority and a certificate it signed. */
export interface Pki {
  /** The CA certificate, PEM. */
  ca: Buffer;
  /** A certificate for localhost, 127.0.0.1 and ::1, good for server and client auth, PEM. */
  cert: Buffer;
  /** Its private key, PEM. */
  key: Buffer;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Makes `<name>-ca.pem`/`.key`, a self-signed authority. */
function authority(dir: string, name: string): void {
  openssl(
    dir,
    'req',
    '-x509',
    ...EC,
    '-keyout',
    `${name}-ca.key`,
    '-out',
    `${name}-ca.pem`,
    '-days',
    '1',
    '-subj',
    `/CN=micro-test-${name}-ca`,
  );
}

/** Makes `<name>.pem`/`.key` for the names in `san`, signed by the authority `ca`. */
function leaf(dir: string, ca: string, name: string, san: string): void {
  openssl(
    dir,
    'req',
    ...EC,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=micro-test-${name}`,
  );
  writeFileSync(
    path.join(dir, `${name}.ext`),
    [
      'basicConstraints=CA:FALSE',
      `subjectAltName=${san}`,
      'extendedKeyUsage=serverAuth,clientAuth',
    ].join('\n'),
  );
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}-ca.pem`,
    '-CAkey',
    `${ca}-ca.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '1',
    '-extfile',
    `${name}.ext`,
  );
}

/**
 * Makes two unrelated authorities with certificates.
 * @returns `trusted` for the tests' services (localhost, 127.0.0.1, ::1), `named` from
 *   the same authority but only for `service.internal`, and `stranger` from an
 *   authority nobody trusts
 */
export function makeCertificates(): { trusted: Pki; named: Pki; stranger: Pki } {
  const dir = mkdtempSync(path.join(tmpdir(), 'micro-transport-grpc-tls-'));
  const read = (file: string) => readFileSync(path.join(dir, file));
  const pki = (ca: string, name: string): Pki => ({
    ca: read(`${ca}-ca.pem`),
    cert: read(`${name}.pem`),
    key: read(`${name}.key`),
  });
  try {
    authority(dir, 'trusted');
    authority(dir, 'stranger');
    leaf(dir, 'trusted', 'local', 'DNS:localhost,IP:127.0.0.1,IP:::1');
    leaf(dir, 'trusted', 'named', 'DNS:service.internal');
    leaf(dir, 'stranger', 'foreign', 'DNS:localhost,IP:127.0.0.1,IP:::1');
    return {
      trusted: pki('trusted', 'local'),
      named: pki('trusted', 'named'),
      stranger: pki('stranger', 'foreign'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
