// Network access for sandboxed code: every host parsed into a canonical address, everything outside
// global unicast refused unless a rule names it, connections pinned to the checked address, redirects
// re-checked; the guest wire codec; the policy adapters. Other capabilities import only this file.
export { canonicalHost, hostText, parseAddress, type CanonicalAddress, type CanonicalHost } from './address.js';
export { hostMatches, matchRule, defaultPort, type HostRule } from './host-rules.js';
export { checkUrl, parseTarget, systemResolve, type CheckOptions, type Resolver } from './check.js';
export { connectChecked, pinnedLookup, requestChecked } from './connect.js';
export { createNetFetch, type NetFetchContext, type NetFetchOptions, type NetFetchService } from './fetch.js';
export {
  createFetchBridge,
  decodeFetchRequest,
  encodeFetchError,
  encodeFetchResponse,
  type FetchBridge,
  type GuestFetchHandler,
} from './codec.js';
export {
  createFetchPolicy,
  createGuestFetch,
  type FetchPolicyDecide,
  type FetchPolicyFor,
  type FetchSessionLookup,
  type GuestFetch,
} from './guest.js';
export type {
  CheckedTarget,
  FetchAuthorizer,
  FetchQuestion,
  FetchTarget,
  FetchVerdict,
  NetFetchRequest,
  NetFetchResponse,
} from './types.js';
