import ipaddr from 'ipaddr.js';

/**
 * One netFetch allowlist entry. `host` is an exact host name, `*.domain` (any subdomain of
 * domain, not the domain itself), or an IP literal (the only way to reach a private, loopback or
 * link-local address). `scheme` defaults to https; `port` defaults to the scheme's port.
 */
export interface HostRule {
  host: string;
  scheme?: 'https' | 'http';
  port?: number;
}

/** A URL's host in canonical form: lower case, IDNA (punycode), no trailing dot, IPv6 without brackets. */
export function normalizeHost(hostname: string): string {
  let h = hostname.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  while (h.endsWith('.')) h = h.slice(0, -1);
  if (ipaddr.isValid(h)) return ipaddr.parse(h).toNormalizedString();
  try {
    return new URL(`http://${h}/`).hostname.replace(/\.$/, '');
  } catch {
    return h;
  }
}

/** Canonical text of an IP literal, or null when `host` is not one. */
export function ipLiteral(host: string): string | null {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (!ipaddr.isValid(h)) return null;
  // Only accept canonical dotted-quad IPv4 or IPv6 here; URL parsing already turned hex/octal forms into dotted quads.
  if (!h.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(h)) return null;
  return ipaddr.parse(h).toNormalizedString();
}

function defaultPort(scheme: string): number {
  return scheme === 'http' ? 80 : 443;
}

/** The rule that allows `url`, or null. Scheme, port and host must all match. */
export function matchRule(url: URL, rules: readonly HostRule[]): HostRule | null {
  const scheme = url.protocol.replace(/:$/, '');
  const port = url.port === '' ? defaultPort(scheme) : Number(url.port);
  const host = normalizeHost(url.hostname);
  for (const r of rules) {
    const rs = r.scheme ?? 'https';
    if (rs !== scheme || (r.port ?? defaultPort(rs)) !== port) continue;
    if (r.host.startsWith('*.')) {
      const domain = normalizeHost(r.host.slice(2));
      if (ipLiteral(host) === null && host.endsWith(`.${domain}`)) return r;
    } else if (normalizeHost(r.host) === host) return r;
  }
  return null;
}

/**
 * Whether a resolved address may be connected to: public unicast only, unless the matching rule
 * names this exact address (then loopback/private are allowed, e.g. tests on 127.0.0.1).
 */
export function addressAllowed(address: string, rule: HostRule): boolean {
  const addr = ipaddr.parse(address);
  const canonical = addr.toNormalizedString();
  const named = ipLiteral(rule.host);
  if (named !== null && named === canonical) return true;
  return addr.range() === 'unicast';
}
