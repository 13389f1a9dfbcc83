import { ConfigError, loadConfig } from '../../src/config';
import { workerTuningOptions } from '../../src/main/worker';

describe('worker tuning (WORKER_*, DELIVERY_FIRST_ATTEMPT)', () => {
  it('when nothing is set, then the measured defaults apply and the first attempt is local', () => {
    const config = loadConfig({});

    expect(config.deliveryFirstAttempt).toBe('local');
    expect(workerTuningOptions(config.worker)).toEqual({
      maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
      maxConcurrentLocalActivityExecutions: config.worker.maxConcurrentLocalActivities,
      maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
      maxCachedWorkflows: config.worker.maxCachedWorkflows,
      workflowThreadPoolSize: config.worker.workflowThreads,
      maxConcurrentWorkflowTaskPolls: config.worker.workflowTaskPollers,
      nonStickyToStickyPollRatio: config.worker.taskQueuePollShare,
      maxConcurrentActivityTaskPolls: config.worker.activityTaskPollers,
    });
  });

  it('when each variable is set, then it reaches the SDK option it names', () => {
    const config = loadConfig({
      DELIVERY_FIRST_ATTEMPT: 'activity',
      WORKER_MAX_CONCURRENT_ACTIVITIES: '7',
      WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES: '9',
      WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '11',
      WORKER_MAX_CACHED_WORKFLOWS: '13',
      WORKER_WORKFLOW_POLLERS: '3',
      WORKER_ACTIVITY_POLLERS: '2',
      WORKER_WORKFLOW_THREADS: '3',
      WORKER_TASK_QUEUE_POLL_SHARE: '0.5',
    });

    expect(config.deliveryFirstAttempt).toBe('activity');
    expect(workerTuningOptions(config.worker)).toEqual({
      maxConcurrentActivityTaskExecutions: 7,
      maxConcurrentLocalActivityExecutions: 9,
      maxConcurrentWorkflowTaskExecutions: 11,
      maxCachedWorkflows: 13,
      workflowThreadPoolSize: 3,
      maxConcurrentWorkflowTaskPolls: 3,
      nonStickyToStickyPollRatio: 0.5,
      maxConcurrentActivityTaskPolls: 2,
    });
  });

  it('when there are more pollers than slots, then the pollers are capped at the slots (the SDK refuses more)', () => {
    const config = loadConfig({
      WORKER_MAX_CONCURRENT_ACTIVITIES: '2',
      WORKER_ACTIVITY_POLLERS: '8',
      WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '3',
      WORKER_WORKFLOW_POLLERS: '8',
    });

    expect(workerTuningOptions(config.worker)).toMatchObject({
      maxConcurrentActivityTaskPolls: 2,
      maxConcurrentWorkflowTaskPolls: 3,
    });
  });

  it.each([
    [{ DELIVERY_FIRST_ATTEMPT: 'remote' }, /DELIVERY_FIRST_ATTEMPT/],
    [{ WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '1' }, /WORKER_MAX_CONCURRENT_WORKFLOW_TASKS/],
    [{ WORKER_WORKFLOW_POLLERS: '0' }, /WORKER_WORKFLOW_POLLERS/],
    [{ WORKER_MAX_CACHED_WORKFLOWS: 'many' }, /WORKER_MAX_CACHED_WORKFLOWS/],
    [{ WORKER_TASK_QUEUE_POLL_SHARE: '0' }, /WORKER_TASK_QUEUE_POLL_SHARE/],
    [{ WORKER_TASK_QUEUE_POLL_SHARE: '1.5' }, /WORKER_TASK_QUEUE_POLL_SHARE/],
  ])('when %j, then the configuration is refused naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
