type LogFn = (fields: Record<string, unknown>, message: string) => void;

/** The logging the application needs; pino's logger fits it. */
export type AppLogger = { debug: LogFn; info: LogFn; warn: LogFn; error: LogFn };

export const silentLogger: AppLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
