/**
 * TLS for HTTP and MQTT: load the certificate and key named by --tls-cert/--tls-key (and a CA
 * for mutual TLS with --tls-ca), checked once at start so a wrong file fails with one clear error
 * instead of at the first handshake. Lab pair: see docs/security.md ("A self-signed pair").
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { LsError } from '../core/errors.ts';

/** What startServer and the MQTT broker take (contracts 1 and 7). */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  /** Mutual TLS: clients must present a certificate signed by `ca`. */
  requestCert?: boolean;
  /** With requestCert: refuse clients without a valid certificate at the handshake. */
  rejectUnauthorized?: boolean;
}

async function readPart(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    throw new LsError('LS_ERR_SECURITY_CONFIG', `cannot read the TLS ${what}: ${(e as Error).message}`, { subject: file });
  }
}

/** Read and check cert/key (and CA); `ca` turns on mutual TLS. */
export async function loadTls(opts: { cert: string; key: string; ca?: string }): Promise<TlsMaterial> {
  const cert = await readPart(opts.cert, 'certificate');
  const key = await readPart(opts.key, 'key');
  const ca = opts.ca ? await readPart(opts.ca, 'CA certificate') : undefined;
  try {
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
  } catch (e) {
    throw new LsError('LS_ERR_SECURITY_CONFIG', `the TLS certificate and key do not work together: ${(e as Error).message}`, { subject: opts.cert });
  }
  return { cert, key, ...(ca ? { ca, requestCert: true, rejectUnauthorized: true } : {}) };
}

/** Options from the command line: both --tls-cert and --tls-key, or neither. */
export async function tlsFromFlags(flags: { tlsCert?: string; tlsKey?: string; tlsCa?: string }): Promise<TlsMaterial | undefined> {
  if (!flags.tlsCert && !flags.tlsKey) {
    if (flags.tlsCa) throw new LsError('LS_ERR_SECURITY_CONFIG', '--tls-ca needs --tls-cert and --tls-key');
    return undefined;
  }
  if (!flags.tlsCert || !flags.tlsKey) throw new LsError('LS_ERR_SECURITY_CONFIG', 'give both --tls-cert and --tls-key');
  return loadTls({ cert: flags.tlsCert, key: flags.tlsKey, ...(flags.tlsCa ? { ca: flags.tlsCa } : {}) });
}
