import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { describeSchedule } from '../../../src/schedule/describe';
import { useAccess } from '../api/access';
import { api, call, type Task, type TaskStatus } from '../api/client';
import { ConfirmDialog } from '../ui/ConfirmDialog';
import { localTime, relativeTime } from '../ui/format';
import { Link } from '../ui/Link';
import { StatusBadge } from '../ui/StatusBadge';
import { useTaskActions } from './use-task-actions';

type Sort = 'createdAt' | '-createdAt' | 'name' | '-name' | 'lastExecutionAt' | '-lastExecutionAt';
const SORTS: [Sort, string][] = [
  ['-createdAt', 'Newest first'],
  ['createdAt', 'Oldest first'],
  ['name', 'Name A–Z'],
  ['-name', 'Name Z–A'],
  ['-lastExecutionAt', 'Last run, latest first'],
  ['lastExecutionAt', 'Last run, earliest first'],
];
const LIMIT = 20;

/** Typing pauses this long before the search is sent. */
function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

export function TasksPage() {
  const [search, setSearch] = useState('');
  const [status, setStatus] = useState<TaskStatus | ''>('');
  const [sort, setSort] = useState<Sort>('-createdAt');
  const [page, setPage] = useState(1);
  const [deleting, setDeleting] = useState<Task | null>(null);
  const query = useDebounced(search.trim(), 300);
  const actions = useTaskActions();
  // A read-only key (SPEC §14) sees the tasks with no action to change or run them.
  const { canWrite } = useAccess();

  useEffect(() => setPage(1), [query, status, sort]);

  const tasks = useQuery({
    queryKey: ['tasks', { query, status, sort, page }],
    queryFn: () =>
      call(
        api.GET('/api/tasks', {
          params: {
            query: {
              page,
              limit: LIMIT,
              sort,
              ...(query ? { search: query.slice(0, 100) } : {}),
              ...(status ? { status } : {}),
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
  const meta = tasks.data?.meta;
  const filtered = Boolean(query || status);

  return (
    <section aria-labelledby="tasks-title">
      <div className="page-head">
        <h1 id="tasks-title">Tasks</h1>
        {canWrite && (
          <Link href="/tasks/new" className="button primary">
            New task
          </Link>
        )}
      </div>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="task-search">Search by name</label>
          <input
            id="task-search"
            type="search"
            value={search}
            maxLength={100}
            onChange={(e) => setSearch(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="task-status">Status</label>
          <select
            id="task-status"
            value={status}
            onChange={(e) => setStatus(e.target.value as TaskStatus | '')}
          >
            <option value="">Any</option>
            <option value="ACTIVE">Active</option>
            <option value="INACTIVE">Paused</option>
            <option value="FAILED">Failed</option>
            <option value="COMPLETED">Completed</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="task-sort">Sort</label>
          <select id="task-sort" value={sort} onChange={(e) => setSort(e.target.value as Sort)}>
            {SORTS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
      </form>

      {tasks.isPending ? (
        <p className="loading" aria-busy="true">
          Loading tasks…
        </p>
      ) : tasks.isError ? (
        <p className="form-error" role="alert">
          Could not load the tasks: {tasks.error.message}
        </p>
      ) : tasks.data.data.length === 0 ? (
        <div className="empty">
          {filtered ? (
            <p>No task matches these filters.</p>
          ) : (
            <>
              <p>No tasks yet. A task posts a Discord message on a schedule.</p>
              {canWrite && (
                <Link href="/tasks/new" className="button primary">
                  Create your first task
                </Link>
              )}
            </>
          )}
        </div>
      ) : (
        <table className="cards" aria-describedby="tasks-count">
          <caption id="tasks-count" className="visually-hidden">
            Tasks, page {meta?.page} of {meta?.totalIsEstimate ? 'about ' : ''}
            {meta?.totalPages}
          </caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Schedule</th>
              <th scope="col">Next run</th>
              <th scope="col">Status</th>
              <th scope="col">Last result</th>
              {canWrite && (
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {tasks.data.data.map((task) => (
              <tr key={task.id}>
                <td data-label="Name">
                  <Link href={`/tasks/${task.id}`} className="task-name">
                    {task.name}
                  </Link>
                </td>
                <td data-label="Schedule">
                  {describeSchedule(task.schedule)}
                  <div className="muted small">
                    <code>{task.schedule}</code>
                    {task.timezone !== 'UTC' && <> · {task.timezone}</>}
                  </div>
                </td>
                <td data-label="Next run">
                  {task.nextRunAt ? (
                    <>
                      <time dateTime={task.nextRunAt}>{localTime(task.nextRunAt)}</time>
                      <div className="muted small">{relativeTime(task.nextRunAt)}</div>
                    </>
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
                <td data-label="Status">
                  <StatusBadge status={task.status} />
                </td>
                <td data-label="Last result">
                  <StatusBadge status={task.lastExecutionStatus} />
                  {task.lastExecutionAt && (
                    <div className="muted small">{relativeTime(task.lastExecutionAt)}</div>
                  )}
                </td>
                {canWrite && (
                  <td className="row-actions">
                    <button
                      type="button"
                      onClick={() => actions.trigger.mutate(task)}
                      aria-label={`Run ${task.name} now`}
                    >
                      Run now
                    </button>
                    <button
                      type="button"
                      onClick={() => actions.toggle.mutate(task)}
                      aria-label={`${task.status === 'ACTIVE' ? 'Pause' : 'Resume'} ${task.name}`}
                    >
                      {task.status === 'ACTIVE' ? 'Pause' : 'Resume'}
                    </button>
                    <button
                      type="button"
                      className="danger"
                      onClick={() => setDeleting(task)}
                      aria-label={`Delete ${task.name}`}
                    >
                      Delete
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}

      {meta && meta.totalPages > 1 && (
        <Pager
          page={meta.page}
          totalPages={meta.totalPages}
          estimate={meta.totalIsEstimate}
          onPage={setPage}
        />
      )}

      <ConfirmDialog
        open={deleting !== null}
        title="Delete this task?"
        message={`“${deleting?.name ?? ''}” and all its delivery logs will be deleted, and its schedule removed. This cannot be undone.`}
        confirmLabel="Delete task"
        onCancel={() => setDeleting(null)}
        onConfirm={() => {
          if (deleting) actions.remove.mutate(deleting);
          setDeleting(null);
        }}
      />
    </section>
  );
}

export function Pager(props: {
  page: number;
  totalPages: number;
  /** The total is PostgreSQL's estimate (more than 1,000 match): "of about". */
  estimate?: boolean;
  onPage: (page: number) => void;
}) {
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={props.page <= 1} onClick={() => props.onPage(props.page - 1)}>
        Previous page
      </button>
      <span>
        Page {props.page} of {props.estimate ? 'about ' : ''}
        {props.totalPages}
      </span>
      <button
        type="button"
        disabled={props.page >= props.totalPages}
        onClick={() => props.onPage(props.page + 1)}
      >
        Next page
      </button>
    </nav>
  );
}
