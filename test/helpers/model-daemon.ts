// One daemon at a time on one state dir, pointed at the test model server (the only test double: a local
// server speaking the real OpenAI wire format). The hooks a suite of crash-and-restart tests repeats:
// the model server and the state dir for the whole suite, the daemon stopped after each test.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { openaiEnv, startModelServer, type ModelServer } from '../model-server/index.js';
import { makeTempDir, startTestDaemon, type TestDaemon } from './daemon.js';

export interface ModelDaemon {
  /** The model server (script its answers with push()). */
  readonly model: ModelServer;
  /** The suite's state dir: a daemon started again (after kill -9) finds what the last one left. */
  readonly stateDir: string;
  /** The daemon last started (stopped after each test). */
  readonly daemon: TestDaemon;
  /** Starts a daemon on the suite's state dir with the test model as its model. */
  start(): Promise<TestDaemon>;
}

/** Registers the suite's hooks; call it at the top of a describe block. */
export function useModelDaemon(): ModelDaemon {
  let model: ModelServer | undefined;
  let stateDir: string | undefined;
  let daemon: TestDaemon | undefined;
  beforeAll(async () => {
    model = await startModelServer();
    stateDir = await makeTempDir('state');
  });
  afterEach(async () => {
    await daemon?.stop();
  });
  afterAll(async () => {
    await daemon?.cleanup();
    await model?.close();
  });
  const ready = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`useModelDaemon: ${what} is not there before beforeAll ran`);
    return v;
  };
  return {
    get model() {
      return ready(model, 'the model server');
    },
    get stateDir() {
      return ready(stateDir, 'the state dir');
    },
    get daemon() {
      return ready(daemon, 'a daemon (call start())');
    },
    async start() {
      const m = ready(model, 'the model server');
      daemon = await startTestDaemon({
        web: false,
        stateDir: ready(stateDir, 'the state dir'),
        env: openaiEnv(m),
      });
      return daemon;
    },
  };
}
