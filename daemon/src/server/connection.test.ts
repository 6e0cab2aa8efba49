// serveChannel in process, over an in-memory channel (the stdio transport on a PassThrough pair): the
// initialize gate, schema validation naming the bad field, typed errors passing through with their reason,
// unknown failures as -32603, bad frames answered while the connection survives, client handles whose
// questions are cancelled by an AbortSignal, and the registry forgetting a client whose link closed.
import { PassThrough } from 'node:stream';
import {
  createMessageConnection,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  type CancellationToken,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ErrorCodes,
  Initialize,
  PermissionRequest,
  PROTOCOL_VERSION,
  SessionList,
  ShadowStatus,
  type ParamsOf,
} from '@shadowbox/protocol';
import { ShadowboxError } from '../errors.js';
import { silentLogger } from '../state/index.js';
import { createStdioChannel } from '../transports/index.js';
import { ClientRegistry, type ClientHandle } from './client.js';
import { HandlerTable, serveChannel } from './connection.js';

const links: Array<{ client: MessageConnection; up: PassThrough }> = [];
afterEach(() => {
  for (const l of links.splice(0)) {
    l.client.dispose();
    l.up.destroy();
  }
});

/** A daemon-side connection and the client at the other end of two in-memory pipes. */
function link(handlers = new HandlerTable(), clients = new ClientRegistry()) {
  const up = new PassThrough();
  const down = new PassThrough();
  serveChannel(createStdioChannel(up, down, 4096), {
    handlers,
    clients,
    logger: silentLogger,
    version: '9.9.9',
    capabilities: { transports: ['stdio'], providers: [], maxMessageBytes: 4096, wasiRunners: [] },
  });
  const client = createMessageConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
  client.listen();
  links.push({ client, up });
  return { client, up, clients, handlers };
}

const init = (c: MessageConnection, permissions = false) =>
  c.sendRequest(Initialize.method, {
    protocolVersion: PROTOCOL_VERSION,
    clientInfo: { name: 'test', version: '1', kind: 'test' },
    capabilities: { permissions, events: true },
  });

async function failure(p: Promise<unknown>): Promise<ResponseError<{ reason?: string; field?: string }>> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ResponseError);
  return e as ResponseError<{ reason?: string; field?: string }>;
}

describe('serveChannel', () => {
  it('refuses requests before initialize, then answers; a second initialize is refused', async () => {
    const { client, handlers } = link();
    handlers.on(SessionList, () => ({ sessions: [] }));
    const early = await failure(client.sendRequest(SessionList.method, {}));
    expect([early.code, early.data?.reason]).toEqual([ErrorCodes.ServerNotInitialized, 'not_initialized']);
    const r = (await init(client)) as { clientId: string; daemonInfo: { version: string } };
    expect(r.daemonInfo.version).toBe('9.9.9');
    expect(await client.sendRequest(SessionList.method, {})).toEqual({ sessions: [] });
    const again = await failure(init(client));
    expect([again.code, again.data?.reason]).toEqual([ErrorCodes.AlreadyInitialized, 'already_initialized']);
  });

  it('names the first bad field of invalid params, and unknown methods', async () => {
    const { client, handlers } = link();
    handlers.on(ShadowStatus, () => ({ files: [] }) as never);
    await init(client);
    const bad = await failure(client.sendRequest(ShadowStatus.method, { sessionId: 42 }));
    expect([bad.code, bad.data?.reason, bad.data?.field]).toEqual([
      ErrorCodes.InvalidParams,
      'invalid_params',
      'sessionId',
    ]);
    const unknown = await failure(client.sendRequest('no/such', {}));
    expect([unknown.code, unknown.data?.reason]).toEqual([ErrorCodes.MethodNotFound, 'method_not_found']);
  });

  it('passes typed errors through with their reason and hides unknown failures behind -32603', async () => {
    const { client, handlers } = link();
    handlers.on(SessionList, (p) => {
      if (p.workspace === '/typed')
        throw new ShadowboxError(ErrorCodes.SessionNotFound, 'no_session_for_workspace', 'none here', { x: 1 });
      throw new Error('boom');
    });
    await init(client);
    const typed = await failure(client.sendRequest(SessionList.method, { workspace: '/typed' }));
    expect([typed.code, typed.message, typed.data]).toEqual([
      ErrorCodes.SessionNotFound,
      'none here',
      { reason: 'no_session_for_workspace', x: 1 },
    ]);
    const other = await failure(client.sendRequest(SessionList.method, {}));
    expect([other.code, other.data?.reason]).toEqual([ErrorCodes.InternalError, 'internal']);
  });

  it('answers a frame that is not JSON with -32700 and keeps the connection', async () => {
    const up = new PassThrough();
    const down = new PassThrough();
    serveChannel(createStdioChannel(up, down, 4096), {
      handlers: new HandlerTable(),
      clients: new ClientRegistry(),
      logger: silentLogger,
      version: '9.9.9',
      capabilities: { transports: ['stdio'], providers: [], maxMessageBytes: 4096, wasiRunners: [] },
    });
    const seen: Array<{ id?: unknown; error?: { code: number; data?: { reason?: string } } }> = [];
    new StreamMessageReader(down).listen((m) => seen.push(m as (typeof seen)[number]));
    const frame = (body: string) => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    up.write(frame('not json'));
    up.write(frame(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'no/such', params: {} })));
    await vi.waitFor(() => expect(seen).toHaveLength(2));
    expect(seen[0]).toMatchObject({
      id: null,
      error: { code: ErrorCodes.ParseError, data: { reason: 'parse_error' } },
    });
    // The connection survived: the next request is answered (refused before initialize).
    expect(seen[1]).toMatchObject({ id: 1, error: { code: ErrorCodes.MethodNotFound } });
    up.destroy();
  });

  it('registers the client handle, cancels its questions by signal, and forgets it when the link closes', async () => {
    const clients = new ClientRegistry();
    const { client, up } = link(new HandlerTable(), clients);
    const asked: string[] = [];
    const cancelled: string[] = [];
    client.onRequest(PermissionRequest.method, (p: { requestId: string }, token: CancellationToken) => {
      asked.push(p.requestId);
      return new Promise<{ outcome: string }>((resolve) =>
        token.onCancellationRequested(() => {
          cancelled.push(p.requestId);
          resolve({ outcome: 'deny' });
        }),
      );
    });
    const { clientId } = (await init(client, true)) as { clientId: string };
    const handle: ClientHandle = clients.get(clientId)!;
    expect(handle.canAnswerPermissions).toBe(true);
    const abort = new AbortController();
    const question = { sessionId: 's', requestId: 'r1' } as unknown as ParamsOf<typeof PermissionRequest>;
    const answer = handle.askPermission(question, abort.signal);
    await vi.waitFor(() => expect(asked).toEqual(['r1']));
    abort.abort();
    await answer.catch(() => undefined);
    await vi.waitFor(() => expect(cancelled).toEqual(['r1']));
    const closed = new Promise<void>((r) => handle.onClose(r));
    up.end();
    await closed;
    expect(clients.get(clientId)).toBeUndefined();
  });
});
