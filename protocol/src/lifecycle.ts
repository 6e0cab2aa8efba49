import { z } from 'zod';
import { defineNotification, defineRequest, lazySchema } from './define.js';

/** Protocol version spoken by this package. Bumped on incompatible changes. */
export const PROTOCOL_VERSION = 1;

const ClientInfo = lazySchema(() =>
  z.object({
    name: z.string().min(1).max(200).describe('Client name, e.g. "shadowbox-terminal".'),
    version: z.string().max(100).optional(),
    kind: z
      .enum(['terminal', 'web', 'editor', 'acp', 'cli', 'test', 'other'])
      .default('other')
      .describe('What sort of client this is; shown to other clients.'),
  }),
);

export const ClientCapabilities = lazySchema(() =>
  z
    .object({
      permissions: z.boolean().default(false).describe('The client can answer permission/request.'),
      events: z.boolean().default(true).describe('The client wants session/event notifications.'),
      buffers: z
        .boolean()
        .default(false)
        .describe('The client can answer buffer/read with the text of an editor buffer (unsaved changes included).'),
    })
    .describe('What the client can do.'),
);
export type ClientCapabilities = z.infer<ReturnType<typeof ClientCapabilities>>;

export const DaemonCapabilities = lazySchema(() =>
  z.object({
    transports: z.array(z.enum(['stdio', 'socket', 'websocket'])),
    providers: z.array(z.string()),
    maxMessageBytes: z.number().int(),
    wasiRunners: z.array(z.string()),
  }),
);
export type DaemonCapabilities = z.infer<ReturnType<typeof DaemonCapabilities>>;

export const Initialize = defineRequest({
  method: 'initialize',
  direction: 'clientToDaemon',
  doc: 'First request on every connection. Negotiates the protocol version and capabilities (like LSP). Every other request before it is refused with -32002; a second initialize is refused with -33002.',
  params: () =>
    z.object({
      protocolVersion: z.number().int().positive().describe('Highest protocol version the client speaks.'),
      clientInfo: ClientInfo(),
      capabilities: ClientCapabilities().default({ permissions: false, events: true, buffers: false }),
    }),
  result: () =>
    z.object({
      protocolVersion: z.number().int().describe('Version both sides will use: min(client, daemon).'),
      daemonInfo: z.object({ name: z.literal('shadowbox'), version: z.string(), pid: z.number().int() }),
      clientId: z.string().describe('Id the daemon gave this connection; appears in events and the audit log.'),
      capabilities: DaemonCapabilities(),
    }),
});

export const Initialized = defineNotification({
  method: 'initialized',
  direction: 'clientToDaemon',
  doc: 'Sent by the client after it processed the initialize result.',
  params: () => z.object({}),
});

export const Shutdown = defineRequest({
  method: 'shutdown',
  direction: 'clientToDaemon',
  doc: 'The client is about to close this connection: the daemon releases what the connection holds (driver roles, attachments). Over --stdio this also stops the daemon after `exit`. To stop a shared daemon use daemon/stop.',
  params: () => z.object({}).default({}),
  result: () => z.null(),
});

export const Exit = defineNotification({
  method: 'exit',
  direction: 'clientToDaemon',
  doc: 'After shutdown: the daemon closes the connection (and, in --stdio mode, exits).',
  params: () => z.object({}).default({}),
});

export const CancelRequest = defineNotification({
  method: '$/cancelRequest',
  direction: 'both',
  doc: 'Cancels a request by id (vscode-jsonrpc sends it for a cancelled token). Cancelling session/prompt cancels the turn.',
  params: () => z.object({ id: z.union([z.number(), z.string()]) }),
});

export const Progress = defineNotification({
  method: '$/progress',
  direction: 'daemonToClient',
  doc: 'Progress of a long request for the token the client passed as `progressToken` (today: `bundles/install` sends begin, a report per install phase with a percentage, and end).',
  params: () =>
    z.object({
      token: z.union([z.number(), z.string()]),
      value: z.object({
        kind: z.enum(['begin', 'report', 'end']),
        message: z.string().optional(),
        percentage: z.number().min(0).max(100).optional(),
        stream: z
          .enum(['stdout', 'stderr'])
          .optional()
          .describe(
            "A tool call's live output: `message` is a chunk of this stream (tools/call with a progressToken).",
          ),
      }),
    }),
});

export const DaemonStatus = defineRequest({
  method: 'daemon/status',
  direction: 'clientToDaemon',
  doc: 'Sent by `shadowbox status`: pid, uptime, endpoints, attached clients and sessions.',
  params: () => z.object({}).default({}),
  result: () =>
    z.object({
      pid: z.number().int(),
      version: z.string(),
      startedAt: z.string(),
      uptimeMs: z.number(),
      stateDir: z.string(),
      socketPath: z.string().nullable(),
      webUrl: z.string().nullable().describe('http://127.0.0.1:PORT/ when the WebSocket/HTTP server runs (no token).'),
      clients: z.array(z.object({ clientId: z.string(), name: z.string(), kind: z.string(), transport: z.string() })),
      sessions: z.number().int(),
      rssBytes: z.number().int(),
      environment: z
        .array(
          z.object({
            name: z.string().describe('An environment variable the daemon read its model settings from.'),
            set: z.boolean(),
            secret: z.boolean().describe('An API key: only its fingerprint is sent, never the value.'),
            value: z
              .string()
              .optional()
              .describe('The value, for settings that are not secret (base URLs, the model).'),
            fingerprint: z
              .string()
              .optional()
              .describe(
                'First 12 hex digits of the SHA-256 of a secret value, so a client can tell whether its own differs.',
              ),
          }),
        )
        .default([])
        .describe(
          'The model settings the daemon took from the environment of the command that started it (it keeps them until it restarts): clients compare them with their own environment and say which differ and how to restart the daemon.',
        ),
      sandboxes: z
        .array(
          z.object({
            name: z.enum(['wasi', 'shell']),
            available: z.boolean(),
            detail: z.string().describe('What it runs with (bubblewrap version, runners), or what is missing.'),
            missing: z.array(z.string()).describe('What is missing and how to enable it (empty when available).'),
          }),
        )
        .describe('The two sandboxes: WASI (python, bundles; everywhere) and the host command sandbox (shell; Linux).'),
    }),
});

export const DaemonStop = defineRequest({
  method: 'daemon/stop',
  direction: 'clientToDaemon',
  doc: 'Sent by `shadowbox stop`: the daemon answers, then shuts down cleanly (as on SIGTERM).',
  params: () => z.object({}).default({}),
  result: () => z.null(),
});

/**
 * Exit code of `shadowbox daemon` when another daemon holds the state dir's lock: the auto-starting
 * client keeps waiting for that one's socket instead of failing (two clients raced to start it).
 */
export const DAEMON_EXIT_ALREADY_RUNNING = 75;
