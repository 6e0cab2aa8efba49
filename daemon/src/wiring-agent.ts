// Wiring of the agent features that join capabilities: the fetch tool's network port (net), instruction
// files read through the shadow view (shadow) and the person's own instruction file (state's config dir).
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ErrorCodes, isShadowboxError, ShadowboxError } from './errors.js';
import { canonicalHost, hostText, type FetchPolicyFor, type NetFetchService } from './net/index.js';
import type { WorkspaceView } from './shadow/index.js';
import type { WebFetchPort } from './tools/index.js';

/** Bytes of an instruction file read at all (a larger one is skipped: it is not instructions). */
const MAX_INSTRUCTION_FILE_BYTES = 1024 * 1024;

/**
 * The fetch tool's GET through the netFetch service: every hop and address is checked by the `net`
 * capability (no second checker). The call's own host was already decided by the tool policy (and a person,
 * in review mode), so its host question is answered allow; resolved addresses and redirect hosts go to the
 * person's policy like sandboxed code's requests. A redirect to another host the policy has not allowed is
 * refused with its location, so the model can fetch it as a new call (which asks).
 */
export function webFetchPort(netFetch: NetFetchService, policy: FetchPolicyFor): WebFetchPort {
  return {
    async get(req) {
      const first = canonicalHost(new URL(req.url).hostname);
      const allowed = first ? hostText(first) : null;
      const asked = policy('fetch', req.sessionId);
      // The URL of a host the policy did not allow (set inside the authorizer).
      const refused: { url: string | null } = { url: null };
      try {
        const res = await netFetch.fetch(
          {
            url: req.url,
            method: 'GET',
            headers: [
              ['accept', 'text/html, text/markdown, text/plain;q=0.9, application/json;q=0.8, */*;q=0.1'],
              ['user-agent', 'shadowbox-fetch'],
            ],
            body: null,
          },
          {
            authorize: async (q) => {
              if (!q.address && q.host === allowed) return { action: 'allow', rule: 'tool:fetch (this call)' };
              const v = await asked(q);
              if (v.action !== 'allow' && !q.address) refused.url = q.url;
              return v;
            },
            sessionId: req.sessionId,
            workspace: req.workspace,
            maxBytes: req.maxBytes,
            signal: req.signal,
          },
        );
        const type = res.headers.find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
        return { url: res.url, status: res.status, contentType: type, body: res.body };
      } catch (e) {
        if (refused.url && isShadowboxError(e) && e.reason === 'policy_denied')
          throw new ShadowboxError(
            ErrorCodes.ToolFailed,
            'fetch_redirected',
            `${req.url} redirects to ${refused.url}, a host the policy has not allowed; fetch that URL to ask for it`,
            { location: refused.url },
            { cause: e },
          );
        throw e;
      }
    },
  };
}

/** Reads a workspace file through the session's shadow view as text; null when absent, not a file or too big. */
export function workspaceReader(view: () => Promise<WorkspaceView>): (rel: string) => Promise<string | null> {
  return async (rel) => {
    const v = await view();
    const st = await v.stat(rel).catch(() => null);
    if (!st || st.type !== 'file' || st.size > MAX_INSTRUCTION_FILE_BYTES) return null;
    return new TextDecoder().decode(await v.readFile(rel));
  };
}

/**
 * The person's own instruction file, found like config.json: `<state dir>/AGENTS.md`, else
 * `$XDG_CONFIG_HOME/shadowbox/AGENTS.md` (default `~/.config/shadowbox`); the first that exists.
 */
export function userInstructionsFile(
  env: NodeJS.ProcessEnv,
  stateDir: string,
): () => Promise<{ path: string; text: string } | null> {
  const xdg = path.join(env.XDG_CONFIG_HOME || path.join(env.HOME ?? os.homedir(), '.config'), 'shadowbox');
  const candidates = [path.join(stateDir, 'AGENTS.md'), path.join(xdg, 'AGENTS.md')];
  return async () => {
    for (const file of candidates) {
      const st = await stat(file).catch(() => null);
      if (!st) continue;
      if (!st.isFile() || st.size > MAX_INSTRUCTION_FILE_BYTES) return null;
      return { path: file, text: await readFile(file, 'utf8') };
    }
    return null;
  };
}
