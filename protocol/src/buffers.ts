import { z } from 'zod';
import { defineRequest } from './define.js';

/** How long the daemon waits for a client's buffer/read answer before it reads the saved file instead. */
export const BUFFER_READ_TIMEOUT_MS = 300;

export const BufferRead = defineRequest({
  method: 'buffer/read',
  direction: 'daemonToClient',
  doc: `Sent by the daemon to the driver of a session, when that client declared \`buffers\` in initialize, each time read_file reads a file: the text of the file as the person's editor holds it (unsaved changes included), or null when the editor has no open buffer for it. read_file shows it only when the session's shadow has not changed the file (the agent's version is newer). Without an answer within ${BUFFER_READ_TIMEOUT_MS} ms (or on an error) the daemon cancels the request and reads the saved file. The ACP bridge answers it with the editor's \`fs/read_text_file\`.`,
  params: () =>
    z.object({
      sessionId: z.string(),
      path: z
        .string()
        .describe('Workspace-relative POSIX path ("src/a.ts"); join it to the session workspace for an absolute one.'),
    }),
  result: () => z.object({ text: z.string().describe("The buffer's whole text.") }).nullable(),
});
