// IP addresses for the pii.ip detector: IPv4 (each octet 0-255, no leading zeros) and IPv6 (full,
// compressed with "::", or with an embedded IPv4 tail), checked by a parser after a linear regex
// finds candidates. Only addresses that can point at a person or a customer's machine are
// reported: loopback, unspecified, private (RFC 1918, fc00::/7), link-local, carrier-grade NAT,
// multicast, reserved and documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24,
// 2001:db8::/32), netmasks and the well-known public resolvers (8.8.8.8, 1.1.1.1, …) are not.
// Version strings are not addresses: four dotted numbers right after "v", "version", "build",
// "release(d)", "firmware", "kernel", "patch", "update" or a platform name (Windows, Chrome,
// Android, Python, …), or followed by a pre-release or build suffix (1.2.3.4-beta, 1.2.3.4+5),
// or inside a longer dotted run (1.3.6.1.4.1), are skipped; a bare 1.2.3.4 is reported.

import type { Candidate } from './pii-secret-scan.ts';

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`(?<![0-9A-Za-z_.])${OCTET}(?:\\.${OCTET}){3}(?![0-9]|\\.[0-9])`, 'g');
/** Hex groups and colons (at least one digit), optionally ending in a dotted IPv4 tail. */
const IPV6 = new RegExp(
  `(?<![0-9A-Za-z_:.])(?=[0-9A-Fa-f:]*[0-9])[0-9A-Fa-f:]{2,39}(?:(?<=:)${OCTET}(?:\\.${OCTET}){3})?(?![0-9A-Za-z_:]|\\.[0-9A-Za-z])`,
  'g',
);
/** Two colons with hex digits around: every IPv6 address has them ("::" or "1:2:"); most texts do not. */
const IPV6_HINT = /[0-9A-Fa-f]:[0-9A-Fa-f]{0,4}:|::/;
const VERSION_BEFORE =
  /(?:^|[^A-Za-z])(?:v|ver|version|versions|build|release|released|firmware|fw|kernel|patch|update|upgrade|sdk|os|ios|android|windows|macos|chrome|firefox|node|python|java|package)\.?:?\s?$/i;
const VERSION_AFTER = /^(?:-[A-Za-z]|\+[0-9A-Za-z])/;

/** The longest address reported: eight groups with an IPv4 tail (0000:…:ffff:255.255.255.255). */
export const IP_MAX_LENGTH = 45;

const PUBLIC_RESOLVERS = new Set(['8.8.8.8', '8.8.4.4', '1.1.1.1', '1.0.0.1', '9.9.9.9', '149.112.112.112', '208.67.222.222', '208.67.220.220']);

/** Whether a valid dotted IPv4 address can belong to a person: globally routable, not a resolver. */
export function ipv4Personal(address: string): boolean {
  const [a, b, c] = address.split('.').map(Number) as [number, number, number, number];
  if (PUBLIC_RESOLVERS.has(address)) return false;
  if (a === 0 || a === 10 || a === 127 || a >= 224) return false;
  if (a === 100 && b >= 64 && b <= 127) return false;
  if (a === 169 && b === 254) return false;
  if (a === 172 && b >= 16 && b <= 31) return false;
  if (a === 192 && (b === 168 || (b === 0 && (c === 0 || c === 2)))) return false;
  if (a === 198 && (b === 18 || b === 19 || (b === 51 && c === 100))) return false;
  if (a === 203 && b === 0 && c === 113) return false;
  return true;
}

/** The eight 16-bit groups of an IPv6 address (an IPv4 tail as two), or undefined when it is not one. */
export function parseIpv6(text: string): number[] | undefined {
  let head = text;
  let tail: number[] = [];
  const v4 = /(?:^|:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (v4) {
    const octets = v4[1]!.split('.').map(Number);
    if (octets.some((o) => o > 255)) return undefined;
    tail = [(octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!];
    head = text.slice(0, text.length - v4[1]!.length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const left = parse(halves[0]!);
  const right = halves.length === 2 ? parse(halves[1]!) : [];
  if (![...left, ...right].every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return undefined;
  const known = left.length + right.length + tail.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return undefined;
  const zeros = new Array<number>(8 - known).fill(0);
  return [...left.map((g) => parseInt(g, 16)), ...zeros, ...right.map((g) => parseInt(g, 16)), ...tail];
}

/** Whether an IPv6 address can belong to a person: global unicast, not documentation; mapped IPv4 by its IPv4 rules. */
export function ipv6Personal(groups: readonly number[]): boolean {
  const [g0, g1] = groups as [number, number];
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [h, l] = [groups[6]!, groups[7]!];
    return ipv4Personal(`${h >> 8}.${h & 255}.${l >> 8}.${l & 255}`);
  }
  if ((g0 & 0xe000) !== 0x2000) return false; // only 2000::/3 is global unicast
  if (g0 === 0x2001 && g1 === 0x0db8) return false;
  return true;
}

export function findIpAddresses(text: string): Candidate[] {
  const out: Candidate[] = [];
  if (text.includes('.')) {
    IPV4.lastIndex = 0;
    for (let m = IPV4.exec(text); m !== null; m = IPV4.exec(text)) {
      const end = m.index + m[0].length;
      if (VERSION_BEFORE.test(text.slice(Math.max(0, m.index - 12), m.index))) continue;
      if (VERSION_AFTER.test(text.slice(end, end + 2))) continue;
      if (ipv4Personal(m[0])) out.push({ start: m.index, end, reason: 'public IPv4 address' });
    }
  }
  if (IPV6_HINT.test(text)) {
    IPV6.lastIndex = 0;
    for (let m = IPV6.exec(text); m !== null; m = IPV6.exec(text)) {
      const groups = m[0].includes(':') ? parseIpv6(m[0]) : undefined;
      if (groups && ipv6Personal(groups)) out.push({ start: m.index, end: m.index + m[0].length, score: 0.85, reason: 'global IPv6 address' });
    }
  }
  return out;
}
