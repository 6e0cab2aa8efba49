import type { CanonicalAddress, CanonicalHost } from './address.js';

/** A request from sandboxed code (already decoded; every field is untrusted). */
export interface NetFetchRequest {
  url: string;
  method: string;
  headers: [string, string][];
  body: Uint8Array | null;
}

/** The final response after redirects. */
export interface NetFetchResponse {
  url: string;
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

/** Where a URL goes, before DNS: scheme, canonical host and port. */
export interface FetchTarget {
  url: URL;
  scheme: 'http' | 'https';
  host: CanonicalHost;
  /** Canonical host text (a name, or an address's identity). */
  hostText: string;
  port: number;
}

/** A target that passed every check, with the address to connect to (no second resolution). */
export interface CheckedTarget extends FetchTarget {
  /** Every address the host resolved to; all passed. */
  addresses: CanonicalAddress[];
  /** The one a connection goes to. */
  address: CanonicalAddress;
}

/**
 * One question to the person's policy. Asked first for the host (before DNS, so a refused name is
 * never resolved), then once per resolved address (`address` set): a deny rule naming that address
 * refuses it, and a non-public address needs an allow rule that names it exactly (`exact`) for this port.
 */
export interface FetchQuestion {
  scheme: 'http' | 'https';
  /** Canonical host text, or the address's identity on the per-address question. */
  host: string;
  port: number;
  url: string;
  address?: CanonicalAddress;
}

/** The policy's answer: only `allow` lets a request through; `exact` = the allow rule names this host and port exactly. */
export interface FetchVerdict {
  action: 'allow' | 'ask' | 'deny';
  rule: string;
  exact?: boolean;
}

/** The person's policy as netFetch asks it (one per tool and session). */
export type FetchAuthorizer = (q: FetchQuestion) => Promise<FetchVerdict>;
