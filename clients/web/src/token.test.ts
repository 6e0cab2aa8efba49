import { describe, expect, it } from 'vitest';
import { fragmentFor, parseFragment, takeToken, TOKEN_KEY } from './token.js';

class MemoryStorage {
  private m = new Map<string, string>();
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
}

describe('token in the fragment', () => {
  it('parses token, workspace and session', () => {
    expect(parseFragment('#token=a%2Bb&workspace=%2Fhome%2Fme&session=s1')).toEqual({
      token: 'a+b',
      workspace: '/home/me',
      session: 's1',
    });
    expect(parseFragment('')).toEqual({ token: null, workspace: null, session: null });
  });

  it('takes the token out of the address bar and keeps it in session storage', () => {
    const storage = new MemoryStorage();
    const replaced: string[] = [];
    const loc = { hash: '#token=T0K&workspace=%2Fw', pathname: '/', search: '' } as Location;
    const hist = { replaceState: (_s: unknown, _t: string, url: string) => replaced.push(url) } as unknown as History;
    expect(takeToken(loc, hist, storage as unknown as Storage)).toEqual({
      token: 'T0K',
      workspace: '/w',
      session: null,
    });
    expect(replaced).toEqual(['/']);
    expect(storage.getItem(TOKEN_KEY)).toBe('T0K');
    // A reload without the fragment still finds it; the URL is left alone.
    const again = takeToken(
      { hash: '#session=s1', pathname: '/', search: '' } as Location,
      hist,
      storage as unknown as Storage,
    );
    expect(again).toEqual({ token: 'T0K', workspace: null, session: 's1' });
    expect(replaced).toHaveLength(1);
    expect(fragmentFor('s1')).toBe('#session=s1');
  });
});
