import { type Request, Router } from 'express';
import type { TaskStatus } from '../../db/entities';
import type {
  CreateTaskInput,
  ListTasksQuery,
  TaskService,
  UpdateTaskInput,
} from '../../services/task.service';

/** Query values after the OpenAPI validator (which has checked them) as typed values. */
export function pagination(req: Request): { page: number; limit: number } {
  return { page: Number(req.query.page ?? 1), limit: Number(req.query.limit ?? 20) };
}

const param = (req: Request, name: string): string => String(req.params[name]);

export function createTasksRouter(deps: { tasks: TaskService }): Router {
  const { tasks } = deps;
  const router = Router();

  router.post('/tasks', async (req, res) => {
    res.status(201).json(await tasks.create(req.body as CreateTaskInput));
  });

  router.get('/tasks', async (req, res) => {
    const query: ListTasksQuery = {
      ...pagination(req),
      status: req.query.status as TaskStatus | undefined,
      search: req.query.search as string | undefined,
      sort: req.query.sort as string | undefined,
    };
    res.json(await tasks.list(query));
  });

  router.get('/tasks/:id', async (req, res) => {
    res.json(await tasks.get(param(req, 'id')));
  });

  router.patch('/tasks/:id', async (req, res) => {
    res.json(await tasks.update(param(req, 'id'), req.body as UpdateTaskInput));
  });

  router.delete('/tasks/:id', async (req, res) => {
    await tasks.remove(param(req, 'id'));
    res.status(204).end();
  });

  router.post('/tasks/:id/toggle', async (req, res) => {
    res.json(await tasks.toggle(param(req, 'id')));
  });

  router.post('/tasks/:id/trigger', async (req, res) => {
    res.status(202).json(await tasks.trigger(param(req, 'id')));
  });

  return router;
}
