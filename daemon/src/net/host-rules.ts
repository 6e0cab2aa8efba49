import { canonicalHost, hostText, type CanonicalHost } from './address.js';

/**
 * One allowlist entry of a bundle manifest's netFetch list. `host` is an exact host name, `*.domain`
 * (any subdomain of domain, not the domain itself) or an IP literal in any notation (the only way a
 * manifest names a private, loopback or link-local address). `scheme` defaults to https; `port`
 * defaults to the scheme's port.
 */
export interface HostRule {
  host: string;
  scheme?: 'https' | 'http';
  port?: number;
}

/** The port a URL of this scheme goes to when it names none. */
export function defaultPort(scheme: string): number {
  return scheme === 'http' ? 80 : 443;
}

/** Whether a host pattern (exact host, IP literal or `*.domain`) covers a canonical host. */
export function hostMatches(pattern: string, host: CanonicalHost): boolean {
  if (pattern.startsWith('*.')) {
    const domain = canonicalHost(pattern.slice(2));
    return host.kind === 'name' && domain?.kind === 'name' && host.name.endsWith(`.${domain.name}`);
  }
  const p = canonicalHost(pattern);
  return p !== null && p.kind === host.kind && hostText(p) === hostText(host);
}

/** The rule that allows a target (scheme, port and canonical host all match), or null. */
export function matchRule(
  target: { scheme: string; host: CanonicalHost; port: number },
  rules: readonly HostRule[],
): HostRule | null {
  for (const r of rules) {
    const scheme = r.scheme ?? 'https';
    if (scheme !== target.scheme || (r.port ?? defaultPort(scheme)) !== target.port) continue;
    if (hostMatches(r.host, target.host)) return r;
  }
  return null;
}

/** Whether a rule names exactly this address (its canonical identity), not a name or a wildcard. */
export function ruleNamesAddress(rule: HostRule, canonical: string): boolean {
  const p = canonicalHost(rule.host);
  return p?.kind === 'address' && p.address.canonical === canonical;
}
