// Reads, expands and validates the configuration once, at start-up. Every failure becomes a
// ConfigError that names the key path and the reason; the CLI prints it and exits non-zero.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ConfigSchema, type Config } from './schema.js';
import { demoConfig } from './demo.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface ConfigSource {
  /** Where the config came from, for messages: a file path or "built-in demo config". */
  source: string;
  raw: unknown;
}

/** `--config PATH`, else `SWITCHYARD_CONFIG`, else `./switchyard.yaml`, else the built-in demo config. */
export function locateConfig(explicitPath: string | undefined, env: NodeJS.ProcessEnv, cwd: string): ConfigSource {
  const path = explicitPath ?? (env.SWITCHYARD_CONFIG || undefined) ?? (existsSync(resolve(cwd, 'switchyard.yaml')) ? 'switchyard.yaml' : undefined);
  if (path === undefined) return { source: 'built-in demo config', raw: demoConfig() };
  const full = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(full, [`cannot read the file (${code})`]);
  }
  try {
    return { source: full, raw: parseYaml(text) ?? {} };
  } catch (error) {
    if (error instanceof YAMLParseError) {
      const where = error.linePos?.[0] ? `line ${error.linePos[0].line}, column ${error.linePos[0].col}` : 'unknown position';
      throw new ConfigError(full, [`not valid YAML at ${where}: ${error.code}`]);
    }
    throw error;
  }
}

/** Parses and validates; `${VAR}` in any string is replaced from `env` (`$${` escapes a literal `${`). */
export function parseConfig(input: ConfigSource, env: NodeJS.ProcessEnv): Config {
  const problems: string[] = [];
  const expanded = expandVariables(input.raw, [], env, problems);
  if (problems.length > 0) throw new ConfigError(input.source, problems);
  const result = ConfigSchema.safeParse(expanded);
  if (!result.success) throw new ConfigError(input.source, result.error.issues.map(describeIssue));
  return result.data;
}

export function loadConfig(explicitPath: string | undefined, env: NodeJS.ProcessEnv, cwd: string): { config: Config; source: string } {
  const located = locateConfig(explicitPath, env, cwd);
  return { config: parseConfig(located, env), source: located.source };
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(top level)' : out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return `${path}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  // Messages never include the offending value: it may be a secret that came from ${VAR}.
  return `${path}: ${issue.message}`;
}

const VARIABLE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function expandVariables(value: unknown, path: PropertyKey[], env: NodeJS.ProcessEnv, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(VARIABLE, (match, name: string | undefined) => {
      if (name === undefined) return '${';
      const found = env[name];
      if (found === undefined || found === '') {
        problems.push(`${formatPath(path)}: environment variable ${name} is not set`);
        return match;
      }
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => expandVariables(item, [...path, i], env, problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandVariables(v, [...path, k], env, problems)]));
  }
  return value;
}
