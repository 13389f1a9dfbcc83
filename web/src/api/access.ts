import { useQuery } from '@tanstack/react-query';
import { api, call, type Schemas } from './client';

export type Access = Schemas['ClientConfig']['access'];

/** What the console shows a read-only key instead of its write actions (SPEC §14). */
export const READ_ONLY_NOTICE =
  'Signed in with a read-only key: you can see tasks, logs and the dashboard, but not change or run them.';

/**
 * GET /api/config: the Temporal UI to link executions to, and what the key may do. Read once per
 * key (each key has its own query cache); a 403 refetches it (App), in case the key was demoted.
 */
export function useClientConfig() {
  return useQuery({
    queryKey: ['config'],
    queryFn: () => call(api.GET('/api/config')),
    staleTime: Infinity,
  });
}

/**
 * Whether the key may write. Write actions show only once the API said `read-write`, so a
 * read-only key never sees one flash; if the configuration cannot be read, they show (the API
 * still refuses what the key may not do, and the console shows its answer).
 */
export function useAccess(): { known: boolean; readOnly: boolean; canWrite: boolean } {
  const config = useClientConfig();
  const known = config.isSuccess || config.isError;
  const readOnly = config.data?.access === 'read-only';
  return { known, readOnly, canWrite: known && !readOnly };
}
