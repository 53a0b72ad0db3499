import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export interface LoggerOptions {
  level: string;
}

/** The one root logger of a process; components take children of it. */
export function createLogger(options: LoggerOptions): Logger {
  return pino({
    level: options.level,
    base: undefined,
    redact: ['req.headers.authorization', '*.Environment.Variables', 'secretAccessKey'],
  });
}

/** A logger that writes nothing (tests that do not look at logs). */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
