import type { z } from 'zod';

/** Result of checking a call's input against its tool's schema. */
export type ValidateResult<I> = { ok: true; value: I } | { ok: false; message: string; fields: string[] };

/** Parses the input; on failure, builds a message telling the model which field is wrong and how to fix it. */
export function validateInput<I>(
  tool: string,
  schema: z.ZodType<I>,
  input: unknown,
  jsonSchema: Record<string, unknown>,
): ValidateResult<I> {
  const r = schema.safeParse(input);
  if (r.success) return { ok: true, value: r.data };
  const lines: string[] = [];
  const fields: string[] = [];
  for (const issue of r.error.issues) {
    const where = issue.path.length ? issue.path.map(String).join('.') : '(arguments)';
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) {
        const at = issue.path.length ? `${where}.${k}` : k;
        fields.push(at);
        lines.push(`- \`${at}\`: not a parameter of ${tool}; remove it.`);
      }
      continue;
    }
    fields.push(where);
    const value = valueAt(input, issue.path);
    if (issue.code === 'invalid_type' && value === undefined && issue.path.length) {
      lines.push(`- \`${where}\`: missing; it is required (expected ${issue.expected}).`);
    } else if (issue.path.length === 0 && issue.code === 'invalid_type') {
      lines.push(`- the arguments must be one JSON object (got ${preview(input)}).`);
    } else {
      lines.push(`- \`${where}\`: ${issue.message}${value !== undefined ? ` (got ${preview(value)})` : ''}.`);
    }
  }
  const expected = describeFields(jsonSchema);
  return {
    ok: false,
    fields,
    message: [
      `The arguments for ${tool} are invalid:`,
      ...lines,
      ...(expected ? [`Expected arguments: ${expected}.`] : []),
      `Fix these and call ${tool} again.`,
    ].join('\n'),
  };
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function preview(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** "path (string, required), offset (integer)" from a JSON Schema object. */
function describeFields(schema: Record<string, unknown>): string {
  const props = schema.properties;
  if (!props || typeof props !== 'object') return '';
  const required = new Set(Array.isArray(schema.required) ? (schema.required as unknown[]).map(String) : []);
  return Object.entries(props as Record<string, Record<string, unknown>>)
    .map(([name, p]) => {
      const type =
        typeof p.type === 'string'
          ? p.type
          : Array.isArray(p.enum)
            ? `one of ${p.enum.map((x) => JSON.stringify(x)).join('|')}`
            : 'value';
      return `${name} (${type}${required.has(name) ? ', required' : ''})`;
    })
    .join(', ');
}
