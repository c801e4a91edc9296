// The console's calls to its server: the key (if any) from sessionStorage as a bearer token, same origin only.
const KEY = 'robutler-console-key'
const meta = document.querySelector<HTMLMetaElement>('meta[name="robutler-console"]')!

/** The console's own path (`/api/v1/console`) and the server's urlPrefix (`/api/v1`). */
export const BASE = meta.content
export const PREFIX = meta.dataset.prefix ?? ''

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY)
}

export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY)
  else sessionStorage.setItem(KEY, key)
}

/** An error the server answered (OpenAI-shaped), with its status and RBT_ERR_* code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export function headers(extra: Record<string, string> = {}): Record<string, string> {
  const key = storedKey()
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra
}

async function failure(response: Response): Promise<ApiError> {
  let code = `HTTP_${response.status}`
  let message = response.statusText
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } }
    code = body.error?.code ?? code
    message = body.error?.message ?? message
  } catch {
    // not JSON: the status says enough
  }
  return new ApiError(response.status, code, message)
}

export async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { headers: headers(), cache: 'no-store' })
  if (!response.ok) throw await failure(response)
  return (await response.json()) as T
}

/**
 * POSTs JSON and reads the answer as server-sent events, calling `onData` with each `data:` payload parsed
 * (`[DONE]` ends it). Fetch rather than EventSource: EventSource cannot send the key.
 */
export async function streamEvents(url: string, init: { method?: string; body?: unknown; signal?: AbortSignal }, onData: (data: any) => void): Promise<void> {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: headers(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
    cache: 'no-store',
  })
  if (!response.ok || response.body === null) throw await failure(response)
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value
    let end: number
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      for (const line of block.split('\n')) {
        if (!line.startsWith('data: ')) continue
        const data = line.slice(6)
        if (data === '[DONE]') return
        onData(JSON.parse(data))
      }
    }
  }
}
