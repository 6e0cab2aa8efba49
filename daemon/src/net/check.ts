import { ErrorCodes, type ReasonOf, ShadowboxError } from '../errors.js';
import { canonicalHost, hostText, parseAddress, type CanonicalAddress } from './address.js';
import { defaultPort, matchRule, ruleNamesAddress, type HostRule } from './host-rules.js';
import type { CheckedTarget, FetchAuthorizer, FetchTarget } from './types.js';

/** Resolves a host name to addresses (injectable: tests simulate rebinding and private answers). */
export type Resolver = (host: string) => Promise<string[]>;

/** What a URL is checked against: a manifest allowlist, the person's policy, or both (at least one). */
export interface CheckOptions {
  /** A bundle manifest's allowlist: a request must match one rule. */
  rules?: readonly HostRule[];
  /** The person's policy: the host, then every resolved address. */
  authorize?: FetchAuthorizer;
  resolve?: Resolver;
}

/** A netFetch refusal: NetFetchRefused with a stable reason. */
export function refuse(
  reason: ReasonOf<'NetFetchRefused'>,
  message: string,
  details: Record<string, unknown> = {},
): ShadowboxError {
  return new ShadowboxError(ErrorCodes.NetFetchRefused, reason, message, details);
}

/** The system resolver, every answer (a mixed public/private answer is refused as a whole). */
export async function systemResolve(host: string): Promise<string[]> {
  // dns/promises is loaded on the first lookup, not at daemon start.
  const r = await process.getBuiltinModule('node:dns/promises').lookup(host, { all: true, verbatim: true });
  return r.map((a) => a.address);
}

/** Parses a URL into a target: http(s) only, no `user@`, the host canonicalized (every IPv4/IPv6 notation). */
export function parseTarget(raw: string | URL): FetchTarget {
  let url: URL;
  try {
    url = typeof raw === 'string' ? new URL(raw) : raw;
  } catch (e) {
    throw new ShadowboxError(ErrorCodes.NetFetchRefused, 'bad_url', 'netFetch URL is invalid', {}, { cause: e });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw refuse('scheme_not_allowed', `scheme ${url.protocol} is not allowed`);
  if (url.username !== '' || url.password !== '')
    throw refuse('userinfo_refused', 'URLs with user@ credentials are refused');
  const host = canonicalHost(url.hostname);
  if (!host) throw refuse('bad_url', `netFetch URL has an invalid host: ${url.hostname}`);
  const scheme = url.protocol === 'http:' ? 'http' : 'https';
  return {
    url,
    scheme,
    host,
    hostText: hostText(host),
    port: url.port === '' ? defaultPort(scheme) : Number(url.port),
  };
}

async function addressesOf(t: FetchTarget, resolve: Resolver): Promise<CanonicalAddress[]> {
  if (t.host.kind === 'address') return [t.host.address];
  let answers: string[];
  try {
    answers = await resolve(t.host.name);
  } catch (e) {
    throw new ShadowboxError(
      ErrorCodes.NetFetchRefused,
      'dns_failed',
      `could not resolve ${t.hostText}`,
      { host: t.hostText },
      { cause: e },
    );
  }
  if (answers.length === 0) throw refuse('dns_failed', `no addresses for ${t.hostText}`, { host: t.hostText });
  return answers.map((a) => {
    const c = parseAddress(a);
    if (!c)
      throw refuse('dns_failed', `${t.hostText} resolved to something that is not an address`, { host: t.hostText });
    return c;
  });
}

/**
 * Checks one URL (and is run again for every redirect hop): the manifest allowlist, the policy on the
 * host, then DNS, then every address. An address outside global unicast is refused unless the policy
 * (and the manifest, when there is one) names that exact canonical address for this port; unspecified,
 * multicast and broadcast addresses are refused always. Nothing is connected here: the caller connects
 * to `address`, never resolving the name again. Deny by default: with neither rules nor a policy, refused.
 */
export async function checkUrl(raw: string | URL, o: CheckOptions): Promise<CheckedTarget> {
  const t = parseTarget(raw);
  const where = { host: t.hostText, port: t.port };
  if (!o.rules && !o.authorize)
    throw refuse('host_not_allowed', `${t.url.protocol}//${t.url.host} is not allowed: no netFetch grant`, where);
  const rule = o.rules ? matchRule(t, o.rules) : null;
  if (o.rules && !rule)
    throw refuse('host_not_allowed', `${t.url.protocol}//${t.url.host} is not in the netFetch allowlist`, where);
  const q = { scheme: t.scheme, host: t.hostText, port: t.port, url: t.url.href };
  if (o.authorize) {
    const v = await o.authorize(q);
    if (v.action !== 'allow')
      throw refuse(
        'policy_denied',
        `${t.hostText} is not allowed by the policy (${v.rule}); allow it with: shadowbox policy allow --host ${t.hostText}`,
        { ...where, rule: v.rule },
      );
  }
  const addresses = await addressesOf(t, o.resolve ?? systemResolve);
  // Every answer must pass (a mixed answer is a rebinding attempt); the first is connected to.
  for (const a of addresses) {
    const at = { ...where, address: a.canonical };
    let named = rule ? ruleNamesAddress(rule, a.canonical) : true;
    if (o.authorize) {
      const v = await o.authorize({ ...q, host: a.canonical, address: a });
      if (v.action === 'deny')
        throw refuse('policy_denied', `${a.canonical} is denied by the policy (${v.rule})`, { ...at, rule: v.rule });
      named &&= v.action === 'allow' && v.exact === true;
    }
    if (a.never) throw refuse('address_not_allowed', `${a.address} is never a destination (${a.range})`, at);
    if (!a.global && !named)
      throw refuse(
        'address_not_allowed',
        `${t.hostText} is ${a.canonical} (${a.range}), not a public address; only a rule naming ${a.canonical} with port ${t.port} allows it`,
        at,
      );
  }
  return { ...t, addresses, address: addresses[0] };
}
