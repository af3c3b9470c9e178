// Client-supplied values (broker tool arguments, `_meta["switchyard/saga"]`, keys) checked against
// their zod schema, and the schema turned into the JSON Schema a listing shows: one source of truth.
// A refusal is -32602 with one sentence that names the argument or field, as in
// `argument "priority" must be one of low, normal, high, critical` or `steps[1].tool is required`.
import { z } from 'zod';
import { INVALID_PARAMS, JsonRpcError, printable } from './jsonrpc.js';

/** Where the value came from, for the message: a broker tool's arguments, or a named field. */
export type Subject = { tool: string } | { field: string };

/**
 * A custom issue whose message continues the field's name rather than following it after a
 * space (a template error says `.id: unclosed "{{"` of `steps[0].compensation.arguments`).
 */
export const CONTINUES_NAME = { continuesName: true } as const;

/** The parsed value, or a JsonRpcError(-32602) naming the first problem. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, subject: Subject): z.output<S> {
  const parsed = schema.safeParse(value, { reportInput: true, error: fallbackMessage });
  if (parsed.success) return parsed.data;
  // An unknown argument is the likeliest mistake (a misspelt name), so it is named first.
  const issues = [...parsed.error.issues].sort((a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'));
  throw new JsonRpcError(INVALID_PARAMS, describeIssue(issues[0]!, subject));
}

function describeIssue(issue: z.core.$ZodIssue, subject: Subject): string {
  const name = nameOf(issue.path, subject);
  if (issue.code === 'unrecognized_keys') {
    const key = printable(String(issue.keys[0]));
    return 'tool' in subject && issue.path.length === 0 ? `${subject.tool} has no argument "${key}"` : `${name} has no field "${key}"`;
  }
  if (issue.code === 'custom' && issue.params?.continuesName === true) return `${name}${issue.message}`;
  if (issue.code === 'invalid_type' && issue.input === undefined && issue.path.length > 0) return `${name} is required`;
  return `${name} ${issue.message}`;
}

/** `argument "steps"` for a tool's own argument, `steps[0].tool` below it, `_meta["switchyard/saga"].id` in a field. */
function nameOf(path: PropertyKey[], subject: Subject): string {
  const tail = path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${printable(String(key))}`)).join('');
  if ('field' in subject) return `${subject.field}${tail}`;
  if (path.length === 0) return `${subject.tool} arguments`;
  if (path.length === 1) return `argument "${printable(String(path[0]))}"`;
  return tail.slice(1);
}

/** Messages for checks a schema gave none of its own: each completes "<name> …". */
function fallbackMessage(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${KINDS[issue.expected] ?? issue.expected}`;
    case 'too_small':
      return issue.origin === 'array' ? `must have at least ${String(issue.minimum)} item(s)` : `must be at least ${String(issue.minimum)}${issue.origin === 'string' ? ' characters long' : ''}`;
    case 'too_big':
      return issue.origin === 'array' ? `must have at most ${String(issue.maximum)} item(s)` : `must be at most ${String(issue.maximum)}${issue.origin === 'string' ? ' characters long' : ''}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    default:
      return 'is not valid';
  }
}

const KINDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'an object',
  record: 'an object',
  array: 'a list',
};

/** Tool arguments: any JSON object (the downstream tool checks them). */
export const ArgumentsSchema = z.record(z.string(), z.unknown(), { error: 'must be an object' });

/**
 * The schema as an MCP tool's inputSchema (JSON Schema 2020-12, MCP's default dialect, so no
 * `$schema`). zod spells out what JSON Schema already implies (the safe-integer range of every
 * integer, the key type of a record); those are left out, so the listing reads as if written by hand.
 */
export function toInputSchema(schema: z.ZodType): { type: 'object'; [key: string]: unknown } {
  const json = z.toJSONSchema(schema, {
    io: 'input',
    override: ({ jsonSchema }) => {
      if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
      if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
      if (jsonSchema.type === 'object' && jsonSchema.propertyNames !== undefined) {
        delete jsonSchema.propertyNames;
        delete jsonSchema.additionalProperties;
      }
    },
  }) as Record<string, unknown>;
  delete json.$schema;
  if (json.type !== 'object') throw new Error('a tool input schema must describe an object');
  return json as { type: 'object' };
}
