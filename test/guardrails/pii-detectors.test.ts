// The PII detectors: each one's positives with their exact spans, the look-alikes that must not
// match, one detector per span (an IBAN's digits are not also a phone number), the IP address
// rules, findings' reasons and lengths, and that 1 MB hostile inputs complete.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Finding } from '../../src/guardrails/detector.ts';
import { ipv4Personal, parseIpv6 } from '../../src/guardrails/detectors/ip-address.ts';
import { piiSecretDetectors } from '../../src/guardrails/detectors/pii-secret-detectors.ts';

const byName = new Map(piiSecretDetectors.map((d) => [d.name, d]));

/** Every finding of every PII/secret detector. */
function scanAll(text: string): Finding[] {
  return piiSecretDetectors.flatMap((d) => d.scan(text, 'user'));
}

/** The texts `name` found in `text`; no other detector may report anything. */
function found(name: string, text: string): string[] {
  const findings = scanAll(text);
  const others = findings.filter((f) => f.detector !== name);
  assert.deepEqual(others.map((f) => `${f.detector}: ${text.slice(f.start, f.end)}`), [], `only ${name} in ${JSON.stringify(text)}`);
  return findings.map((f) => text.slice(f.start, f.end));
}

function assertFinds(name: string, value: string): void {
  assert.deepEqual(found(name, `before ${value} after`), [value], `${name}: ${JSON.stringify(value)} in a sentence`);
  assert.deepEqual(found(name, value), [value], `${name}: ${JSON.stringify(value)} alone`);
  assert.deepEqual(found(name, `(${value}).`), [value], `${name}: ${JSON.stringify(value)} in parentheses`);
}

function assertClean(text: string): void {
  assert.deepEqual(scanAll(text).map((f) => `${f.detector}: ${text.slice(f.start, f.end)}`), [], `expected nothing in ${JSON.stringify(text)}`);
}

describe('pii.email', () => {
  test('addresses, with tags, subdomains and in headers or JSON', () => {
    for (const email of ['john.doe@example.com', 'a+tag@sub.example.co.uk', 'x_y-z@mail-server.io', 'UPPER.CASE@EXAMPLE.ORG']) assertFinds('pii.email', email);
    assert.deepEqual(found('pii.email', 'From: "Ann" <ann@example.org>, bob@example.net'), ['ann@example.org', 'bob@example.net']);
    assert.deepEqual(found('pii.email', '{"email":"lena@example.de"}'), ['lena@example.de']);
  });

  test('not addresses: mentions, decorators, packages, retina assets, SSH remotes', () => {
    assertClean('@mention, user@localhost, foo@bar, @dataclass @app.route("/x"), npm i @scope/pkg@1.2.3');
    assertClean('logo@2x.png and icon@1.5x.webp');
    assertClean('git clone git@github.com:acme/repo.git');
  });
});

describe('pii.phone', () => {
  test('international, North American and national numbers', () => {
    for (const phone of ['+14155552671', '+1 (415) 555-2671', '+44 20 7946 0958', '+44 (0)20 7946 0958', '+33 1 23 45 67 89', '+49 30 1234567', '+81 3-1234-5678', '+55 11 98765-4321']) {
      assertFinds('pii.phone', phone);
    }
    for (const phone of ['(415) 555-2671', '415-555-2671', '415.555.2671', '1-800-555-0199', '020 7946 0958', '07700 900123', '01 23 45 67 89', '030/1234567']) {
      assertFinds('pii.phone', phone);
    }
  });

  test('numbers that are not phones: NANP-invalid, labelled as ids, inside longer runs, short', () => {
    assertClean('555-123-4567 and 123-456-7890 (exchange or area starting with 1)');
    assertClean('Order #555-867-5309 shipped; invoice no. 020 7946 0958');
    assertClean('Tracking: 1Z 999 AA1 01 2345 6784 and 9400 1000 0000 0000 0000 00');
    assertClean('call 911, ext. 4567, score +5, 1,000,000 units, 2024-01-15, 12:30:45');
  });
});

describe('pii.card', () => {
  test('Luhn-valid card numbers as printed', () => {
    for (const card of ['4111111111111111', '4111 1111 1111 1111', '4111-1111-1111-1111', '378282246310005', '3782 822463 10005', '5555555555554444', '2223003122003222', '6011111111111117', '30569309025904']) {
      assertFinds('pii.card', card);
    }
  });

  test('the reason names the network and never the number', () => {
    const [finding] = byName.get('pii.card')!.scan('card 4111 1111 1111 1111', 'user');
    assert.match(finding!.reason, /Visa/);
    assert.doesNotMatch(finding!.reason, /4111/);
  });

  test('Luhn failures, ids, barcodes, ISBNs, epoch milliseconds stay', () => {
    assertClean('4111 1111 1111 1112, 1234 5678 9012 3456, 411111111111');
    assertClean('EAN 4006381333931, ISBN 978-3-16-148410-0, 1712345678901 ms');
    assertClean('order no. 4111111111111111');
  });
});

describe('pii.iban', () => {
  test('valid IBANs of several countries, compact and grouped', () => {
    for (const iban of ['DE89370400440532013000', 'DE89 3704 0044 0532 0130 00', 'GB82 WEST 1234 5698 7654 32', 'FR14 2004 1010 0505 0001 3M02 606', 'NL91ABNA0417164300', 'CH9300762011623852957', 'NO9386011117947']) {
      assertFinds('pii.iban', iban);
    }
  });

  test('an IBAN is not also a phone number or a card', () => {
    assert.deepEqual(found('pii.iban', 'to DE89 3704 0044 0532 0130 00 please'), ['DE89 3704 0044 0532 0130 00']);
  });

  test('bad checksums and part numbers stay', () => {
    assertClean('DE89370400440532013001, GB82 WEST 1234 5698 7654 33, Part no. XY12ABCDEFGHIJKLMNOP');
  });
});

describe('pii.ssn', () => {
  test('valid SSNs, scored higher when labelled', () => {
    assertFinds('pii.ssn', '078-05-1120');
    assertFinds('pii.ssn', '219 09 9999');
    const [plain] = byName.get('pii.ssn')!.scan('id 078-05-1120', 'user');
    const [labelled] = byName.get('pii.ssn')!.scan('SSN: 078-05-1120', 'user');
    assert.ok(labelled!.score > plain!.score);
  });

  test('000, 666 and 9xx areas, 00 groups, 0000 serials stay', () => {
    assertClean('000-12-3456 666-12-3456 912-34-5678 123-00-4567 123-45-0000 123-45 6789');
  });
});

describe('pii.ip', () => {
  test('public IPv4 and global IPv6 addresses', () => {
    for (const ip of ['81.2.69.142', '73.162.24.201', '2a02:1810:4d02:8e00:f1c2:33ab:9e1f:7c10', '2a01:4f8:c17:2a2c::1', '::ffff:86.14.203.77']) assertFinds('pii.ip', ip);
    assert.deepEqual(found('pii.ip', 'from 81.2.69.142:8080, [2a01:4f8::1]:443'), ['81.2.69.142', '2a01:4f8::1']);
  });

  test('private, loopback, documentation, resolver, netmask addresses stay', () => {
    assertClean('127.0.0.1 10.0.0.1 172.16.5.4 192.168.1.254 169.254.1.1 100.64.0.1 0.0.0.0 255.255.255.0 224.0.0.251');
    assertClean('192.0.2.55 198.51.100.7 203.0.113.9 8.8.8.8 1.1.1.1 ::1 fe80::1 fd00::1 2001:db8::1');
  });

  test('versions, times, MAC addresses and C++ scopes stay', () => {
    assertClean('v1.2.3.4, version 5.15.0.91, Chrome/120.0.6099.109, 1.2.3.4-beta, 1.2.3.4+build, OID 1.3.6.1.4.1');
    assertClean('at 12:30:45, MAC 00:1A:2B:3C:4D:5E, std::vector, Face::Add');
  });

  test('the address rules', () => {
    assert.equal(ipv4Personal('81.2.69.142'), true);
    assert.equal(ipv4Personal('172.31.255.255'), false);
    assert.equal(ipv4Personal('172.32.0.1'), true);
    assert.deepEqual(parseIpv6('2001:db8::1'), [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
    assert.deepEqual(parseIpv6('::ffff:1.2.3.4'), [0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    assert.equal(parseIpv6('1:2:3'), undefined);
    assert.equal(parseIpv6('1::2::3'), undefined);
    assert.equal(parseIpv6('12345::1'), undefined);
  });
});

describe('PII findings', () => {
  const prompt = 'Jane (jane.doe@acme.example, +1 415-555-0132), card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, SSN 078-05-1120, IP 81.2.69.142';

  test('each value once, by its own detector, with its type; reasons never quote the text', () => {
    const findings = scanAll(prompt);
    assert.deepEqual(
      findings.map((f) => [f.detector, f.type, prompt.slice(f.start, f.end)]).sort(),
      [
        ['pii.card', 'CARD', '4111 1111 1111 1111'],
        ['pii.email', 'EMAIL', 'jane.doe@acme.example'],
        ['pii.iban', 'IBAN', 'DE89 3704 0044 0532 0130 00'],
        ['pii.ip', 'IP', '81.2.69.142'],
        ['pii.phone', 'PHONE', '+1 415-555-0132'],
        ['pii.ssn', 'SSN', '078-05-1120'],
      ],
    );
    for (const f of findings) {
      assert.equal(f.kind, 'pii');
      assert.ok(f.score > 0 && f.score <= 1);
      assert.ok(!f.reason.includes(prompt.slice(f.start, f.end)), f.reason);
      assert.ok(f.end - f.start <= byName.get(f.detector)!.maxMatchLength, `${f.detector} maxMatchLength`);
    }
  });

  test('a detector scanning another text than the last gets that text’s findings', () => {
    const email = byName.get('pii.email')!;
    assert.equal(email.scan('a@example.com', 'user').length, 1);
    assert.equal(email.scan('nothing here', 'user').length, 0);
    assert.equal(email.scan('a@example.com', 'user').length, 1);
  });

  test('findings arrays are the caller’s to change', () => {
    const email = byName.get('pii.email')!;
    email.scan('a@example.com', 'user').length = 0;
    assert.equal(email.scan('a@example.com', 'user').length, 1);
  });
});

describe('PII detectors on 1 MB hostile inputs', () => {
  const fill = (unit: string) => unit.repeat(Math.ceil(1_000_000 / unit.length)).slice(0, 1_000_000);
  const inputs: Record<string, string> = {
    digits: fill('1234567890'),
    'spaced digits': fill('1 2 3 4 5 6 7 8 9 0 '),
    'dashed digits': fill('12-34-56-78-90-'),
    'plus digits': fill('+1 2 3 4 5 6 7 8 9 '),
    'at signs': fill('a@'),
    'local parts': `${fill('a.')}@`,
    'dotted numbers': fill('1.2.3.4.'),
    colons: fill('1:'),
    'double colons': fill('::'),
    'IBAN-ish': fill('AB12 CDEF GHIJ KLMN OPQR '),
    'many findings': fill('a@b.cc 4111 1111 1111 1111 81.2.69.142 078-05-1120 +44 20 7946 0958 '),
  };
  for (const [name, text] of Object.entries(inputs)) {
    test(name, () => {
      for (const d of piiSecretDetectors) assert.ok(Array.isArray(d.scan(text, 'user')));
    });
  }
});
