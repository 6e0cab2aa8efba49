/** Default cap on what the model sees of one tool result (bytes of UTF-8). */
export const DEFAULT_MAX_CONTENT_BYTES = 32 * 1024;

/**
 * Keeps the head and tail of long tool content for the model, with a marker saying how much was
 * cut, so a huge result cannot flood the context window; cuts fall on line ends when one is near.
 */
export function capContent(content: string, maxBytes: number): { content: string; truncated: boolean } {
  const bytes = Buffer.from(content, 'utf8');
  if (bytes.byteLength <= maxBytes) return { content, truncated: false };
  const budget = Math.max(0, maxBytes - 120);
  const headEnd = snapBack(bytes, Math.floor(budget * 0.6));
  let tailStart = snapForward(bytes, bytes.byteLength - (budget - headEnd));
  if (tailStart < headEnd) tailStart = headEnd;
  const head = bytes.subarray(0, headEnd).toString('utf8');
  const tail = bytes.subarray(tailStart).toString('utf8');
  const omitted = tailStart - headEnd;
  const lines = countLines(bytes.subarray(headEnd, tailStart));
  return {
    content: `${head}\n[... ${omitted} bytes (${lines} line${lines === 1 ? '' : 's'}) omitted; narrow the request (a line range, a path, a pattern) to see them ...]\n${tail}`,
    truncated: true,
  };
}

// Moves a cut back to just after a newline within 1 KiB, else to a UTF-8 character start.
function snapBack(b: Buffer, at: number): number {
  const nl = b.lastIndexOf(0x0a, at - 1);
  if (nl >= 0 && at - nl <= 1024) return nl + 1;
  while (at > 0 && (b[at] & 0xc0) === 0x80) at--;
  return at;
}

function snapForward(b: Buffer, at: number): number {
  const nl = b.indexOf(0x0a, at);
  if (nl >= 0 && nl - at <= 1024) return nl + 1;
  while (at < b.byteLength && (b[at] & 0xc0) === 0x80) at++;
  return at;
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) n++;
  return n;
}
