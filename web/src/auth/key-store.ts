/**
 * Where the console keeps the API key: sessionStorage (gone with the tab), or localStorage when
 * the user ticks "remember on this device". Sign-out and a 401 forget it in both.
 */
const KEY = 'dts.apiKey';

export function loadKey(): string | null {
  return sessionStorage.getItem(KEY) ?? localStorage.getItem(KEY);
}

export function saveKey(key: string, remember: boolean): void {
  forgetKey();
  (remember ? localStorage : sessionStorage).setItem(KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
}
