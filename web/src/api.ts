/**
 * Typed access to the LineSight HTTP API from the browser. The bearer token is read once from the
 * page URL (`?token=...`), kept in sessionStorage (gone when the tab closes) and removed from the
 * address bar so it does not end up in screenshots, bookmarks or the browser history.
 */

const TOKEN_KEY = 'linesight.token';

/** An API answer that was not 2xx, with the server's stable error code when it sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;

  constructor(status: number, message: string, code?: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

let token: string | null = null;

/** Take `?token=` from the URL into sessionStorage once; later loads read sessionStorage. */
export function initToken(loc: Location = window.location, storage: Storage = window.sessionStorage): string | null {
  const url = new URL(loc.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    storage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  token = storage.getItem(TOKEN_KEY);
  return token;
}

/** Keep a token typed into the sign-in form for this tab (the page reloads to use it everywhere). */
export function storeToken(value: string, storage: Storage = window.sessionStorage): void {
  if (value) storage.setItem(TOKEN_KEY, value);
  else storage.removeItem(TOKEN_KEY);
}

/** The bearer token in use, if any. */
export function currentToken(): string | null {
  return token;
}

function headers(extra?: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = { accept: 'application/json', ...extra };
  if (token) h.authorization = `Bearer ${token}`;
  return h;
}

async function failure(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  let code: string | undefined;
  try {
    const body: unknown = await res.json();
    if (body && typeof body === 'object') {
      const b = body as { error?: unknown; code?: unknown };
      if (typeof b.error === 'string') message = b.error;
      if (typeof b.code === 'string') code = b.code;
    }
  } catch {
    // a non-JSON error body (proxy page, HTML 502): keep the status line
  }
  return new ApiError(res.status, message, code);
}

/** GET a JSON resource. */
export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { headers: headers(), signal: signal ?? null });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/**
 * The list inside a list answer: the line API wraps lists in an object (`{ parts: [...] }`,
 * `{ alerts: [...] }`, `{ models: [...] }`) so fields can be added later; a bare array is accepted too.
 */
export function listOf<T>(body: unknown, key: string): T[] {
  if (Array.isArray(body)) return body as T[];
  const inner = body && typeof body === 'object' ? (body as Record<string, unknown>)[key] : undefined;
  return Array.isArray(inner) ? (inner as T[]) : [];
}

/** GET a text resource (Prometheus exposition format). */
export async function getText(path: string, signal?: AbortSignal): Promise<string> {
  const res = await fetch(path, { headers: headers({ accept: 'text/plain' }), signal: signal ?? null });
  if (!res.ok) throw await failure(res);
  return await res.text();
}

/** POST a JSON body and return the JSON answer (or null for an empty answer). */
export async function postJson<T>(path: string, body: unknown): Promise<T | null> {
  const res = await fetch(path, {
    method: 'POST',
    headers: headers({ 'content-type': 'application/json' }),
    body: JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res);
  const text = await res.text();
  return text ? (JSON.parse(text) as T) : null;
}

/**
 * Point an <img> at a stored part image. Without a token the browser loads the URL itself (and
 * caches it); with a token the image is fetched with the Authorization header, because an <img>
 * cannot send one, and shown from an object URL that is released when the next image replaces it.
 */
export async function showPartImage(img: HTMLImageElement, partId: string): Promise<void> {
  const url = `/v1/parts/${encodeURIComponent(partId)}/image`;
  const previous = img.dataset.objectUrl;
  if (!token) {
    img.src = url;
    return;
  }
  const res = await fetch(url, { headers: headers({ accept: 'image/*' }) });
  if (!res.ok) throw await failure(res);
  const objectUrl = URL.createObjectURL(await res.blob());
  img.src = objectUrl;
  img.dataset.objectUrl = objectUrl;
  if (previous) URL.revokeObjectURL(previous);
}

/** Release the object URL an <img> may hold (when its element leaves the page). */
export function releasePartImage(img: HTMLImageElement): void {
  const u = img.dataset.objectUrl;
  if (u) URL.revokeObjectURL(u);
  delete img.dataset.objectUrl;
}
