import { useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { percent } from '../ui/format';
import { HourlyChart } from './HourlyChart';

export function DashboardPage() {
  const stats = useQuery({
    queryKey: ['stats'],
    queryFn: () => call(api.GET('/api/dashboard/stats')),
    refetchInterval: 15_000,
  });
  const series = useQuery({
    queryKey: ['timeseries', 24],
    queryFn: () => call(api.GET('/api/dashboard/timeseries', { params: { query: { hours: 24 } } })),
    refetchInterval: 60_000,
  });

  return (
    <section aria-labelledby="dashboard-title">
      <h1 id="dashboard-title">Dashboard</h1>
      {stats.isPending ? (
        <p className="loading" aria-busy="true">
          Loading the counters…
        </p>
      ) : stats.isError ? (
        <p className="form-error" role="alert">
          Could not load the counters: {stats.error.message}
        </p>
      ) : (
        <>
          <h2>Tasks</h2>
          <div className="stat-grid">
            <Stat label="All tasks" value={stats.data.tasks.total} />
            <Stat label="Active" value={stats.data.tasks.active} />
            <Stat label="Paused" value={stats.data.tasks.inactive} />
            <Stat label="Failed tasks" value={stats.data.tasks.failed} />
            <Stat label="Completed" value={stats.data.tasks.completed} />
          </div>
          <h2>Deliveries</h2>
          <div className="stat-grid">
            <Stat label="Attempts" value={stats.data.executions.total} />
            <Stat label="Success rate" value={percent(stats.data.executions.successRate)} />
            <Stat label="Delivered, 24 h" value={stats.data.executions.last24h.success} />
            <Stat label="Failed, 24 h" value={stats.data.executions.last24h.failed} />
          </div>
        </>
      )}
      <h2>Attempts per hour, last 24 hours</h2>
      {series.isPending ? (
        <p className="loading" aria-busy="true">
          Loading the chart…
        </p>
      ) : series.isError ? (
        <p className="form-error" role="alert">
          Could not load the chart: {series.error.message}
        </p>
      ) : (
        <HourlyChart data={series.data.data} />
      )}
    </section>
  );
}

function Stat({ label, value }: { label: string; value: number | string }) {
  return (
    <div className="stat">
      <div className="stat-value">{value}</div>
      <div className="stat-label">{label}</div>
    </div>
  );
}
