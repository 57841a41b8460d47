// The secret stages of the PII/secret pass (pii-secret-scan.ts), most specific first: a GCP
// service-account key before the PEM block inside it, PEM private keys, provider keys (and AWS key
// ids), JWTs, cloud credentials found by their names, then credentials found by context (bearer,
// basic, URL passwords, assigned values). Generic high-entropy tokens run last of all, after PII,
// so they only report what nothing else explains.

import { findJwts, findPrivateKeys } from '../../redaction/patterns/secret-patterns.ts';
import { findCloudCredentials, findGcpServiceAccountKeys } from './cloud-credentials.ts';
import { findCredentials } from './credential-values.ts';
import { findHighEntropyTokens } from './high-entropy.ts';
import type { Candidate, Stage } from './pii-secret-scan.ts';
import { findProviderKeys } from './provider-keys.ts';

/** Whether the first part of a dotted token is base64url JSON with a string "alg", as every JOSE header has. */
export function joseHeader(token: string): boolean {
  const header = token.slice(0, token.indexOf('.'));
  if (header.length > 2048) return false;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && typeof (parsed as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

const cloudGcp: Stage = {
  detector: 'secret.cloud_credential',
  kind: 'secret',
  type: 'CLOUD_KEY',
  score: 0.99,
  reason: 'GCP service-account private key',
  find: (text) => findGcpServiceAccountKeys(text),
};

const privateKey: Stage = {
  detector: 'secret.private_key',
  kind: 'secret',
  type: 'PRIVATE_KEY',
  score: 0.99,
  reason: 'PEM/OpenSSH/PGP private key block',
  find: (text) =>
    findPrivateKeys(text).map((s): Candidate => (/-----END/.test(text.slice(Math.max(s.start, s.end - 64), s.end)) ? s : { ...s, reason: 'private key block without its END line' })),
};

const providerKey: Stage = {
  detector: 'secret.provider_key',
  kind: 'secret',
  type: 'API_KEY',
  score: 0.98,
  reason: 'provider API key format',
  find: findProviderKeys,
};

const jwt: Stage = {
  detector: 'secret.jwt',
  kind: 'secret',
  type: 'JWT',
  score: 0.95,
  reason: 'JSON Web Token (header with alg)',
  find: (text) => findJwts(text).filter((s) => joseHeader(text.slice(s.start, s.end))),
};

const cloudCredential: Stage = {
  detector: 'secret.cloud_credential',
  kind: 'secret',
  type: 'CLOUD_KEY',
  score: 0.95,
  reason: 'cloud credential',
  find: findCloudCredentials,
};

const credential: Stage = {
  detector: 'secret.credential',
  kind: 'secret',
  type: 'SECRET',
  score: 0.8,
  reason: 'credential',
  find: findCredentials,
};

export const highEntropy: Stage = {
  detector: 'secret.high_entropy',
  kind: 'secret',
  type: 'SECRET',
  score: 0.7,
  reason: 'high-entropy token',
  find: findHighEntropyTokens,
};

/** In pass order; highEntropy goes after the PII stages. */
export const secretStages: readonly Stage[] = [cloudGcp, privateKey, providerKey, jwt, cloudCredential, credential];
