import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api, call, type LogStatus } from '../api/client';
import { duration, localTime } from '../ui/format';
import { Link } from '../ui/Link';
import { StatusBadge } from '../ui/StatusBadge';

const LIMIT = 50;

/** A datetime-local value (the viewer's zone) as the ISO instant the API takes. */
const toIso = (local: string) => (local ? new Date(local).toISOString() : undefined);

/** Every attempt of every task, newest first, with the API's filters (SPEC §10). */
export function LogsPage() {
  const [taskId, setTaskId] = useState('');
  const [status, setStatus] = useState<LogStatus | ''>('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  // Paged by cursor (meta.nextCursor): a page deep into millions of rows costs what the first
  // does. The stack holds the cursors of the pages before this one.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  useEffect(() => setCursors([]), [taskId, status, from, to]);

  const tasks = useQuery({
    queryKey: ['tasks', 'for-filter'],
    queryFn: () => call(api.GET('/api/tasks', { params: { query: { limit: 100, sort: 'name' } } })),
  });
  const logs = useQuery({
    queryKey: ['logs', { taskId, status, from, to, cursor }],
    queryFn: () =>
      call(
        api.GET('/api/logs', {
          params: {
            query: {
              limit: LIMIT,
              ...(cursor ? { cursor } : {}),
              ...(taskId ? { taskId } : {}),
              ...(status ? { status } : {}),
              ...(from ? { from: toIso(from) } : {}),
              ...(to ? { to: toIso(to) } : {}),
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: 10_000,
  });

  return (
    <section aria-labelledby="logs-title">
      <h1 id="logs-title">Logs</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter logs">
        <div className="field">
          <label htmlFor="log-task">Task</label>
          <select id="log-task" value={taskId} onChange={(e) => setTaskId(e.target.value)}>
            <option value="">All tasks</option>
            {tasks.data?.data.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="log-status">Outcome</label>
          <select
            id="log-status"
            value={status}
            onChange={(e) => setStatus(e.target.value as LogStatus | '')}
          >
            <option value="">Any</option>
            <option value="SUCCESS">Delivered</option>
            <option value="RETRYING">Retrying</option>
            <option value="FAILED">Failed</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="log-from">From</label>
          <input
            id="log-from"
            type="datetime-local"
            value={from}
            onChange={(e) => setFrom(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="log-to">To</label>
          <input
            id="log-to"
            type="datetime-local"
            value={to}
            onChange={(e) => setTo(e.target.value)}
          />
        </div>
      </form>

      {logs.isPending ? (
        <p className="loading" aria-busy="true">
          Loading logs…
        </p>
      ) : logs.isError ? (
        <p className="form-error" role="alert">
          Could not load the logs: {logs.error.message}
        </p>
      ) : logs.data.data.length === 0 ? (
        <p className="empty">No delivery attempts match.</p>
      ) : (
        <table className="cards">
          <caption className="visually-hidden">Delivery attempts, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Task</th>
              <th scope="col">Outcome</th>
              <th scope="col">Attempt</th>
              <th scope="col">HTTP status</th>
              <th scope="col">Duration</th>
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {logs.data.data.map((log) => (
              <tr key={log.id}>
                <td data-label="Time">
                  <time dateTime={log.executionTime}>{localTime(log.executionTime, true)}</time>
                </td>
                <td data-label="Task">
                  <Link href={`/tasks/${log.taskId}`}>{log.taskName ?? log.taskId}</Link>
                </td>
                <td data-label="Outcome">
                  <StatusBadge status={log.status} />
                </td>
                <td data-label="Attempt">{log.attempt}</td>
                <td data-label="HTTP status">{log.httpStatus ?? '—'}</td>
                <td data-label="Duration">{duration(log.durationMs)}</td>
                <td data-label="Message" className="message">
                  {log.message ?? '—'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {logs.data && (cursors.length > 0 || logs.data.meta.nextCursor) && (
        <nav className="pager" aria-label="Pages">
          <button
            type="button"
            disabled={cursors.length === 0}
            onClick={() => setCursors(cursors.slice(0, -1))}
          >
            Newer
          </button>
          <span>
            Page {cursors.length + 1} of {logs.data.meta.totalIsEstimate ? 'about ' : ''}
            {logs.data.meta.totalPages}
          </span>
          <button
            type="button"
            disabled={!logs.data.meta.nextCursor}
            onClick={() => setCursors([...cursors, logs.data.meta.nextCursor!])}
          >
            Older
          </button>
        </nav>
      )}
    </section>
  );
}
