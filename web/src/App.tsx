import { MutationCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useCallback, useMemo, useState } from 'react';
import { ApiError, setSession } from './api/client';
import { forgetKey, loadKey, saveKey } from './auth/key-store';
import { SignInPage } from './auth/SignInPage';
import { DashboardPage } from './dashboard/DashboardPage';
import { EditorPage } from './editor/EditorPage';
import { Shell } from './layout/Shell';
import { LogsPage } from './logs/LogsPage';
import { useRoute } from './routes';
import { TaskPage } from './task/TaskPage';
import { TasksPage } from './tasks/TasksPage';
import { NoticeProvider } from './ui/Notice';

export function App() {
  const [key, setKey] = useState<string | null>(() => loadKey());
  const [expired, setExpired] = useState(false);

  const signOut = useCallback((why?: 'expired') => {
    forgetKey();
    setSession(null);
    setExpired(why === 'expired');
    setKey(null);
  }, []);

  // Set before the first render of a screen, so its first request already carries the key.
  if (key) setSession(key, () => signOut('expired'));

  const queryClient = useMemo(() => {
    const client: QueryClient = new QueryClient({
      // A 403 is a read-only key asking to write (SPEC §14): the screen shows the API's detail,
      // and the key's access is read again, so the console stops offering what it may not do.
      mutationCache: new MutationCache({
        onError: (error) => {
          if (error instanceof ApiError && error.status === 403) {
            void client.invalidateQueries({ queryKey: ['config'] });
          }
        },
      }),
      defaultOptions: {
        queries: {
          staleTime: 5_000,
          // 4xx are answers, not hiccups: retry only what may pass on a second try.
          retry: (count, error) =>
            count < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
        },
      },
    });
    return client;
    // A new cache per key: nothing one key saw is shown to the next.
  }, [key]);

  if (!key) {
    return (
      <SignInPage
        expired={expired}
        onSignedIn={(newKey, remember) => {
          saveKey(newKey, remember);
          setExpired(false);
          setKey(newKey);
        }}
      />
    );
  }
  return (
    <QueryClientProvider client={queryClient}>
      <NoticeProvider>
        <Shell onSignOut={() => signOut()}>
          <Screen />
        </Shell>
      </NoticeProvider>
    </QueryClientProvider>
  );
}

function Screen() {
  const route = useRoute();
  switch (route.name) {
    case 'tasks':
      return <TasksPage />;
    case 'new':
      return <EditorPage />;
    case 'edit':
      return <EditorPage id={route.id} key={route.id} />;
    case 'task':
      return <TaskPage id={route.id} key={route.id} />;
    case 'logs':
      return <LogsPage />;
    case 'dashboard':
      return <DashboardPage />;
    default:
      return (
        <section>
          <h1>Page not found</h1>
          <p>There is no such page in the console.</p>
        </section>
      );
  }
}
