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

/** What an MQTT client takes to reach an external broker over TLS: the broker's CA, and a client certificate. */
export interface MqttClientTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * --mqtt-ca (the CA that signed the plant broker's certificate, when it is not a public one) and
 * --mqtt-cert/--mqtt-key (a client certificate, for brokers with require_certificate): read and
 * checked at start. Only for an external broker reached with an mqtts:// URL.
 */
export async function mqttClientTlsFromFlags(flags: { mqtt?: string; mqttCa?: string; mqttCert?: string; mqttKey?: string }): Promise<MqttClientTls | undefined> {
  const any = Boolean(flags.mqttCa || flags.mqttCert || flags.mqttKey);
  if (!any) return undefined;
  if (!flags.mqtt?.startsWith('mqtts://')) throw new LsError('LS_ERR_SECURITY_CONFIG', '--mqtt-ca, --mqtt-cert and --mqtt-key are for an external broker over TLS: give --mqtt mqtts://host:8883');
  if (Boolean(flags.mqttCert) !== Boolean(flags.mqttKey)) throw new LsError('LS_ERR_SECURITY_CONFIG', 'give both --mqtt-cert and --mqtt-key');
  const ca = flags.mqttCa ? await readPart(flags.mqttCa, 'CA certificate of the MQTT broker') : undefined;
  if (ca) {
    try {
      createSecureContext({ ca });
    } catch (e) {
      throw new LsError('LS_ERR_SECURITY_CONFIG', `not a CA certificate: ${(e as Error).message}`, { subject: flags.mqttCa });
    }
  }
  if (flags.mqttCert && flags.mqttKey) {
    const client = await loadTls({ cert: flags.mqttCert, key: flags.mqttKey });
    return { ...(ca ? { ca } : {}), cert: client.cert, key: client.key };
  }
  return ca ? { ca } : {};
}

