import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { describeSchedule } from '../../../src/schedule/describe';
import { useAccess, useClientConfig } from '../api/access';
import { api, call, type SchedulePreview, type Task } from '../api/client';
import { describeDuration, MESSAGE_MODES } from '../editor/model';
import { NextRuns, useSchedulePreview } from '../editor/ScheduleField';
import { navigate } from '../routes';
import { Pager } from '../tasks/TasksPage';
import { useTaskActions } from '../tasks/use-task-actions';
import { ConfirmDialog } from '../ui/ConfirmDialog';
import { duration, localTime, relativeTime, zonedTime } from '../ui/format';
import { Link } from '../ui/Link';
import { StatusBadge } from '../ui/StatusBadge';
import { runsLeftText, whyNoRunAhead } from './completion';
import { type Execution, groupByExecution, temporalTaskRunsUrl, temporalUrl } from './deliveries';

const LOGS_PER_PAGE = 100;
/** The id of what a COMPLETED task's Resume button is described by. */
const COMPLETED_NOTE = 'completed-note';

export function TaskPage({ id }: { id: string }) {
  const [confirming, setConfirming] = useState(false);
  const [page, setPage] = useState(1);
  const actions = useTaskActions();
  const task = useQuery({
    queryKey: ['task', id],
    queryFn: () => call(api.GET('/api/tasks/{id}', { params: { path: { id } } })),
    refetchInterval: 5_000,
  });
  const logs = useQuery({
    queryKey: ['task-logs', id, page],
    queryFn: () =>
      call(
        api.GET('/api/tasks/{id}/logs', {
          params: { path: { id }, query: { page, limit: LOGS_PER_PAGE } },
        }),
      ),
    refetchInterval: 3_000,
    placeholderData: keepPreviousData,
  });
  const config = useClientConfig();
  // A read-only key (SPEC §14) sees the task and its deliveries, with no action on them.
  const { canWrite } = useAccess();
  const active = task.data?.status === 'ACTIVE';
  const completed = task.data?.status === 'COMPLETED';
  const preview = useSchedulePreview(task.data?.schedule ?? '', task.data?.timezone ?? '', {
    startAt: task.data?.startAt,
    endAt: task.data?.endAt,
    maxRuns: task.data?.maxRuns,
    runsMade: (task.data?.maxRuns ?? 0) - (task.data?.runsLeft ?? 0),
  });

  if (task.isPending) {
    return (
      <p className="loading" aria-busy="true">
        Loading the task…
      </p>
    );
  }
  if (task.isError) {
    return (
      <div role="alert" className="form-error">
        <p>Could not load the task: {task.error.message}</p>
        <Link href="/tasks">Back to the tasks</Link>
      </div>
    );
  }
  const t = task.data;
  const executions = groupByExecution(logs.data?.data ?? []);
  const ui = config.data?.temporalUiUrl;

  return (
    <section aria-labelledby="task-title">
      <div className="page-head">
        <h1 id="task-title">{t.name}</h1>
        <div className="actions">
          {ui && (
            <a
              href={temporalTaskRunsUrl(ui, config.data!.temporalNamespace, t.id)}
              className="button"
              target="_blank"
              rel="noopener noreferrer"
            >
              Open in Temporal UI
              <span className="visually-hidden"> (every run of this task, new tab)</span>
            </a>
          )}
          {canWrite && (
            <>
              <button type="button" onClick={() => actions.trigger.mutate(t)}>
                Run now
              </button>
              <button
                type="button"
                onClick={() => actions.toggle.mutate(t)}
                aria-describedby={completed ? COMPLETED_NOTE : undefined}
              >
                {active ? 'Pause' : 'Resume'}
              </button>
              <Link href={`/tasks/${t.id}/edit`} className="button">
                Edit
              </Link>
              <button type="button" className="danger" onClick={() => setConfirming(true)}>
                Delete
              </button>
            </>
          )}
        </div>
      </div>

      <div className="task-overview">
        <section aria-labelledby="settings-title" className="panel">
          <h2 id="settings-title">Settings</h2>
          <dl className="settings">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={t.status} />
            </dd>
            <dt>Schedule</dt>
            <dd>
              {describeSchedule(t.schedule)} <code>{t.schedule}</code>
            </dd>
            <dt>Time zone</dt>
            <dd>{t.timezone}</dd>
            {t.startAt && (
              <>
                <dt>Start at</dt>
                <dd>
                  <time dateTime={t.startAt}>{zonedTime(t.startAt, t.timezone)}</time>
                </dd>
              </>
            )}
            {t.endAt && (
              <>
                <dt>End at</dt>
                <dd>
                  <time dateTime={t.endAt}>{zonedTime(t.endAt, t.timezone)}</time>
                </dd>
              </>
            )}
            {t.maxRuns !== null && (
              <>
                <dt>Max runs</dt>
                <dd>{runsLeftText(t)}</dd>
              </>
            )}
            <dt>Webhook</dt>
            <dd>
              <code className="break">{t.webhookUrl}</code>
            </dd>
            <dt>Retries</dt>
            <dd>{t.maxRetry}</dd>
            <dt>Messages</dt>
            <dd>
              {MESSAGE_MODES.find((m) => m.value === t.messageMode)?.summary ?? t.messageMode}
            </dd>
            <dt>Delete after</dt>
            <dd>
              {t.deleteAfter ? (
                <>
                  {describeDuration(t.deleteAfter)} <code>{t.deleteAfter}</code>
                </>
              ) : (
                'never'
              )}
            </dd>
            <dt>Alerts</dt>
            <dd>
              {t.alertWebhookUrl ? (
                <code className="break">{t.alertWebhookUrl}</code>
              ) : (
                "the deployment's alert webhook"
              )}
            </dd>
            {t.lastMessageId && (
              <>
                <dt>Last message</dt>
                <dd>
                  <code className="break copyable" title="Discord message id">
                    {t.lastMessageId}
                  </code>
                </dd>
              </>
            )}
            <dt>Last result</dt>
            <dd>
              <StatusBadge status={t.lastExecutionStatus} />
              {t.lastExecutionAt && <> {localTime(t.lastExecutionAt)}</>}
            </dd>
          </dl>
        </section>
        <section aria-labelledby="next-title" className="panel">
          <h2 id="next-title">Next runs</h2>
          {active ? (
            <NextRuns preview={preview.data} timezone={t.timezone} loading={preview.isFetching} />
          ) : completed ? (
            <CompletedNote
              task={t}
              preview={preview.data}
              loading={preview.isFetching}
              canWrite={canWrite}
            />
          ) : (
            <p className="muted">
              {t.status === 'FAILED'
                ? `The task failed and its schedule is paused${canWrite ? '; resume it to run again' : ''}.`
                : 'Paused: nothing runs until it is resumed.'}
            </p>
          )}
        </section>
      </div>

      <section aria-labelledby="deliveries-title">
        <h2 id="deliveries-title">Deliveries</h2>
        {logs.isPending ? (
          <p className="loading" aria-busy="true">
            Loading deliveries…
          </p>
        ) : logs.isError ? (
          <p className="form-error" role="alert">
            Could not load the deliveries: {logs.error.message}
          </p>
        ) : executions.length === 0 ? (
          <p className="empty">No deliveries yet.{canWrite && ' “Run now” sends one at once.'}</p>
        ) : (
          executions.map((e) => (
            <ExecutionCard
              key={e.workflowId}
              execution={e}
              temporalLink={ui ? temporalUrl(ui, config.data!.temporalNamespace, e) : undefined}
            />
          ))
        )}
        {logs.data && logs.data.meta.totalPages > 1 && (
          <Pager page={page} totalPages={logs.data.meta.totalPages} onPage={setPage} />
        )}
      </section>

      <ConfirmDialog
        open={confirming}
        title="Delete this task?"
        message={`“${t.name}” and all its delivery logs will be deleted, and its schedule removed. This cannot be undone.`}
        confirmLabel="Delete task"
        onCancel={() => setConfirming(false)}
        onConfirm={() => {
          setConfirming(false);
          actions.remove.mutate(t, { onSuccess: () => navigate('/tasks') });
        }}
      />
    </section>
  );
}

/**
 * Why a COMPLETED task runs no more, and what brings it back (SPEC §14): a change that gives it a
 * run ahead, then Resume. The preview (within its bounds and runs left) says whether it has one;
 * Resume stays offered either way, for the server decides and says why when it refuses.
 */
function CompletedNote(props: {
  task: Task;
  preview?: SchedulePreview;
  loading: boolean;
  canWrite: boolean;
}) {
  const { task, preview } = props;
  // With its runs used up there is nothing to wait for; the preview lists none either way.
  if (task.runsLeft !== 0 && !preview && props.loading) {
    return (
      <p id={COMPLETED_NOTE} className="muted">
        Completed. Computing…
      </p>
    );
  }
  if (preview && preview.nextRuns.length > 0) {
    return (
      <>
        <p id={COMPLETED_NOTE}>
          Completed, and changed since: it has a run ahead again.
          {props.canWrite ? ' Resume it to run at these times.' : ''}
        </p>
        <NextRuns preview={preview} timezone={task.timezone} />
      </>
    );
  }
  return (
    <p id={COMPLETED_NOTE}>
      Completed: {whyNoRunAhead(task)}. Nothing runs on its schedule any more.
      {props.canWrite &&
        ' To run it again, edit it so that it has a run ahead (a later time, a later end or more runs), then resume it.'}
    </p>
  );
}

function ExecutionCard({
  execution: e,
  temporalLink,
}: {
  execution: Execution;
  temporalLink?: string;
}) {
  const when = e.scheduledTime
    ? `Scheduled for ${localTime(e.scheduledTime)}`
    : `Run by hand, ${localTime(e.attempts[0]!.executionTime)}`;
  return (
    <article className="execution" aria-label={`${when}: ${e.outcome.toLowerCase()}`}>
      <header>
        <h3>{when}</h3>
        <StatusBadge status={e.outcome} />
        <span className="muted small">{relativeTime(e.lastAt)}</span>
        {temporalLink && (
          <a href={temporalLink} target="_blank" rel="noreferrer noopener">
            Open in Temporal UI<span className="visually-hidden"> (new tab)</span>
          </a>
        )}
      </header>
      <table className="cards attempts">
        <thead>
          <tr>
            <th scope="col">Attempt</th>
            <th scope="col">Outcome</th>
            <th scope="col">HTTP status</th>
            <th scope="col">Duration</th>
            <th scope="col">Time</th>
            <th scope="col">Message</th>
          </tr>
        </thead>
        <tbody>
          {e.attempts.map((a) => (
            <tr key={a.id}>
              <td data-label="Attempt">{a.attempt}</td>
              <td data-label="Outcome">
                <StatusBadge status={a.status} />
              </td>
              <td data-label="HTTP status">{a.httpStatus ?? '—'}</td>
              <td data-label="Duration">{duration(a.durationMs)}</td>
              <td data-label="Time">
                <time dateTime={a.executionTime}>{localTime(a.executionTime, true)}</time>
              </td>
              <td data-label="Message" className="message">
                {a.message ?? '—'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </article>
  );
}
