/** An invalid schedule or time zone; `message` is the reason, fit to show the client. */
export class ScheduleError extends Error {
  constructor(
    message: string,
    /** The task field at fault, for a 400 that names it. */
    readonly field: 'schedule' | 'timezone' = 'schedule',
  ) {
    super(message);
    this.name = 'ScheduleError';
  }
}
