/**
 * winston logging: JSON lines by default, readable lines on a TTY, child loggers carrying
 * context ({strategy, backend, jobId}), and redaction of secrets wherever they appear —
 * in metadata keys, in nested objects and inside message strings.
 */
import winston from 'winston';
import { Writable } from 'node:stream';

export type Logger = winston.Logger;

const SECRET_KEY = /(pass(word)?|secret|token|authorization|api[-_]?key|credential|signature|cookie)/i;
export const REDACTED = '[redacted]';

/** Patterns for secrets embedded in free text (headers, URLs, our own secret formats). */
const SECRET_TEXT: [RegExp, string][] = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  [/\bwhsec_[A-Za-z0-9+/=]+/g, `whsec_${REDACTED}`],
  [/(\/\/[^\s:/@]+:)[^\s@/]+@/g, `$1${REDACTED}@`],
  [/((?:password|token|secret)["']?\s*[:=]\s*["']?)[^\s"',}]+/gi, `$1${REDACTED}`],
];

export function redactText(text: string): string {
  let out = text;
  for (const [re, replacement] of SECRET_TEXT) out = out.replace(re, replacement);
  return out;
}

/** Deep copy with secret-named keys masked and secret-looking text scrubbed. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[depth]';
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) {
    return { name: value.name, message: redactText(value.message) };
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null && typeof v !== 'boolean' && typeof v !== 'number' ? REDACTED : redact(v, depth + 1);
    }
    return out;
  }
  return value;
}

const LEVEL = Symbol.for('level');
const MESSAGE = Symbol.for('message');

const redactFormat = winston.format((info) => {
  const copy = redact({ ...info }) as Record<string | symbol, unknown>;
  for (const key of Object.keys(info)) delete (info as Record<string, unknown>)[key];
  Object.assign(info, copy);
  (info as Record<symbol, unknown>)[LEVEL] ??= info.level;
  return info;
});

export interface LoggerOptions {
  level?: 'error' | 'warn' | 'info' | 'debug';
  format?: 'auto' | 'json' | 'pretty';
  /** Where lines go (tests capture them); defaults to stdout. */
  stream?: Writable;
}

/** Root logger. Every other logger is a `child()` of it. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stdout;
  const pretty =
    options.format === 'pretty' ||
    (options.format !== 'json' && (stream as NodeJS.WriteStream).isTTY === true);
  const format = pretty
    ? winston.format.combine(
        redactFormat(),
        winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
        winston.format.colorize(),
        winston.format.printf(({ level, message, timestamp, ...meta }) => {
          const rest = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : '';
          return `${String(timestamp)} ${level} ${String(message)}${rest}`;
        }),
      )
    : winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json());
  return winston.createLogger({
    level: options.level ?? 'info',
    format,
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}

export { MESSAGE as LOG_MESSAGE };
