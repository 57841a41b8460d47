// The secret detectors: provider keys, cloud credentials, private keys, JWTs, credentials by
// context and high-entropy tokens, each with its exact span; the look-alikes that must not match;
// the registry; and that 1 MB hostile inputs complete. Every key here is invented.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Finding } from '../../src/guardrails/detector.ts';
import { decodesToText, looksRandom } from '../../src/guardrails/detectors/high-entropy.ts';
import { piiSecretDetectors } from '../../src/guardrails/detectors/pii-secret-detectors.ts';
import { joseHeader } from '../../src/guardrails/detectors/secret-finders.ts';

const byName = new Map(piiSecretDetectors.map((d) => [d.name, d]));

function scanAll(text: string): Finding[] {
  return piiSecretDetectors.flatMap((d) => d.scan(text, 'user'));
}

/** [detector, matched text] of every finding. */
function found(text: string): Array<[string, string]> {
  return scanAll(text)
    .sort((a, b) => a.start - b.start)
    .map((f) => [f.detector, text.slice(f.start, f.end)]);
}

function assertFinds(name: string, value: string, context = (v: string) => `before ${v} after`): void {
  const text = context(value);
  assert.deepEqual(found(text), [[name, value]], `${name}: ${JSON.stringify(text)}`);
}

function assertClean(text: string): void {
  assert.deepEqual(found(text), [], `expected nothing in ${JSON.stringify(text)}`);
}

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const RANDOM_40 = 'FVBCvtEFXGz7YW3mmNr2pTUEFHIotp6MY2s7ohaS';

describe('secret.provider_key', () => {
  test('vendor formats', () => {
    const keys = [
      'sk-proj-FAKE9gfjCUvRXixImBrPktXGjG2GbYQUHG9Js1NyRk',
      'sk-ant-api03-FAKEd2CiGq0NkjxF87AjpAKOLJC3VX4ACh0GfobQ',
      'sk_live_FAKE2GAgkap5xCCTUXhXylJs6hcb',
      'ghp_FAKEB6GQUCEdReXjDZYdps6VOwIjLFYPZ778',
      'xoxb-2048613920-FAKETgPqCzw3keNnIDipwgk7VOT1',
      'AIzaFAKELf7WiVQK7pmhjSwXNmDPPkFHcH1gvyB',
      'glpat-FAKEAE5qUpCeLXi11mLF',
      'hf_FAKEillZArxBqcapkEDzihhrwvpawKVSly',
      'npm_FAKE1234567890abcdefghijABCDEFGHIJ12',
      'SG.FAKEabcdefghijklmnopqr.FAKEabcdefghijklmnopqrstuvwxyz0123456789abc',
      'https://hooks.slack.com/services/T0FAKE123/B0FAKE456/FakeWebhook0Secret1234ab',
    ];
    for (const key of keys) assertFinds('secret.provider_key', key);
  });

  test('a key in code is reported once, as the key (not also as an assigned value or an e-mail)', () => {
    const key = 'sk-proj-FAKE9gfjCUvRXixImBrPktXGjG2GbYQUHG9Js1NyRk';
    assert.deepEqual(found(`client = OpenAI(api_key="${key}")`), [['secret.provider_key', key]]);
    const token = 'ghp_FAKEB6GQUCEdReXjDZYdps6VOwIjLFYPZ778';
    assert.deepEqual(found(`git remote add origin https://${token}@github.com/acme/x.git`), [['secret.provider_key', token]]);
  });

  test('the reason names the vendor', () => {
    const [finding] = byName.get('secret.provider_key')!.scan('sk-ant-api03-FAKEd2CiGq0NkjxF87AjpAKOLJC3VX4ACh0GfobQ', 'user');
    assert.match(finding!.reason, /Anthropic/);
    assert.equal(finding!.type, 'API_KEY');
  });

  test('look-alikes: prose, placeholders, publishable keys', () => {
    assertClean('use sk-learn-based-classification-models and task-1; sk-YOUR_API_KEY_HERE');
    assertClean('OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxx');
    assertClean('pk_live_FAKE51HaBcDeFgHiJkLmNoPqRsTuVwXyZ0123456 goes in the browser');
  });
});

describe('secret.cloud_credential', () => {
  test('AWS key ids and secret keys by their names', () => {
    const text = 'aws_access_key_id = AKIAFAKEARWBPZ5V2CH6\naws_secret_access_key = FAKElYVvmurWc/w0MzeSwsF9FhB6F0nygexwzyOo';
    assert.deepEqual(found(text), [
      ['secret.cloud_credential', 'AKIAFAKEARWBPZ5V2CH6'],
      ['secret.cloud_credential', 'FAKElYVvmurWc/w0MzeSwsF9FhB6F0nygexwzyOo'],
    ]);
  });

  test('GCP service-account private key, reported once for the whole value', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\\nMIIEvAIBADANBgkqhkiG9w0BAQEFAASCFAKEuVHt9Es7NlnY\\n-----END PRIVATE KEY-----\\n';
    const text = `{"type": "service_account", "private_key_id": "2eb58f23e286cbe140d27a6899297d8c4adce098", "private_key": "${pem}"}`;
    assert.deepEqual(found(text), [['secret.cloud_credential', pem]]);
  });

  test('Azure connection strings, SAS signatures and client secrets', () => {
    const accountKey = `FAKE${'s79c/VMfcq8NHYpyxb3uXcmMKscfKJz4kgNl5GtkyVVmuKK6n+SybRIi/R1HYR4zvWT8IafZogZgONZnH7'}==`;
    assertFinds('secret.cloud_credential', accountKey, (v) => `DefaultEndpointsProtocol=https;AccountName=x;AccountKey=${v};EndpointSuffix=core.windows.net`);
    assertFinds('secret.cloud_credential', 'FAKEcYFl+z460wOVrJIgSgc2U0TRajNGXo1cqIRrNB+=', (v) => `Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=${v}`);
    assertFinds('secret.cloud_credential', 'FAKEa1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ%2Bab%3D', (v) => `https://x.blob.core.windows.net/c/f?sv=2022-11-02&sp=r&sig=${v}`);
    assertFinds('secret.cloud_credential', 'Fk38Q~FAKEa1B2c3D4e5F6g7H8i9J0kLmNoPq_Rs', (v) => `AZURE_CLIENT_SECRET=${v}`);
  });
});

describe('secret.private_key', () => {
  test('PEM blocks from the BEGIN line to the END line, or to the end of the text', () => {
    const rsa = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAFAKE\n-----END RSA PRIVATE KEY-----';
    assert.deepEqual(found(`key:\n${rsa}\nthanks`), [['secret.private_key', rsa]]);
    const cut = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIFAKEeW1Q4+jn+fzkEj5W5jYb8';
    const [finding] = byName.get('secret.private_key')!.scan(`paste: ${cut}`, 'user');
    assert.equal(finding!.end, `paste: ${cut}`.length);
    assert.match(finding!.reason, /without its END line/);
  });

  test('the BEGIN line fits in maxMatchLength', () => {
    assert.ok('-----BEGIN OPENSSH PRIVATE KEY-----'.length <= byName.get('secret.private_key')!.maxMatchLength);
  });

  test('public keys and certificates, and their base64 bodies, are not secrets', () => {
    assertClean(`-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE${RANDOM_40}\n-----END PUBLIC KEY-----`);
    assertClean(`-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE${RANDOM_40}\n-----END CERTIFICATE-----`);
  });
});

describe('secret.jwt', () => {
  const jwt = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: 'user-1', iat: 1716239022 })}.OV1kmQpjeKqFsBo35QoVu5yGuI-2kTktTPPFrq5Ea6Z`;

  test('three base64url parts with a JOSE header, wherever they stand', () => {
    assertFinds('secret.jwt', jwt, (v) => `Authorization: Bearer ${v}`);
    assertFinds('secret.jwt', jwt, (v) => `Set-Cookie: access_token=${v}; HttpOnly`);
    assertFinds('secret.jwt', `${b64url({ alg: 'none' })}.${b64url({ sub: 'guest' })}.`);
  });

  test('a dotted base64 JSON triple without "alg" is not a JWT', () => {
    assert.equal(joseHeader(`${b64url({ foo: 'bar' })}.${b64url({ x: 1 })}.abc`), false);
    assert.equal(byName.get('secret.jwt')!.scan(`${b64url({ foo: 'bar' })}.${b64url({ x: 1 })}.abcdef`, 'user').length, 0);
    assertClean('JWTs look like xxxxx.yyyyy.zzzzz and start with eyJ');
  });
});

describe('secret.credential', () => {
  test('bearer and basic values, URL passwords, assigned values', () => {
    assertFinds('secret.credential', '8f1c2e9a7b3d4f6e0a5c', (v) => `Authorization: Bearer ${v}`);
    assertFinds('secret.credential', 'c3ZjOkZha2VQYXNzd29yZDEyMw==', (v) => `Authorization: Basic ${v}`);
    assertFinds('secret.credential', 'Xk9mP2vL5qR8', (v) => `postgres://app:${v}@db.internal:5432/app`);
    assertFinds('secret.credential', 'T7#qL!9zW2@rX', (v) => `password: "${v}"`);
    assertFinds('secret.credential', 'hunter22', (v) => `DB_PASSWORD=${v}`);
    assertFinds('secret.credential', 'abc123def456', (v) => `https://x.test/cb?token=${v}&state=1`);
  });

  test('placeholders, types, references, calls and URLs are not credentials', () => {
    assertClean('interface C {\n  token: string;\n  password: string;\n}');
    assertClean('password: ********\napi_token: <REDACTED>\nsecret: ${SECRET}\napi_key = os.environ["KEY"]');
    assertClean('const token = tokenizer.encode(text); password = config.password');
    assertClean('Reset your password: https://accounts.example.com/reset?token={{reset_token}}');
    assertClean('Authorization: Basic understanding required; the bearer of this letter');
  });
});

describe('secret.high_entropy', () => {
  test('random tokens that nothing more specific explains', () => {
    assertFinds('secret.high_entropy', RANDOM_40, (v) => `MY_SERVICE_CRED="${v}"`);
    assertFinds('secret.high_entropy', 'tkgK37EJF6iNvv6UwnUHVnPIKHEEnq207u229GU5yAxx', (v) => `X-Internal-Auth: ${v}`);
  });

  test('hashes, ids, encoded data and identifiers are not reported', () => {
    assertClean('commit 83525c510fb7bd29e038327a18b9ef03bc24beb6, sha256 5159947ec662f036ac59efac46a88d2ddba942c78c99470fd2e7b34c17b01fad');
    assertClean('request 7c9e6679-7425-40de-944b-e07fc1f90ae7, ids req_01HZX3Q7Y8K2M4N6P8R0T2V4W6 msg_01XFDUDYJgAACzvnptvVoYEL 01HZX3Q7Y8K2M4N6P8R0T2V4W6');
    assertClean('<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==">');
    assertClean('"integrity": "sha512-2kENHBjQoTS/FmZvEmvSX1j+J+3RdB4Q/Pb353c/cYdb+5HVUudIzGrVxB6zU7YxoCDYjqJNo9wtCpBOAw=="');
    assertClean('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIpIuG9qzPJx9kw40amV+4uQdjB/Gy3olQeClHHFut deploy@runner');
    assertClean('https://docs.google.com/document/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit');
    assertClean('Decode SGVsbG8sIHdvcmxkISBIb3cgYXJlIHlvdSB0b2RheT8= for me');
    assertClean('getUserAuthenticationTokenFromRequestHeaders, test_user_authentication_flow_v2, my-awesome-project-v2-final');
  });

  test('looksRandom and decodesToText', () => {
    assert.equal(looksRandom(RANDOM_40), true);
    assert.equal(looksRandom('ThisIsAVeryLongCamelCaseName123'), false);
    assert.equal(looksRandom('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef'), false, 'no digit');
    assert.equal(decodesToText(Buffer.from('ignore all previous instructions').toString('base64')), true);
    assert.equal(decodesToText(Buffer.from(Buffer.from('ignore all previous instructions').toString('base64')).toString('base64')), true, 'twice');
    assert.equal(decodesToText(RANDOM_40), false);
  });
});

describe('the PII and secret registry', () => {
  test('twelve detectors with distinct names, kinds matching their prefixes, bounded maxMatchLength', () => {
    const names = piiSecretDetectors.map((d) => d.name);
    assert.equal(new Set(names).size, 12);
    for (const d of piiSecretDetectors) {
      assert.equal(d.kind, d.name.split('.')[0]);
      assert.ok(Number.isInteger(d.maxMatchLength) && d.maxMatchLength > 0 && d.maxMatchLength <= 1024, d.name);
    }
  });

  test('secret findings: kind secret, typed, reasons that never quote the text', () => {
    const text = 'key sk-proj-FAKE9gfjCUvRXixImBrPktXGjG2GbYQUHG9Js1NyRk and AKIAFAKEARWBPZ5V2CH6 and password: "hunter2hunter2"';
    const findings = scanAll(text);
    assert.deepEqual(findings.map((f) => f.type).sort(), ['API_KEY', 'CLOUD_KEY', 'SECRET']);
    for (const f of findings) {
      assert.equal(f.kind, 'secret');
      assert.ok(!f.reason.includes(text.slice(f.start, f.end)));
    }
  });

  test('clean prose finds nothing', () => {
    assertClean('Explain the difference between TCP and UDP in 3 sentences. Version 2.3 of the template, Q3 2024 revenue grew 12% to $4.2 million.');
    assertClean('日本語のテキスト 🚀 émojis and ünïcödé');
  });
});

describe('secret detectors on 1 MB hostile inputs', () => {
  const fill = (unit: string) => unit.repeat(Math.ceil(1_000_000 / unit.length)).slice(0, 1_000_000);
  const inputs: Record<string, string> = {
    base64: fill('QWxhZGRpbjpvcGVuIHNlc2FtZQ'),
    'random tokens': fill('aB3dE6gH9jK2mN5pQ8sT1vW4yZ7 '),
    eyJ: fill('eyJabc.'),
    JWTs: fill(`${b64url({ alg: 'HS256' })}.${b64url({ sub: '1' })}.abc `),
    'sk-': fill('sk-'),
    assignments: fill('password=password=password:'),
    BEGIN: fill('-----BEGIN PRIVATE KEY-----'),
    'BEGIN public': fill('-----BEGIN PUBLIC KEY-----\nAAAA '),
    'GCP keys': fill('"private_key": "-----BEGIN PRIVATE KEY-----'),
    schemes: fill('a://b:c'),
    bearer: fill('Bearer Bearer a1 '),
    'session tokens': fill('SessionToken=AAAA'),
    'Azure markers': fill('AccountKey=SharedAccessKey=sig=sv=Q~'),
    'base64 lines': fill(`${'A'.repeat(70)}1\n`),
  };
  for (const [name, text] of Object.entries(inputs)) {
    test(name, () => {
      for (const d of piiSecretDetectors) assert.ok(Array.isArray(d.scan(text, 'user')));
    });
  }
});
