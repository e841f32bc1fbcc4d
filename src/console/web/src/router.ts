import { useEffect, useState } from 'react';

/** The console's pages; the gateway serves index.html for each path (src/console/static-files.ts). */
export const PAGES = [
  { path: '/live', label: 'Live' },
  { path: '/models', label: 'Models' },
  { path: '/accuracy', label: 'Accuracy' },
  { path: '/orders', label: 'Orders' },
  { path: '/map', label: 'Map' },
  { path: '/try', label: 'Try it' },
] as const;

export type PagePath = (typeof PAGES)[number]['path'];

function current(): PagePath {
  const found = PAGES.find((p) => p.path === window.location.pathname);
  return found ? found.path : '/live';
}

export function navigate(path: PagePath): void {
  if (window.location.pathname !== path) window.history.pushState(null, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function usePage(): PagePath {
  const [page, setPage] = useState<PagePath>(current);
  useEffect(() => {
    const on = (): void => setPage(current());
    window.addEventListener('popstate', on);
    return () => window.removeEventListener('popstate', on);
  }, []);
  return page;
}
