import type { ChatMessage, ModelClient, ModelEvent, ModelRequest } from '../agent/index.js';

/**
 * The offline model behind `shadowbox demo` (spec `demo/replay`): a fixed, labelled script that
 * drives the REAL loop, tools, policy, shadow workspace, python sandbox and audit log, so the demo
 * works on a machine without an API key. It reads the tool results it gets and adapts: no python
 * tool, or a failed run, changes what it says. It is never chosen unless asked for by name.
 */
export function createDemoModel(model: string): ModelClient {
  return {
    model: `demo/${model}`,
    contextWindow: 32_000,
    async *stream(req: ModelRequest, signal: AbortSignal): AsyncIterable<ModelEvent> {
      const step = stepsSinceUser(req.messages);
      const hasPython = req.tools.some((t) => t.name === 'python');
      const last = req.messages.at(-1);
      const lastResult = last?.role === 'tool' ? last : null;
      const say = async function* (text: string): AsyncIterable<ModelEvent> {
        for (const word of text.split(/(?<= )/)) {
          if (signal.aborted) return;
          await new Promise((r) => setTimeout(r, 12));
          yield { type: 'text', delta: word };
        }
      };
      const call = (id: string, name: string, args: unknown): ModelEvent[] => {
        const a = JSON.stringify(args);
        return [
          { type: 'tool_call_start', index: 0, id, name },
          { type: 'tool_call_delta', index: 0, argumentsDelta: a },
          { type: 'tool_call_end', index: 0, id, name, arguments: a },
        ];
      };
      if (step === 0) {
        yield* say('I will read `stats.py` first. ');
        yield* call('demo_read', 'read_file', { path: 'stats.py' });
        yield { type: 'stop', reason: 'tool_use' };
      } else if (step === 1) {
        if (lastResult?.isError) {
          yield* say(`I could not read the file: ${lastResult.content.slice(0, 200)}`);
          yield { type: 'stop', reason: 'end_turn' };
          return;
        }
        yield* say('`mean()` divides by `len(xs) - 1`, so every average is too high. Fixing it: ');
        yield* call('demo_edit', 'edit_file', { path: 'stats.py', old_string: 'sum(xs) / (len(xs) - 1)', new_string: 'sum(xs) / len(xs)' });
        yield { type: 'stop', reason: 'tool_use' };
      } else if (step === 2 && hasPython) {
        yield* say('Now I run it in the WASI sandbox; it sees my edit, your file is untouched. ');
        yield* call('demo_run', 'python', { file: 'stats.py' });
        yield { type: 'stop', reason: 'tool_use' };
      } else {
        const ran = step === 3 && lastResult && !lastResult.isError ? `The sandboxed run printed \`${lastResult.content.split('\n')[0]}\`, which is right for 1, 2, 3, 4. ` : hasPython ? 'The sandboxed run did not succeed, so check the output above. ' : '(No python bundle is built here, so I did not run it.) ';
        yield* say(`Done. ${ran}The fix is a reviewable change in the shadow workspace: accept it to write \`stats.py\`.`);
        yield { type: 'usage', inputTokens: 0, outputTokens: 0 };
        yield { type: 'stop', reason: 'end_turn' };
      }
    },
  };
}

/** How many assistant turns happened since the last user message. */
function stepsSinceUser(messages: ChatMessage[]): number {
  let n = 0;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role === 'user') break;
    if (m.role === 'assistant') n++;
  }
  return n;
}
