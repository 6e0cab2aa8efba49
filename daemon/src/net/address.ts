import ipaddr from 'ipaddr.js';

/**
 * One IP address as the fetch checks see it. Every spelling of an address (`127.1`, `0x7f000001`,
 * `[::ffff:127.0.0.1]`, `[0:0:0:0:0:ffff:7f00:1]`) has the same `canonical` text, which is what policy
 * rules are matched against.
 */
export interface CanonicalAddress {
  /** What a connection goes to: compact text (RFC 5952 for IPv6); an IPv4-mapped IPv6 address is its IPv4. */
  address: string;
  family: 4 | 6;
  /** The identity rules match: the embedded IPv4 of a NAT64 address, otherwise `address`. */
  canonical: string;
  /** ipaddr.js range of the identity, e.g. `unicast`, `loopback`, `private`, `linkLocal`, `6to4`. */
  range: string;
  /** IPv4 addresses carried inside an IPv6 transition form (NAT64, 6to4, Teredo, IPv4-compatible, SIIT). */
  embedded: string[];
  /** Global unicast: reachable without a rule that names it. */
  global: boolean;
  /** Never a destination (unspecified, multicast, broadcast): refused even when a rule names it. */
  never: boolean;
}

const NEVER = new Set(['unspecified', 'multicast', 'broadcast']);
const NAT64 = ipaddr.IPv6.parse('64:ff9b::');
const GLOBAL6 = ipaddr.IPv6.parse('2000::');
const COMPAT = ipaddr.IPv6.parse('::');

const v4 = (hi: number, lo: number): ipaddr.IPv4 =>
  new ipaddr.IPv4([(hi >> 8) & 255, hi & 255, (lo >> 8) & 255, lo & 255]);

function fromV4(a: ipaddr.IPv4, nat64?: ipaddr.IPv6): CanonicalAddress {
  const range = a.range();
  const text = a.toString();
  return {
    address: nat64 ? nat64.toRFC5952String() : text,
    family: nat64 ? 6 : 4,
    canonical: text,
    range,
    embedded: nat64 ? [text] : [],
    global: range === 'unicast',
    // A NAT64 gateway translating to a non-public IPv4 is never a destination: a rule naming the IPv4 names
    // that host, not a path through a translator to it.
    never: NEVER.has(range) || (nat64 !== undefined && range !== 'unicast'),
  };
}

/**
 * Classifies a parsed address. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is its IPv4 (the kernel connects
 * there); a NAT64 address (64:ff9b::/96) is matched as its IPv4 but connected as IPv6, and refused
 * outright when that IPv4 is not public; 6to4, Teredo,
 * IPv4-compatible and SIIT forms are never global (their embedded IPv4 is kept for deny rules).
 * IPv6 is global only inside 2000::/3 and outside every special range.
 */
function classify(addr: ipaddr.IPv4 | ipaddr.IPv6): CanonicalAddress {
  if (addr.kind() === 'ipv4') return fromV4(addr as ipaddr.IPv4);
  const a = addr as ipaddr.IPv6;
  if (a.isIPv4MappedAddress()) return fromV4(a.toIPv4Address());
  if (a.match(NAT64, 96)) return fromV4(v4(a.parts[6] ?? 0, a.parts[7] ?? 0), a);
  const p = a.parts;
  const range = a.range();
  const embedded: string[] = [];
  if (range === '6to4') embedded.push(v4(p[1] ?? 0, p[2] ?? 0).toString());
  else if (range === 'teredo')
    embedded.push(v4(p[2] ?? 0, p[3] ?? 0).toString(), v4(~(p[6] ?? 0), ~(p[7] ?? 0)).toString());
  else if (range === 'rfc6145' || (a.match(COMPAT, 96) && range === 'unicast'))
    embedded.push(v4(p[6] ?? 0, p[7] ?? 0).toString());
  const text = a.toRFC5952String();
  return {
    address: text,
    family: 6,
    canonical: text,
    range: embedded.length && range === 'unicast' ? 'ipv4Compatible' : range,
    embedded,
    global: range === 'unicast' && embedded.length === 0 && a.match(GLOBAL6, 3),
    never: NEVER.has(range),
  };
}

/** An IP literal (any notation ipaddr.js accepts, brackets allowed) as a canonical address, or null. */
export function parseAddress(text: string): CanonicalAddress | null {
  const t = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (!ipaddr.isValid(t)) return null;
  return classify(ipaddr.parse(t));
}

/** A host as rules and checks compare it: a canonical address, or a lower-case IDNA name without a trailing dot. */
export type CanonicalHost = { kind: 'address'; address: CanonicalAddress } | { kind: 'name'; name: string };

/** The text of a canonical host: the address's identity, or the name. */
export function hostText(h: CanonicalHost): string {
  return h.kind === 'address' ? h.address.canonical : h.name;
}

const BAD_HOST_CHARS = /[\s/?#@\\%]/;

/**
 * Parses a host the way an http URL would (so `127.1`, `0x7f000001`, `0177.0.0.1` and `①②⑦.0.0.1` are
 * 127.0.0.1, and names become punycode), then canonicalizes it. Returns null for anything that is not
 * a bare host (a port, a path, credentials, an empty label).
 */
export function canonicalHost(input: string): CanonicalHost | null {
  // Pure in its input, and asked for the same few hosts on every policy question: remembered (bounded).
  const hit = cache.get(input);
  if (hit !== undefined) return hit;
  if (cache.size >= 4096) cache.clear();
  const h = parseHost(input);
  cache.set(input, h);
  return h;
}

const cache = new Map<string, CanonicalHost | null>();

function parseHost(input: string): CanonicalHost | null {
  if (input === '' || BAD_HOST_CHARS.test(input)) return null;
  let host = input;
  if (!host.startsWith('[') && host.includes(':')) {
    if (!ipaddr.IPv6.isValid(host)) return null;
    host = `[${host}]`;
  }
  let hostname: string;
  try {
    const u = new URL(`http://${host}/`);
    if (u.port !== '' || u.pathname !== '/') return null;
    hostname = u.hostname;
  } catch {
    return null;
  }
  const literal = parseAddress(hostname);
  if (literal) return { kind: 'address', address: literal };
  const name = hostname.replace(/\.+$/, '');
  if (name === '' || name.split('.').some((l) => l === '')) return null;
  return { kind: 'name', name };
}
