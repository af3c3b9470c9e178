// A small structured logger: one line per event on stderr, either `key=value` text (the default,
// for a terminal) or one JSON object per line (`--log-format json`, for a log pipeline). While a
// span is active (tracing on: telemetry.ts), the line carries its trace_id and span_id, so a log
// line leads to its trace. Nothing here reads the environment (level and format are injected by
// the CLI).
import { isSpanContextValid, trace } from '@opentelemetry/api';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFormat = 'text' | 'json';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  readonly level: LogLevel;
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

export function createLogger(
  level: LogLevel = 'info',
  component = 'switchyard',
  write: (line: string) => void = (l) => process.stderr.write(l),
  format: LogFormat = 'text',
): Logger {
  const emit = (at: Exclude<LogLevel, 'silent'>, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[at] < ORDER[level]) return;
    const given = fields ? Object.entries(fields).filter(([, v]) => v !== undefined) : [];
    const span = trace.getActiveSpan()?.spanContext();
    const traced = span !== undefined && isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : undefined;
    const time = new Date().toISOString();
    if (format === 'json') {
      const record: Record<string, unknown> = { time, level: at, component, message, ...traced };
      for (const [k, v] of given) record[k] = v instanceof Error ? v.message : v;
      write(`${safeJson(record)}\n`);
      return;
    }
    const all = traced ? [...given, ...Object.entries(traced)] : given;
    const extra = all.map(([k, v]) => ` ${k}=${typeof v === 'string' ? JSON.stringify(v) : safeJson(v)}`).join('');
    write(`${time} ${at.toUpperCase().padEnd(5)} [${component}] ${message}${extra}\n`);
  };
  return {
    level,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (name) => createLogger(level, `${component}/${name}`, write, format),
  };
}

function safeJson(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
