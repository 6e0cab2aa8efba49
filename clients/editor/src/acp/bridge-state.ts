import type { AgentConnection, SessionUpdate } from '@agentclientprotocol/sdk';
import { SessionCancel } from '@shadowbox/protocol';
import type { ShadowboxClient } from '../client.js';
import { notificationsFor } from './map.js';

/**
 * What the bridge remembers per ACP session (the daemon's workspace, the editor's cwd, the order of
 * session/update notifications, whether the editor cancelled the turn) and its link to the editor.
 */
export class BridgeState {
  /** sessionId → the daemon's workspace (a real path). */
  readonly workspaces = new Map<string, string>();
  /** callId → the tail of a running call's live output (ACP replaces a tool call's content on each update). */
  readonly live = new Map<string, string>();
  /** sessionId → the cwd the editor gave (its buffers are keyed by paths under it). */
  readonly cwds = new Map<string, string>();
  /** Sessions whose running turn the editor asked to cancel. */
  readonly cancelling = new Set<string>();
  private readonly chains = new Map<string, Promise<void>>();
  conn: AgentConnection | undefined;
  editorReadsFiles = false;

  constructor(
    readonly daemon: ShadowboxClient,
    readonly log: (msg: string) => void,
  ) {}

  /** Queues updates for the editor; each session's notifications go out in order. */
  send(sessionId: string, updates: SessionUpdate[] | Promise<SessionUpdate[]>): void {
    if (!this.conn) return;
    const conn = this.conn;
    const prev = this.chains.get(sessionId) ?? Promise.resolve();
    this.chains.set(
      sessionId,
      prev.then(async () => {
        for (const n of notificationsFor(sessionId, await updates))
          await conn.client
            .notify('session/update', n)
            .catch((e: unknown) => this.log(`notify failed: ${(e as Error).message}`));
      }),
    );
  }

  /** Resolves when every update queued so far for the session has been sent. */
  flush(sessionId: string): Promise<void> {
    return this.chains.get(sessionId) ?? Promise.resolve();
  }

  /** Cancels the session's running turn at the daemon and remembers that the editor asked. */
  async cancelTurn(sessionId: string): Promise<void> {
    this.cancelling.add(sessionId);
    await this.daemon
      .request(SessionCancel, { sessionId })
      .catch((e: unknown) => this.log(`cancel failed: ${(e as Error).message}`));
  }

  /** Forgets a closed session. */
  forget(sessionId: string): void {
    this.workspaces.delete(sessionId);
    this.cwds.delete(sessionId);
    this.chains.delete(sessionId);
    this.cancelling.delete(sessionId);
  }
}
