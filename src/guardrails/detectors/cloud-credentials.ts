// Cloud credentials for the secret.cloud_credential detector, found by their context since the
// values themselves are plain base64: the AWS secret access key and session token next to their
// names, a GCP service-account JSON's private_key, Azure storage and Service Bus keys in
// connection strings, Azure SAS signatures, and Azure AD client secrets (the "Q~" format). AWS
// access key ids (AKIA…) come from the shared vendor patterns (provider-keys.ts).

import type { Candidate } from './pii-secret-scan.ts';

/** A 40-character secret key by its name; a plain secret_key counts where the text is about AWS. */
const AWS_SECRET = /(?<![A-Za-z0-9])((?:aws[_-]?)?secret[_-]?(?:access[_-]?)?key)["']?\s{0,8}[:=]\s{0,8}["']?([A-Za-z0-9\/+]{40})(?![A-Za-z0-9\/+=])/gi;
const AWS_CONTEXT = /aws|AKIA|ASIA/i;
const AWS_SESSION = /(?<![A-Za-z0-9])(?:aws[_-]?session[_-]?token|sessiontoken)["']?\s{0,8}[:=]\s{0,8}["']?([A-Za-z0-9\/+=]{100,4096})/gi;
const AZURE_ACCOUNT_KEY = /AccountKey=([A-Za-z0-9+\/]{86}==)/g;
const AZURE_SHARED_ACCESS_KEY = /SharedAccessKey=([A-Za-z0-9+\/]{42,43}=)/g;
const AZURE_SAS_SIG = /[?&;]sig=([A-Za-z0-9%+\/]{30,200}(?:%3[Dd]|=){0,2})/g;
const AZURE_CLIENT_SECRET = /(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])/g;
const GCP_PRIVATE_KEY = /"private_key"\s{0,8}:\s{0,8}"(?=-----BEGIN[ A-Z]{0,40}PRIVATE KEY-----)/g;

/**
 * Enough to see a credential's name and the start of its value (the first 100 characters of a
 * session token, the BEGIN line of a service-account key); longer values are found by their start.
 */
export const CLOUD_CREDENTIAL_MAX_LENGTH = 256;

/** The span of group 1 of every match of `pattern`. */
function valueSpans(pattern: RegExp, text: string, reason: string, out: Candidate[]): void {
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    const value = m[1] ?? m[0];
    const start = m.index + m[0].lastIndexOf(value);
    out.push({ start, end: start + value.length, reason });
  }
}

/** The GCP service-account private_key value: from BEGIN to its closing quote (or the end of the text). */
export function findGcpServiceAccountKeys(text: string): Candidate[] {
  if (!text.includes('"private_key"')) return [];
  const out: Candidate[] = [];
  const reason = text.includes('service_account') ? 'GCP service-account private key' : 'private key in a JSON credentials file';
  GCP_PRIVATE_KEY.lastIndex = 0;
  for (let m = GCP_PRIVATE_KEY.exec(text); m !== null; m = GCP_PRIVATE_KEY.exec(text)) {
    const start = m.index + m[0].length;
    let end = start;
    while (end < text.length && text[end] !== '"' && text[end] !== '\n') end += text[end] === '\\' ? 2 : 1;
    end = Math.min(end, text.length);
    out.push({ start, end, score: 0.99, reason });
    GCP_PRIVATE_KEY.lastIndex = end;
  }
  return out;
}

/** AWS secret keys and session tokens by their names, and the Azure key formats. */
export function findCloudCredentials(text: string): Candidate[] {
  const out: Candidate[] = [];
  if (/secret/i.test(text)) {
    const aws = AWS_CONTEXT.test(text);
    AWS_SECRET.lastIndex = 0;
    for (let m = AWS_SECRET.exec(text); m !== null; m = AWS_SECRET.exec(text)) {
      if (!aws && !/access/i.test(m[1]!)) continue;
      const end = m.index + m[0].length;
      out.push({ start: end - 40, end, reason: 'AWS secret access key' });
    }
  }
  if (/sessiontoken|session_token|session-token/i.test(text)) valueSpans(AWS_SESSION, text, 'AWS session token', out);
  if (text.includes('AccountKey=')) valueSpans(AZURE_ACCOUNT_KEY, text, 'Azure storage account key', out);
  if (text.includes('SharedAccessKey=')) valueSpans(AZURE_SHARED_ACCESS_KEY, text, 'Azure shared access key', out);
  if (text.includes('sig=') && text.includes('sv=')) valueSpans(AZURE_SAS_SIG, text, 'Azure SAS signature', out);
  if (text.includes('Q~')) valueSpans(AZURE_CLIENT_SECRET, text, 'Azure AD client secret', out);
  return out;
}
