/**
 * The cron macros and the 5-field crons they stand for. Pure data, shared by the validator
 * (cron.ts) and the description in words (describe.ts), which also runs in the web console.
 */
export const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@hourly': '0 * * * *',
};
