import { Defaults, Initialize, Initialized, PROTOCOL_VERSION, type ResultOf } from '@shadowbox/protocol';
import { RpcClient } from './rpc-client.js';

/** Where the link is: the page shows this in its header. */
export type LinkState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'open'; clientId: string; daemonVersion: string }
  | { kind: 'waiting'; attempt: number; retryInMs: number; why: string }
  | { kind: 'unauthorized' };

/** Delay before reconnect attempt `n` (1-based): 250 ms doubling to a 5 s cap, with ±20 % jitter. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(5000, 250 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** The sub-protocols the page offers: the protocol name the daemon selects, and the token entry it checks. */
export function wsProtocols(token: string): string[] {
  return [Defaults.wsSubprotocol, `${Defaults.wsTokenSubprotocolPrefix}${token}`];
}

export interface LinkOptions {
  /** Page origin, e.g. http://127.0.0.1:7777 */
  origin: string;
  token: string;
  onState: (s: LinkState) => void;
  /** Called after each successful initialize (first connect and every reconnect). */
  onReady: (client: RpcClient, init: ResultOf<typeof Initialize>) => void;
  /** Registers incoming handlers on a fresh client before initialize is sent. */
  setup: (client: RpcClient) => void;
}

/** A link that keeps itself connected: reconnects with backoff, and stops when the token is refused. */
export interface Link {
  readonly client: RpcClient | null;
  close(): void;
  /** Reconnect now (after the person pasted a new token, or pressed "retry"). */
  retry(token?: string): void;
}

/**
 * Connects to the daemon's /rpc WebSocket with the token in the sub-protocol, initializes as a
 * `web` client that answers permissions, and reconnects when the daemon goes away. Before each
 * reconnect it asks /web/auth: a 401 means the daemon restarted with a new token, so it stops
 * and the page asks for a fresh link instead of retrying forever.
 */
export function openLink(o: LinkOptions): Link {
  let token = o.token;
  let client: RpcClient | null = null;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;

  const probe = async (): Promise<'ok' | 'unauthorized' | 'down'> => {
    try {
      const res = await fetch(`${o.origin}/web/auth`, {
        headers: { Authorization: `Bearer ${token}` },
        cache: 'no-store',
      });
      return res.status === 204 ? 'ok' : res.status === 401 ? 'unauthorized' : 'down';
    } catch {
      return 'down';
    }
  };

  const schedule = (why: string) => {
    if (stopped) return;
    attempt++;
    const wait = backoffMs(attempt);
    o.onState({ kind: 'waiting', attempt, retryInMs: wait, why });
    timer = setTimeout(() => void connect(), wait);
  };

  const connect = async () => {
    timer = null;
    if (stopped) return;
    o.onState({ kind: 'connecting', attempt });
    const auth = await probe();
    if (stopped) return;
    if (auth === 'unauthorized') {
      o.onState({ kind: 'unauthorized' });
      return;
    }
    if (auth === 'down') return schedule('the daemon does not answer');
    const ws = new WebSocket(`${o.origin.replace(/^http/, 'ws')}${Defaults.wsPath}`, wsProtocols(token));
    const c = new RpcClient(ws);
    let opened = false;
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') c.receive(ev.data);
    };
    ws.onclose = () => {
      c.handleClose();
      if (client === c) client = null;
      if (!stopped) schedule(opened ? 'the connection closed' : 'the daemon refused the connection');
    };
    ws.onopen = () => {
      opened = true;
      o.setup(c);
      c.request(Initialize, {
        protocolVersion: PROTOCOL_VERSION,
        clientInfo: { name: 'shadowbox-web', version: '0.1.0', kind: 'web' },
        capabilities: { permissions: true, events: true },
      })
        .then((init) => {
          c.notify(Initialized, {});
          client = c;
          attempt = 0;
          o.onState({ kind: 'open', clientId: init.clientId, daemonVersion: init.daemonInfo.version });
          o.onReady(c, init);
        })
        .catch(() => ws.close());
    };
  };

  void connect();
  return {
    get client() {
      return client;
    },
    close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      client?.close();
    },
    retry(newToken?: string) {
      if (newToken) token = newToken;
      if (timer) clearTimeout(timer);
      if (client) return;
      attempt = 0;
      stopped = false;
      void connect();
    },
  };
}
