import { isIP } from 'node:net';

/**
 * Which IP addresses an attachment download may connect to when its host is neither Chatwoot
 * nor an allowed host: public unicast only. Pure functions over address strings; the fetcher
 * applies them to URL literals and, at connect time, to whatever DNS answered.
 */

/** [first octets..., prefix length] of IPv4 ranges that are not public (RFC 6890 and friends). */
const V4_NOT_PUBLIC: readonly (readonly [number[], number])[] = [
  [[0], 8], // "this network"; 0.0.0.0 reaches the local host on Linux
  [[10], 8],
  [[100, 64], 10], // CGNAT
  [[127], 8],
  [[169, 254], 16], // link-local, cloud metadata 169.254.169.254
  [[172, 16], 12],
  [[192, 0, 0], 24],
  [[192, 0, 2], 24],
  [[192, 88, 99], 24],
  [[192, 168], 16],
  [[198, 18], 15],
  [[198, 51, 100], 24],
  [[203, 0, 113], 24],
  [[224], 4], // multicast
  [[240], 4], // reserved, broadcast
];

function inPrefix(bytes: readonly number[], prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i * 8 < bits; i += 1) {
    const take = Math.min(8, bits - i * 8);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((prefix[i] ?? 0) & mask)) return false;
  }
  return true;
}

function parseV4(ip: string): number[] {
  return ip.split('.').map(Number);
}

/** 16 bytes of a valid IPv6 address (with `::` and a dotted IPv4 tail handled). */
function parseV6(ip: string): number[] {
  const zoneless = ip.split('%')[0] ?? ip;
  const [head = '', tail] = zoneless.split('::') as [string, string | undefined];
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const [a = 0, b = 0, c = 0, d = 0] = parseV4(g);
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const words = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

function isPublicV4(bytes: readonly number[]): boolean {
  return !V4_NOT_PUBLIC.some(([prefix, bits]) => inPrefix(bytes, prefix, bits));
}

function isPublicV6(bytes: readonly number[]): boolean {
  // IPv4 carried inside IPv6 reaches that IPv4 address: judge the embedded one.
  const zeros = (n: number) => bytes.slice(0, n).every((b) => b === 0);
  if (zeros(10) && bytes[10] === 0xff && bytes[11] === 0xff) return isPublicV4(bytes.slice(12)); // ::ffff:a.b.c.d
  if (zeros(12)) return false; // ::, ::1, deprecated ::a.b.c.d
  if (inPrefix(bytes, [0x00, 0x64, 0xff, 0x9b], 96)) return isPublicV4(bytes.slice(12)); // NAT64 64:ff9b::/96
  if (inPrefix(bytes, [0x20, 0x02], 16)) return isPublicV4(bytes.slice(2, 6)); // 6to4 2002::/16
  // Only 2000::/3 is global unicast; inside it, a few special blocks.
  if (!inPrefix(bytes, [0x20], 3)) return false; // fc00::/7, fe80::/10, ff00::/8, 64:ff9b:1::/48, ...
  if (inPrefix(bytes, [0x20, 0x01, 0x00], 23)) return false; // IETF protocol assignments, Teredo
  if (inPrefix(bytes, [0x20, 0x01, 0x0d, 0xb8], 32)) return false; // documentation
  if (inPrefix(bytes, [0x3f, 0xff], 20)) return false; // documentation
  return true;
}

/** True only for a valid IPv4/IPv6 address that is public unicast. Anything else is false. */
export function isPublicAddress(ip: string): boolean {
  const unbracketed = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  switch (isIP(unbracketed)) {
    case 4:
      return isPublicV4(parseV4(unbracketed));
    case 6:
      return isPublicV6(parseV6(unbracketed));
    default:
      return false;
  }
}

/** An IP literal as a URL shows it (`[::1]` in brackets), or undefined for a name. */
export function ipLiteral(hostname: string): string | undefined {
  const unbracketed = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(unbracketed) === 0 ? undefined : unbracketed;
}
