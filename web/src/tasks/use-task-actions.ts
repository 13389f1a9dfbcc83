import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, call, type Task } from '../api/client';
import { useNotice } from '../ui/Notice';

/** Run now, pause/resume and delete, shared by the tasks table and the task page. */
export function useTaskActions() {
  const queryClient = useQueryClient();
  const notice = useNotice();
  const refresh = () => queryClient.invalidateQueries();
  const failed = (error: Error) => notice(error.message, 'error');

  const trigger = useMutation({
    mutationFn: (task: Task) =>
      call(api.POST('/api/tasks/{id}/trigger', { params: { path: { id: task.id } } })),
    onSuccess: (_data, task) => {
      notice(`Delivery of “${task.name}” started.`);
      void refresh();
    },
    onError: failed,
  });
  const toggle = useMutation({
    mutationFn: (task: Task) =>
      call(api.POST('/api/tasks/{id}/toggle', { params: { path: { id: task.id } } })),
    onSuccess: (task) => {
      notice(task.status === 'ACTIVE' ? `“${task.name}” resumed.` : `“${task.name}” paused.`);
      void refresh();
    },
    onError: failed,
  });
  const remove = useMutation({
    mutationFn: (task: Task) =>
      call(api.DELETE('/api/tasks/{id}', { params: { path: { id: task.id } } })),
    onSuccess: (_data, task) => {
      notice(`“${task.name}” deleted.`);
      void refresh();
    },
    onError: failed,
  });
  return { trigger, toggle, remove };
}
