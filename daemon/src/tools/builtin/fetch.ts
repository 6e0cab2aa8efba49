import type { NodeHtmlMarkdown } from 'node-html-markdown';
import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../../errors.js';
import { defineTool } from '../define.js';

/** What the fetch tool needs of the network: one checked GET (the daemon's `net` capability, in the wiring). */
export interface WebFetchPort {
  get(req: {
    url: string;
    sessionId: string;
    workspace: string;
    maxBytes: number;
    signal: AbortSignal;
  }): Promise<{ url: string; status: number; contentType: string; body: Uint8Array }>;
}

/** Bytes of a response the tool reads at most (a larger one is refused by the net capability, never cut). */
export const FETCH_MAX_BYTES = 2 * 1024 * 1024;
/** Characters of readable text the model gets by default (a call may ask for up to FETCH_MAX_CHARS). */
export const FETCH_DEFAULT_CHARS = 40_000;
export const FETCH_MAX_CHARS = 100_000;

export const FetchInput = lazySchema(() =>
  z
    .object({
      url: z
        .url({ protocol: /^https?$/ })
        .max(2048)
        .describe('http(s) URL of a documentation page or text file'),
      maxChars: z
        .number()
        .int()
        .min(1000)
        .max(FETCH_MAX_CHARS)
        .optional()
        .describe(`characters of text to return (default ${FETCH_DEFAULT_CHARS})`),
    })
    .strict(),
);

const DESCRIPTION = `Fetch a web page (documentation, a README, an API reference) and read it as markdown. HTML is converted to markdown (scripts, styles and page chrome dropped); text, markdown and JSON come back as they are. Only public http(s) addresses the person's policy allows; in review mode the person is asked for each new host. A redirect to another host is not followed: fetch the URL it names.`;

const TEXT = /^(text\/|application\/(json|xml|xhtml\+xml|javascript|x-javascript|ld\+json)|[^;]+\+(json|xml))/i;

// One converter: its options are fixed, and it keeps no state between documents. Loaded on the first page
// (the HTML parser and its tables are ~6 ms of daemon start otherwise).
let converter: NodeHtmlMarkdown | undefined;

/** HTML as markdown, with links to anything but http(s), relative paths and anchors reduced to their text. */
export async function htmlToMarkdown(html: string): Promise<string> {
  converter ??= new (await import('node-html-markdown')).NodeHtmlMarkdown({
    ignore: ['script', 'style', 'noscript', 'iframe', 'svg', 'nav', 'footer', 'form'],
  });
  return converter
    .translate(html)
    .replace(/!?\[([^\]]*)\]\((?!https?:|\/|#|\.)[^)]*\)/g, '$1')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** `fetch`: a URL as readable text under the same host policy and address checks as sandboxed netFetch. */
export function createFetchTool(port: WebFetchPort) {
  return defineTool({
    name: 'fetch',
    kind: 'fetch',
    description: DESCRIPTION,
    input: FetchInput,
    concurrent: true,
    targets: (i) => {
      const u = new URL(i.url);
      return { hosts: [u.hostname], port: u.port ? Number(u.port) : u.protocol === 'http:' ? 80 : 443 };
    },
    summarize: (i) => i.url,
    handler: async (i, ctx) => {
      const r = await port.get({
        url: i.url,
        sessionId: ctx.sessionId,
        workspace: ctx.workspace,
        maxBytes: FETCH_MAX_BYTES,
        signal: ctx.signal,
      });
      const type = r.contentType.split(';')[0].trim().toLowerCase();
      if (type && !TEXT.test(type))
        throw new ShadowboxError(ErrorCodes.ToolFailed, 'fetch_not_text', `${r.url} is ${type}, not a text document`, {
          contentType: type,
          url: r.url,
        });
      const raw = new TextDecoder('utf-8', { fatal: false }).decode(r.body);
      const html = type === 'text/html' || type === 'application/xhtml+xml' || (!type && /^\s*</.test(raw));
      const text = html ? await htmlToMarkdown(raw) : raw;
      const max = i.maxChars ?? FETCH_DEFAULT_CHARS;
      const cut = text.length > max;
      const head = `${r.url} (HTTP ${r.status}${type ? `, ${type}` : ''}${html ? ', converted to markdown' : ''})`;
      const body = cut
        ? `${text.slice(0, max)}\n\n[cut at ${max} of ${text.length} characters; ask with a larger maxChars (up to ${FETCH_MAX_CHARS}) if you need more]`
        : text;
      return {
        content: `${head}\n\n${body}`,
        isError: r.status >= 400,
        data: {
          url: r.url,
          status: r.status,
          contentType: type,
          bytes: r.body.byteLength,
          chars: text.length,
          truncated: cut,
        },
      };
    },
  });
}
