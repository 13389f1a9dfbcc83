import { createContext, type ReactNode, useCallback, useContext, useState } from 'react';

/**
 * One polite live region for what an action did ("Delivery started"), so a screen reader hears
 * it and a sighted user sees it near the top of the page.
 */
const NoticeContext = createContext<(text: string, kind?: 'ok' | 'error') => void>(() => undefined);

export function NoticeProvider({ children }: { children: ReactNode }) {
  const [notice, setNotice] = useState<{ text: string; kind: 'ok' | 'error'; at: number } | null>(
    null,
  );
  const show = useCallback((text: string, kind: 'ok' | 'error' = 'ok') => {
    const at = Date.now();
    setNotice({ text, kind, at });
    setTimeout(() => setNotice((current) => (current?.at === at ? null : current)), 6000);
  }, []);
  return (
    <NoticeContext.Provider value={show}>
      <div className="notice-region" role="status" aria-live="polite">
        {notice && <div className={`notice notice-${notice.kind}`}>{notice.text}</div>}
      </div>
      {children}
    </NoticeContext.Provider>
  );
}

export const useNotice = () => useContext(NoticeContext);
