import { type Request, Router } from 'express';
import type { ExecutionStatus } from '../../db/entities';
import { decodeLogCursor, type LogQuery, type LogService } from '../../services/log.service';
import { ValidationError } from '../../errors';
import { pagination } from './tasks.router';

/**
 * `from` / `to` as instants. The validator's `date-time` check is a pattern (it lets through
 * e.g. `2025-02-30T00:00:00Z`, which JavaScript would roll over to March 2, or a leap second,
 * which it cannot represent); such values are a 400 naming the field, never a 500 or a silent
 * shift.
 */
function instant(req: Request, name: 'from' | 'to'): Date | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  const text = String(value);
  const date = new Date(text);
  if (Number.isNaN(date.getTime()) || !isCalendarDate(text)) {
    throw new ValidationError('The request is invalid; see errors.', [
      { path: `query.${name}`, message: 'must be an existing ISO 8601 date-time' },
    ]);
  }
  return date;
}

/** The `YYYY-MM-DD` part names a day that exists (month 1-12, day within that month). */
function isCalendarDate(text: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  if (!match) return false;
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return daysInMonth !== undefined && day >= 1 && day <= daysInMonth;
}

function logQuery(req: Request): LogQuery {
  return {
    ...pagination(req),
    cursor: req.query.cursor === undefined ? undefined : decodeLogCursor(String(req.query.cursor)),
    status: req.query.status as ExecutionStatus | undefined,
    from: instant(req, 'from'),
    to: instant(req, 'to'),
  };
}

export function createLogsRouter(deps: { logs: LogService }): Router {
  const { logs } = deps;
  const router = Router();

  router.get('/tasks/:id/logs', async (req, res) => {
    res.json(await logs.listForTask(String(req.params.id), logQuery(req)));
  });

  router.get('/logs', async (req, res) => {
    res.json(await logs.list({ ...logQuery(req), taskId: req.query.taskId as string | undefined }));
  });

  return router;
}
