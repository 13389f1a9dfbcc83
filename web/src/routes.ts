import { useSyncExternalStore } from 'react';

/**
 * The console's client routes. src/api/console.ts serves index.html for exactly these paths, so
 * a reload or a shared link lands on the same screen; keep the two lists in step.
 */
export type Route =
  | { name: 'tasks' }
  | { name: 'new' }
  | { name: 'task'; id: string }
  | { name: 'edit'; id: string }
  | { name: 'logs' }
  | { name: 'dashboard' }
  | { name: 'not-found' };

const UUID = '[0-9a-f-]{36}';

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === '/tasks') return { name: 'tasks' };
  if (path === '/tasks/new') return { name: 'new' };
  if (path === '/logs') return { name: 'logs' };
  if (path === '/dashboard') return { name: 'dashboard' };
  let match = new RegExp(`^/tasks/(${UUID})$`).exec(path);
  if (match) return { name: 'task', id: match[1]! };
  match = new RegExp(`^/tasks/(${UUID})/edit$`).exec(path);
  if (match) return { name: 'edit', id: match[1]! };
  return { name: 'not-found' };
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((l) => l()));

export function navigate(to: string): void {
  if (to === location.pathname + location.search) return;
  history.pushState(null, '', to);
  listeners.forEach((l) => l());
  window.scrollTo(0, 0);
}

export function useRoute(): Route {
  const path = useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => location.pathname,
  );
  return parseRoute(path);
}
