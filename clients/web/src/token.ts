/** Where the page keeps the token between reloads: this tab's sessionStorage, never localStorage or a cookie. */
export const TOKEN_KEY = 'shadowbox.token';

/** What the page learns from its fragment: `#token=…&workspace=…&session=…` (all optional). */
export interface FragmentParams {
  token: string | null;
  workspace: string | null;
  session: string | null;
}

/** Parses the fragment; never throws. */
export function parseFragment(hash: string): FragmentParams {
  const q = new URLSearchParams(hash.replace(/^#/, ''));
  return { token: q.get('token') || null, workspace: q.get('workspace') || null, session: q.get('session') || null };
}

/** The fragment the page shows: the session it is on, never the token. */
export function fragmentFor(session: string | null): string {
  return session ? `#session=${encodeURIComponent(session)}` : '';
}

/**
 * Takes the token out of the address bar (so it does not stay in history, bookmarks or screenshots)
 * and keeps it in this tab's sessionStorage so a reload still connects. Returns the token and the
 * other fragment values.
 */
export function takeToken(loc: Location, hist: History, storage: Storage): FragmentParams {
  const frag = parseFragment(loc.hash);
  if (frag.token) storage.setItem(TOKEN_KEY, frag.token);
  if (frag.token || frag.workspace)
    hist.replaceState(null, '', `${loc.pathname}${loc.search}${fragmentFor(frag.session)}`);
  return { ...frag, token: frag.token ?? storage.getItem(TOKEN_KEY) };
}
