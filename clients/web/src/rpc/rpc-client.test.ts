// The page installs vscode-jsonrpc's browser runtime layer; under Node the tests install the Node one.
import 'vscode-jsonrpc/node';
import { PermissionRequest, SessionList, SessionPrompt } from '@shadowbox/protocol';
import { describe, expect, it, vi } from 'vitest';
import { backoffMs, wsProtocols } from './connection.js';
import { ConnectionClosedError, RpcClient, RpcError } from './rpc-client.js';

function pair() {
  const sent: Record<string, unknown>[] = [];
  let closed = false;
  const client = new RpcClient({
    send: (t) => sent.push(JSON.parse(t) as Record<string, unknown>),
    close: () => (closed = true),
  });
  return { client, sent, isClosed: () => closed };
}

describe('RpcClient', () => {
  it('sends one JSON-RPC request per frame and resolves with the matching result', async () => {
    const { client, sent } = pair();
    const a = client.request(SessionList, {});
    const b = client.request(SessionList, { workspace: '/w' });
    await vi.waitFor(() => expect(sent).toHaveLength(2));
    expect(sent.map((m) => [m.method, m.params])).toEqual([
      ['session/list', {}],
      ['session/list', { workspace: '/w' }],
    ]);
    expect(sent[0].id).not.toBe(sent[1].id);
    client.receive(JSON.stringify({ jsonrpc: '2.0', id: sent[1].id, result: { sessions: ['b'] } }));
    client.receive(JSON.stringify({ jsonrpc: '2.0', id: sent[0].id, result: { sessions: ['a'] } }));
    expect(await a).toEqual({ sessions: ['a'] });
    expect(await b).toEqual({ sessions: ['b'] });
    expect(client.pendingCount).toBe(0);
  });

  it('rejects with RpcError carrying code and data.reason', async () => {
    const { client, sent } = pair();
    const p = client.request(SessionPrompt, { sessionId: 's', text: 'hi' });
    await vi.waitFor(() => expect(sent).toHaveLength(1));
    client.receive(
      JSON.stringify({
        jsonrpc: '2.0',
        id: sent[0].id,
        error: { code: -33101, message: 'not the driver', data: { reason: 'not_driver', driver: 'c2' } },
      }),
    );
    const e = await p.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RpcError);
    expect((e as RpcError).code).toBe(-33101);
    expect((e as RpcError).reason).toBe('not_driver');
  });

  it('sends $/cancelRequest when the caller aborts', async () => {
    const { client, sent } = pair();
    const abort = new AbortController();
    void client.request(SessionPrompt, { sessionId: 's', text: 'hi' }, abort.signal).catch(() => undefined);
    await vi.waitFor(() => expect(sent).toHaveLength(1));
    abort.abort();
    await vi.waitFor(() => expect(sent).toHaveLength(2));
    expect(sent[1]).toEqual({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: sent[0].id } });
  });

  it('fails pending calls when the link closes and refuses new ones', async () => {
    const { client } = pair();
    const p = client.request(SessionList, {});
    client.handleClose();
    await expect(p).rejects.toBeInstanceOf(ConnectionClosedError);
    await expect(client.request(SessionList, {})).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('dispatches notifications and ignores malformed frames', async () => {
    const { client } = pair();
    const got: unknown[] = [];
    client.onNotification('session/event', (p) => got.push(p));
    client.receive('not json');
    client.receive('[1,2]');
    client.receive(JSON.stringify({ jsonrpc: '2.0', method: 'session/event', params: { seq: 1 } }));
    await vi.waitFor(() => expect(got).toEqual([{ seq: 1 }]));
  });

  it('answers incoming requests, and answers -32800 when the daemon cancels them', async () => {
    const { client, sent } = pair();
    const answers = new Map<number, (o: string) => void>();
    client.onRequest(
      PermissionRequest.method,
      (p, signal) =>
        new Promise((resolve, reject) => {
          answers.set((p as { n: number }).n, (o) => resolve({ outcome: o }));
          signal.addEventListener('abort', () => reject(new Error('x')));
        }),
    );
    client.receive(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'permission/request', params: { n: 7 } }));
    await vi.waitFor(() => expect(answers.has(7)).toBe(true));
    answers.get(7)!('allow_once');
    await vi.waitFor(() => expect(sent.at(-1)).toEqual({ jsonrpc: '2.0', id: 7, result: { outcome: 'allow_once' } }));
    client.receive(JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'permission/request', params: { n: 8 } }));
    await vi.waitFor(() => expect(answers.has(8)).toBe(true));
    client.receive(JSON.stringify({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 8 } }));
    await vi.waitFor(() => expect(sent.at(-1)).toMatchObject({ id: 8, error: { code: -32800 } }));
    client.receive(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'nope/unknown', params: {} }));
    await vi.waitFor(() => expect(sent.at(-1)).toMatchObject({ id: 9, error: { code: -32601 } }));
  });
});

describe('connection helpers', () => {
  it('backs off from 250 ms doubling to a 5 s cap, with bounded jitter', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map((n) => backoffMs(n, () => 0.5))).toEqual([
      250, 500, 1000, 2000, 4000, 5000, 5000,
    ]);
    expect(backoffMs(1, () => 0)).toBe(200);
    expect(backoffMs(10, () => 1)).toBe(6000);
  });

  it('offers the protocol name and the token as WebSocket sub-protocols', () => {
    expect(wsProtocols('abc_-1')).toEqual(['shadowbox.v1', 'shadowbox.token.abc_-1']);
  });
});
