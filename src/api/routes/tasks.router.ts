import { type Request, type Response, Router } from 'express';
import { ConflictError, UnprocessableError } from '../../errors';
import { type IdempotencyService, requestHash } from '../../services/idempotency.service';
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

export function createTasksRouter(deps: {
  tasks: TaskService;
  idempotency: IdempotencyService;
}): Router {
  const { tasks, idempotency } = deps;
  const router = Router();

  /**
   * Runs `handle` once per Idempotency-Key (SPEC §14): a repeat with the same key and request, by
   * the same API key, within 24 h, gets the first answer again; with another request, a 422; while
   * the first has not answered, a 409. A failed request gives its key back. Without the header,
   * `handle` simply runs.
   */
  async function once(
    req: Request,
    res: Response,
    status: number,
    handle: (key: string | undefined) => Promise<unknown>,
  ): Promise<void> {
    const key = req.get('idempotency-key');
    if (key === undefined) {
      res.status(status).json(await handle(undefined));
      return;
    }
    const apiKeyId = String(res.locals.apiKeyId);
    const state = await idempotency.begin(
      apiKeyId,
      key,
      requestHash(req.method, `${req.baseUrl}${req.path}`, req.body),
    );
    if (state.kind === 'mismatch') {
      throw new UnprocessableError(
        'This Idempotency-Key was used with another request; use a new key for a new request.',
      );
    }
    if (state.kind === 'in-progress') {
      throw new ConflictError(
        'A request with this Idempotency-Key is still being handled; try again shortly.',
      );
    }
    if (state.kind === 'replay') {
      res.status(state.status).set('Idempotent-Replayed', 'true').json(state.body);
      return;
    }
    let body: unknown;
    try {
      body = await handle(key);
    } catch (error) {
      await idempotency.abandon(apiKeyId, key).catch(() => undefined);
      throw error;
    }
    await idempotency.finish(apiKeyId, key, status, body);
    res.status(status).json(body);
  }

  router.post('/tasks', async (req, res) => {
    await once(req, res, 201, () => tasks.create(req.body as CreateTaskInput));
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
    await once(req, res, 202, (key) =>
      tasks.trigger(
        param(req, 'id'),
        key === undefined ? undefined : { apiKeyId: String(res.locals.apiKeyId), key },
      ),
    );
  });

  return router;
}
