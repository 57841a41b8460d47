// Redaction of secrets and PII before a prompt is stored: every kind's positive cases (in
// context, so boundaries are tested too), the look-alikes that must stay, the checksums, the
// JSON walk, and that the patterns stay linear on hostile input.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ibanChecksumValid, luhnValid, PLACEHOLDERS, redact, redactValue, ssnValid, type RedactionCounts } from '../../src/redaction/redact.ts';

/** The Luhn check digit appended to `body`. */
function withCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return body + d;
  throw new Error('unreachable');
}

/** `value` inside a sentence is replaced by `placeholder`, and the sentence around it is kept. */
function assertRedacted(value: string, placeholder: string): void {
  const text = `before ${value} after`;
  assert.equal(redact(text), `before ${placeholder} after`, `expected ${JSON.stringify(value)} → ${placeholder}`);
  // Also at the very start and end of the text, and next to punctuation.
  assert.equal(redact(value), placeholder, `alone: ${JSON.stringify(value)}`);
  assert.equal(redact(`(${value}).`), `(${placeholder}).`, `in parentheses: ${JSON.stringify(value)}`);
}

function assertKept(text: string): void {
  assert.equal(redact(text), text, `expected ${JSON.stringify(text)} to be kept`);
}

describe('redact: secrets', () => {
  test('provider API keys', () => {
    const keys = [
      'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h',
      'sk-svcacct-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe',
      'sk-' + 'aB1'.repeat(16),
      'sk-ant-api03-AbCdEfGh1234567890_IjKlMnOp-QrStUvWx-0123456789abcdefABCDEF',
      'sk-ant-admin01-abcdefghijklmnop1234567890',
      'sk-tg-' + 'Q2x_'.repeat(10) + 'abc',
      'sk_live_51HaBcDeFgHiJkLmNoPqRsTu',
      'rk_test_4eC39HqLyjWDarjtT1zdp7dc',
      'AKIAIOSFODNN7EXAMPLE',
      'ASIAY34FZKBOKMUTVV7A',
      'ghp_' + 'a1B2c3D4e5'.repeat(4),
      'gho_16C7e42F292c6912E7710c838347Ae178B4a',
      'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRS',
      'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
      'xoxp-1234567890-abcdefghij',
      'xapp-1-A0123456789-1234567890123-abcdef0123456789',
      'AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY',
      'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX',
    ];
    for (const key of keys) assertRedacted(key, '[SECRET]');
  });

  test('a key inside code, JSON and env assignments', () => {
    assert.equal(redact('client = OpenAI(api_key="sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1w")'), 'client = OpenAI(api_key="[SECRET]")');
    assert.equal(redact('{"key":"sk-ant-api03-AbCdEfGh1234567890abcd"}'), '{"key":"[SECRET]"}');
    assert.equal(redact('export OPENAI_API_KEY=sk-Ab3dEf6hIj9kLm2nOp5qRs8t'), 'export OPENAI_API_KEY=[SECRET]');
    assert.equal(redact('AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n'), 'AWS_ACCESS_KEY_ID=[SECRET]\n');
  });

  test('private key blocks, whole or cut off before their END line', () => {
    const rsa = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MvG1Z3tb\nq8xlRzLXXgs=\n-----END RSA PRIVATE KEY-----';
    assert.equal(redact(`key:\n${rsa}\nthanks`), 'key:\n[SECRET]\nthanks');
    const pkcs8 = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
    assert.equal(redact(pkcs8), '[SECRET]');
    const openssh = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----';
    assert.equal(redact(`a ${openssh} b`), 'a [SECRET] b');
    assert.equal(redact('-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----'), '[SECRET]');
    assert.equal(redact('-----BEGIN ENCRYPTED PRIVATE KEY-----\\nMIIFHDBO\\n-----END ENCRYPTED PRIVATE KEY-----'), '[SECRET]', 'escaped newlines');
    assert.equal(redact('paste: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoG'), 'paste: [SECRET]', 'unterminated: to the end');
    // Two blocks: each one alone, the text between kept.
    assert.equal(redact(`${pkcs8} middle ${pkcs8}`), '[SECRET] middle [SECRET]');
    // Public keys and certificates are not secrets.
    assertKept('-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----');
    assertKept('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----');
  });

  test('JWTs', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
    assertRedacted(jwt, '[SECRET]');
    assertRedacted('eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.', '[SECRET]');
    assert.equal(redact(`Cookie: session=${jwt}; path=/`), 'Cookie: session=[SECRET]; path=/');
    assertKept('eyJ is how base64 JSON starts; a.b.c is not a token; see example.com.au');
  });

  test('bearer and basic credentials, passwords in URLs', () => {
    assert.equal(redact('Authorization: Bearer abc123def456ghi789'), 'Authorization: Bearer [SECRET]');
    assert.equal(redact('curl -H "authorization: bearer ya29.a0AfH6SMBx-3kVQ_9zq" https://x'), 'curl -H "authorization: bearer [SECRET]" https://x');
    assert.equal(redact('Authorization: Basic dXNlcjpwYXNzd29yZA=='), 'Authorization: Basic [SECRET]');
    assert.equal(redact('DATABASE_URL=postgres://admin:s3cr3t-Pw@db.internal:5432/app'), 'DATABASE_URL=postgres://admin:[SECRET]@db.internal:5432/app');
    assert.equal(redact('redis://:hunter2@cache:6379/0'), 'redis://:hunter2@cache:6379/0', 'no user: nothing before the colon to anchor on');
    assert.equal(redact('amqp://guest:guest123@rabbit/'), 'amqp://guest:[SECRET]@rabbit/');
    assertKept('The bearer of this letter; bearer bonds; Bearer instruments');
    assertKept('Basic understanding of authorization is required');
    assertKept('https://example.com:8080/path?q=1 and ftp://files.example.org/pub');
  });

  test('values assigned to secret-sounding names', () => {
    assert.equal(redact('password: hunter22'), 'password: [SECRET]');
    assert.equal(redact('{"password": "correct horse"}'), '{"password": "[SECRET]"}');
    assert.equal(redact('DB_PASSWORD=s3cr3t!!'), 'DB_PASSWORD=[SECRET]');
    assert.equal(redact("client_secret = 'abcdef123456'"), "client_secret = '[SECRET]'");
    assert.equal(redact('refresh_token: 1//0gAbCdEf'), 'refresh_token: [SECRET]');
    assert.equal(redact('"apiKey":"9f8e7d6c5b4a"'), '"apiKey":"[SECRET]"');
    assertKept('token = tokenizer.encode(text)');
    assertKept('max_tokens: 4096, tokens: 1234567, password: abc');
    assertKept('The secret of success is hard work');
  });

  test('look-alikes that are not keys', () => {
    assertKept('use sk-learn-based-classification-models, ask-me-anything-about-it, task-1');
    assertKept('risk-assessment-methodology-for-2024 is hyphenated prose');
    assertKept('AKIA alone, ghp_short, xoxb-short, AIza123');
    assertKept('the desk-level-reference and sk-short1');
  });
});

describe('redact: e-mail addresses', () => {
  test('addresses', () => {
    for (const email of ['john.doe@example.com', 'a+tag@sub.example.co.uk', 'x_y-z@mail-server.io', 'UPPER.CASE@EXAMPLE.ORG', "o'neil@example.ie".replace("'", ''), '12345@numbers.net']) {
      assertRedacted(email, '[EMAIL]');
    }
    assert.equal(redact('mailto:jane@example.com?subject=hi'), 'mailto:[EMAIL]?subject=hi');
    assert.equal(redact('<jane@example.com>, bob@example.org'), '<[EMAIL]>, [EMAIL]');
    assert.equal(redact('Write to jane@example.com.'), 'Write to [EMAIL].');
  });

  test('not addresses', () => {
    assertKept('@mention and @channel, user@localhost, foo@bar, a@b.c, name at example dot com');
    assertKept('decorators: @dataclass @app.route("/x")');
    assertKept('npm i @scope/package@1.2.3');
  });
});

describe('redact: IBANs', () => {
  test('valid IBANs, compact and in groups of four', () => {
    const ibans = [
      'DE89370400440532013000',
      'DE89 3704 0044 0532 0130 00',
      'GB82WEST12345698765432',
      'GB82 WEST 1234 5698 7654 32',
      'FR1420041010050500013M02606',
      'FR14 2004 1010 0505 0001 3M02 606',
      'NL91ABNA0417164300',
      'ES9121000418450200051332',
      'IT60X0542811101000000123456',
      'CH9300762011623852957',
      'BE68539007547034',
      'NO9386011117947',
      'MT84MALT011000012345MTLCAST001S',
      'de89370400440532013000',
    ];
    for (const iban of ibans) assertRedacted(iban, '[IBAN]');
    assert.equal(redact('IBAN: DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX'), 'IBAN: [IBAN], BIC COBADEFFXXX');
    assert.equal(redact('Ref AB12 DE89 3704 0044 0532 0130 00 THIS WEEK'), 'Ref AB12 [IBAN] THIS WEEK', 'an IBAN inside a longer run');
    assert.equal(redact('ES91 2100 0418 4502 0005 1332 PLUS MORE TEXT'), '[IBAN] PLUS MORE TEXT');
  });

  test('checksum failures and look-alikes stay', () => {
    assertKept('DE89370400440532013001');
    assertKept('GB82 WEST 1234 5698 7654 33');
    assertKept('GB82WEST12345698765433');
    assertKept('AB12 THIS WORD LIST GOES ON');
    assertKept('Part no. XY12ABCDEFGHIJKLMNOP, SKU AB12-3456-7890');
  });

  test('ibanChecksumValid', () => {
    assert.equal(ibanChecksumValid('GB82 WEST 1234 5698 7654 32'), true);
    assert.equal(ibanChecksumValid('GB82WEST12345698765432'), true);
    assert.equal(ibanChecksumValid('GB83WEST12345698765432'), false);
    assert.equal(ibanChecksumValid('GB82'), false);
    assert.equal(ibanChecksumValid('1234WEST12345698765432'), false);
  });
});

describe('redact: payment cards', () => {
  const cards = [
    '4111111111111111',
    '4111 1111 1111 1111',
    '4111-1111-1111-1111',
    '4012888888881881',
    '4222222222222',
    '5555555555554444',
    '5105 1051 0510 5100',
    '2223003122003222',
    '378282246310005',
    '3782 822463 10005',
    '3714-496353-98431',
    '6011111111111117',
    '6011 0009 9013 9424',
    '30569309025904',
    '3056 930902 5904',
    '3530111333300000',
    '6200000000000005',
    withCheckDigit('601100000000000000'),
    `${withCheckDigit('400012341234123412').replace(/(\d{4})(\d{4})(\d{4})(\d{4})(\d{3})/, '$1 $2 $3 $4 $5')}`,
  ];

  test('Luhn-valid numbers of the card networks, contiguous or grouped', () => {
    for (const card of cards) assertRedacted(card, '[CARD]');
    assert.equal(redact('card 4111 1111 1111 1111 exp 12/26 cvc 123'), 'card [CARD] exp 12/26 cvc 123');
    assert.equal(redact('4111111111111111,5555555555554444'), '[CARD],[CARD]');
    assert.equal(redact('order 12 4111 1111 1111 1111'), 'order 12 [CARD]', 'the card inside a longer run of numbers');
    assert.equal(redact('4111 1111 1111 1111 2025'), '[CARD] 2025');
    assert.equal(redact('$4111111111111111'), '$[CARD]');
  });

  test('Luhn failures, other lengths, other first digits and decimals stay', () => {
    assertKept('4111111111111112');
    assertKept('4111 1111 1111 1112');
    assertKept('411111111111'); // 12 digits
    assertKept('41111111111111111111'); // 20 digits
    assertKept('1700000000000 and 1712345678901 (epoch ms) and 9780306406157 (ISBN)');
    assertKept('0.4111111111111111 and 4111111111111111.5');
    assertKept('3.14159265358979323846264338327950288');
    assertKept('years 2019 2020 2021 2022 2023 2024');
    assertKept('1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20');
    assertKept('2024-01-15 2024-01-16 2024-01-17');
    assertKept('ISBN 978-3-16-148410-0, tracking 1Z999AA10123456784');
    assertKept('1234 5678 9012 3456');
  });

  test('luhnValid', () => {
    assert.equal(luhnValid('79927398713'), true);
    assert.equal(luhnValid('79927398710'), false);
    assert.equal(luhnValid('4111111111111111'), true);
    assert.equal(luhnValid('411111111111111a'), false);
  });
});

describe('redact: US social security numbers', () => {
  test('valid SSNs', () => {
    for (const ssn of ['078-05-1120', '123-45-6789', '219 09 9999', '665-01-0001', '899-99-9999']) assertRedacted(ssn, '[SSN]');
    assert.equal(redact('SSN: 078-05-1120.'), 'SSN: [SSN].');
  });

  test('invalid areas, groups and serials, and other shapes, stay', () => {
    for (const text of ['000-12-3456', '666-12-3456', '900-12-3456', '999-45-6789', '123-00-4567', '123-45-0000', '123456789', '123-456-789', '12-345-6789', '1123-45-6789', '123-45-67890', '123-45 6789']) {
      assertKept(text);
    }
  });

  test('ssnValid', () => {
    assert.equal(ssnValid('078', '05', '1120'), true);
    assert.equal(ssnValid('000', '05', '1120'), false);
    assert.equal(ssnValid('666', '05', '1120'), false);
    assert.equal(ssnValid('950', '05', '1120'), false);
    assert.equal(ssnValid('078', '00', '1120'), false);
    assert.equal(ssnValid('078', '05', '0000'), false);
  });
});

describe('redact: phone numbers', () => {
  test('international (E.164 and spaced) numbers', () => {
    for (const phone of [
      '+14155552671',
      '+1 (555) 123-4567',
      '+1-555-123-4567',
      '+1.555.123.4567',
      '+44 20 7946 0958',
      '+44 (0)20 7946 0958',
      '+442079460958',
      '+33 1 23 45 67 89',
      '+49 30 1234567',
      '+49 (30) 1234567',
      '+91 98765 43210',
      '+61 2 9876 5432',
      '+1(555)123-4567',
    ]) {
      assertRedacted(phone, '[PHONE]');
    }
  });

  test('national numbers', () => {
    for (const phone of ['(555) 123-4567', '555-123-4567', '555.123.4567', '555 123 4567', '1-800-555-0199', '020 7946 0958', '07700 900123', '01 23 45 67 89', '01.23.45.67.89', '030 1234567', '030/1234567', '0044 20 7946 0958']) {
      assertRedacted(phone, '[PHONE]');
    }
    assert.equal(redact('Call me at (555) 123-4567 or 555-987-6543.'), 'Call me at [PHONE] or [PHONE].');
  });

  test('plain numbers stay: years, prices, decimals, dates, times, versions, addresses, ids, scores', () => {
    for (const text of [
      'In 2024 revenue grew 12% to $1,299.99 (1,000,000 units)',
      'pi is 3.14159265 and e is 2.718281828',
      'version v1.2.3, build 2024.01.15, release 10.0.19045',
      '192.168.1.1 and 10.0.0.255',
      'dates 2024-01-15, 15/01/2024, 01.02.2024, 05/12/2023 09:30, 12:30:45',
      'page 12 of 300, room 101, call 911, ext. 4567',
      'order 123456789, id 4155552671, zip 94103, zip+4 94103-1234',
      'score +5, delta -100, +100 points, +12 345, +0.5%',
      '1 000 000 inhabitants, € 1.234.567,89',
      'range 1999-2024 and 2020-2024',
      'ISBN 978-3-16-148410-0 and 0-306-40615-2',
      'math: 3 + 4 = 7, 10 - 2 = 8, 0.5 0.25 0.125',
      'coordinates 51.5074, -0.1278',
      'uuid 550e8400-e29b-41d4-a716-446655440000, sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      'commit 9fceb02d0ae598e95dc970b74767f19372d61af8, at 2024-01-15T10:30:00.000Z (epoch 1705314600)',
      'chmod 0755, color #00ff00, MAC 00:1A:2B:3C:4D:5E, HTTP 404, semver 2.0.0-beta.1',
    ]) {
      assertKept(text);
    }
  });
});

describe('redact: together', () => {
  test('a realistic prompt', () => {
    const prompt = [
      'Hi, I am Jane (jane.doe@acme.example, +1 415-555-0132).',
      'My card 4111 1111 1111 1111 was charged twice on 2024-03-05 for $49.99.',
      'Refund to DE89 3704 0044 0532 0130 00 please. SSN 078-05-1120.',
      'Our key is sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe, do not share.',
      'Order #1042, 3 items, total 149.97 EUR.',
    ].join('\n');
    assert.equal(
      redact(prompt),
      [
        'Hi, I am Jane ([EMAIL], [PHONE]).',
        'My card [CARD] was charged twice on 2024-03-05 for $49.99.',
        'Refund to [IBAN] please. SSN [SSN].',
        'Our key is [SECRET], do not share.',
        'Order #1042, 3 items, total 149.97 EUR.',
      ].join('\n'),
    );
  });

  test('counts by kind', () => {
    const counts: RedactionCounts = {};
    redact('a@example.com b@example.org 4111111111111111 sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3 078-05-1120 +14155552671 GB82WEST12345698765432', counts);
    assert.deepEqual(counts, { EMAIL: 2, CARD: 1, SECRET: 1, SSN: 1, PHONE: 1, IBAN: 1 });
  });

  test('idempotent: redacting redacted text changes nothing', () => {
    const once = redact('jane@example.com 4111111111111111 password: hunter22 Bearer abc123def456');
    assert.equal(redact(once), once);
    for (const placeholder of Object.values(PLACEHOLDERS)) assertKept(`${placeholder} ${placeholder}`);
  });

  test('text without anything to redact comes back unchanged, unicode included', () => {
    assertKept('');
    assertKept('Explain the difference between TCP and UDP in 3 sentences.');
    assertKept('日本語のテキスト 🚀 émojis and ünïcödé, 東京 03-1234');
  });
});

describe('redactValue', () => {
  test('walks arrays and objects, keys included, without changing the input', () => {
    const input = {
      model: 'gpt-4o',
      max_tokens: 1000,
      messages: [
        { role: 'user', content: 'mail jane@example.com' },
        { role: 'user', content: [{ type: 'text', text: 'card 4111111111111111' }] },
      ],
      metadata: { 'jane@example.com': 'x', 'bob@example.com': 'y', card_number: 4111111111111111 },
      temperature: 0.7,
      stream: true,
      stop: null,
    };
    const copy = structuredClone(input);
    assert.deepEqual(redactValue(input), {
      model: 'gpt-4o',
      max_tokens: 1000,
      messages: [
        { role: 'user', content: 'mail [EMAIL]' },
        { role: 'user', content: [{ type: 'text', text: 'card [CARD]' }] },
      ],
      metadata: { '[EMAIL]': 'x', '[EMAIL] #2': 'y', card_number: '[CARD]' },
      temperature: 0.7,
      stream: true,
      stop: null,
    });
    assert.deepEqual(input, copy);
  });

  test('ordinary numbers stay numbers', () => {
    assert.deepEqual(redactValue([0, 1, 2024, 1e12, 1700000000000, 3.5, -4111111111111111, Number.MAX_SAFE_INTEGER]), [0, 1, 2024, 1e12, 1700000000000, 3.5, '-[CARD]', Number.MAX_SAFE_INTEGER]);
  });
});

describe('redact: linear time on hostile input', () => {
  const cases: Array<[string, string]> = [
    ['digits', '1234567890'.repeat(50_000)],
    ['spaced digits', '1 2 3 4 5 6 7 8 9 0 '.repeat(25_000)],
    ['dashed digits', '12-34-56-78-90-'.repeat(30_000)],
    ['plus digits', '+1 2 3 4 5 6 7 8 9 '.repeat(25_000)],
    ['plus run', '+12345678901234567890123456789012345678901234567890 '.repeat(10_000)],
    ['base64', 'QWxhZGRpbjpvcGVuIHNlc2FtZQ'.repeat(20_000)],
    ['at signs', 'a@'.repeat(200_000)],
    ['local parts', `${'a.'.repeat(200_000)}@`],
    ['domains', `x@${'a-'.repeat(200_000)}`],
    ['eyJ', 'eyJabc.'.repeat(60_000)],
    ['sk-', 'sk-'.repeat(100_000)],
    ['keys', 'password=password=password:'.repeat(20_000)],
    ['BEGIN', '-----BEGIN PRIVATE KEY-----'.repeat(10_000)],
    ['IBAN-ish', 'AB12 CDEF GHIJ KLMN OPQR '.repeat(20_000)],
    ['schemes', 'a://b:c'.repeat(60_000)],
    ['parens', '+1 (2)(3)(4)(5)(6)(7)(8)(9)'.repeat(15_000)],
    ['bearer', 'Bearer Bearer a1 '.repeat(30_000)],
  ];
  for (const [name, text] of cases) {
    test(`${name} (${(text.length / 1000).toFixed(0)}k chars)`, () => {
      const started = performance.now();
      redact(text);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 1500, `took ${elapsed.toFixed(0)} ms`);
    });
  }
});
