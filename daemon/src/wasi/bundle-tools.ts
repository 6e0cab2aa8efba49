import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { mapToolInput, type Manifest, type ManifestTool } from '../bundles/index.js';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { defineTool, type Tool } from '../tools/index.js';
import { describeWasiRun, runWasiCommand, type RunBundleDeps } from './run-bundle-tool.js';

const InputObject = lazySchema(() => z.record(z.string(), z.unknown()));

/**
 * The tools a bundle's manifest declares (e.g. `sqlite`, `jq`), each mapped to argv/stdin by the
 * manifest and run like run_bundle. Input is validated against the manifest's JSON Schema.
 */
export function createManifestTools(
  bundle: { name: string; manifest: Pick<Manifest, 'entries' | 'tools'> },
  deps: RunBundleDeps,
): Tool<Record<string, unknown>>[] {
  return bundle.manifest.tools.map((t) => createManifestTool(bundle.name, t, bundle.manifest, deps));
}

function createManifestTool(
  bundleName: string,
  t: ManifestTool,
  manifest: Pick<Manifest, 'entries' | 'tools'>,
  deps: RunBundleDeps,
): Tool<Record<string, unknown>> {
  let schema: z.ZodType;
  try {
    schema = z.fromJSONSchema(t.inputSchema);
  } catch (e) {
    throw new ShadowboxError(
      ErrorCodes.BundleInvalid,
      'invalid_tool_schema',
      `bundle ${bundleName}: tool ${t.name} has an unusable input schema`,
      { tool: t.name },
      { cause: e },
    );
  }
  const input = schema.pipe(InputObject());
  const workspaceArgs = t.argv.flatMap((a) => ('arg' in a && a.workspacePath ? [a.arg] : []));
  return defineTool({
    name: t.name,
    kind: t.kind,
    description: t.description,
    input,
    concurrent: true,
    targets: (i) => ({
      resource: bundleName,
      paths: workspaceArgs.map((k) => i[k]).filter((v): v is string => typeof v === 'string'),
    }),
    summarize: (i) => `${t.name} ${JSON.stringify(i).slice(0, 100)}`,
    handler: async (i, ctx) => {
      const inv = mapToolInput(t, i, manifest);
      const r = await runWasiCommand(deps, {
        bundle: bundleName,
        command: inv.entry,
        args: inv.argv,
        view: ctx.view,
        signal: ctx.signal,
        sessionId: ctx.sessionId,
        workspace: ctx.workspace,
        ...(inv.stdin !== undefined ? { stdin: Buffer.from(inv.stdin) } : {}),
      });
      return {
        content: describeWasiRun(r),
        isError: r.outcome !== 'exited' || r.exitCode !== 0,
        output: `${Buffer.from(r.stdout).toString('utf8')}${Buffer.from(r.stderr).toString('utf8')}`,
        changed: r.changed,
        data: { exitCode: r.exitCode, outcome: r.outcome, durationMs: r.durationMs, runner: r.runner },
      };
    },
  });
}
