// The scripted model server (the project's only test double) lives in daemon/src/demo/model-server so that
// `shadowbox demo` and the benchmarks run the same code; tests import it from here.
export * from '../../daemon/src/demo/model-server/index.js';

/** What points a daemon at `model` over the OpenAI wire format: the model `spec` (provider/name), its URL, a key. */
export function openaiEnv(model: { url: string }, spec = 'openai/test-model'): Record<string, string> {
  return { SHADOWBOX_MODEL: spec, OPENAI_BASE_URL: `${model.url}/v1`, OPENAI_API_KEY: 'k' };
}
