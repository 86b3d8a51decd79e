/**
 * The live event stream (`GET /v1/events`, Server-Sent Events) with reconnection. The browser's
 * EventSource retries by itself after a dropped connection, but gives up for good when the server
 * answers with an error (as a proxy does while LineSight restarts); then this module reconnects
 * with backoff. Every (re)opened stream calls `onOpen`, where the page refetches its state: events
 * sent while the page was disconnected are not replayed, so the snapshot closes the gap.
 *
 * EventSource cannot send an Authorization header, so when a bearer token is in use the stream is
 * read with fetch() and parsed here instead (same wire format, same callbacks).
 */
import type { LineEvent } from '../../src/line/events.ts';

/** The kinds of event the line publishes (the SSE `event:` field). */
export const EVENT_TYPES = ['inspection', 'machine', 'alert', 'feedback', 'stats'] as const;

export type StreamState = 'connecting' | 'live' | 'reconnecting';

export interface EventStreamOptions {
  readonly url: string;
  readonly token: string | null;
  readonly onEvent: (e: LineEvent) => void;
  /** Called each time the stream (re)opens: refetch the state snapshot here. */
  readonly onOpen: (reconnect: boolean) => void;
  readonly onState: (s: StreamState, attempt: number) => void;
  /** Backoff ceiling for reconnect attempts, ms. */
  readonly maxDelayMs?: number;
  /**
   * Reconnect when an open stream has carried no event this long, ms (default 15 s). The line sends
   * a stats event every second, so silence means a dead connection that neither side noticed (a
   * pulled cable, a sleeping laptop, a proxy that dropped it) or a server on its way down; then
   * letting go of the connection also lets that server finish closing. Heartbeat comments do not
   * count: a server that only keeps the socket warm is not sending the line.
   */
  readonly silenceMs?: number;
}

/** A connected stream; close() stops it for good. */
export interface EventStream {
  close(): void;
}

/** Delay before reconnect attempt n (1-based): 0.5 s doubling up to the ceiling. */
export function backoffMs(attempt: number, maxMs: number): number {
  return Math.min(maxMs, 500 * 2 ** Math.max(0, attempt - 1));
}

/** One parsed SSE message. */
export interface SseMessage {
  event: string;
  data: string;
}

/**
 * Incremental parser of the SSE wire format (WHATWG HTML "event stream interpretation"): feed it
 * text chunks, get complete messages. Comments (`:` heartbeat lines) and unknown fields are ignored.
 */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];

  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const nl = this.buffer.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      const line = this.buffer.slice(0, nl);
      const skip = this.buffer.startsWith('\r\n', nl) ? 2 : 1;
      this.buffer = this.buffer.slice(nl + skip);
      if (line === '') {
        if (this.data.length > 0) out.push({ event: this.event || 'message', data: this.data.join('\n') });
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
    }
    return out;
  }
}

function dispatch(opts: EventStreamOptions, type: string, data: string): void {
  if (!(EVENT_TYPES as readonly string[]).includes(type)) return;
  try {
    opts.onEvent(JSON.parse(data) as LineEvent);
  } catch {
    // one malformed message must not end the stream
  }
}

/** Open the live stream; it keeps reconnecting until close(). */
export function connectEvents(opts: EventStreamOptions): EventStream {
  const maxDelay = opts.maxDelayMs ?? 5000;
  let closed = false;
  let attempt = 0;
  let opened = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let source: EventSource | undefined;
  let abort: AbortController | undefined;
  let live = false;
  let lastActivity = Date.now();
  const silenceMs = opts.silenceMs ?? 15_000;
  const alive = (): void => {
    lastActivity = Date.now();
  };

  const retry = (): void => {
    if (closed) return;
    live = false;
    attempt += 1;
    opts.onState('reconnecting', attempt);
    clearTimeout(timer);
    timer = setTimeout(start, backoffMs(attempt, maxDelay));
  };

  const markOpen = (): void => {
    const reconnect = opened;
    opened = true;
    attempt = 0;
    live = true;
    alive();
    opts.onState('live', 0);
    opts.onOpen(reconnect);
  };

  const startEventSource = (): void => {
    const es = new EventSource(opts.url);
    source = es;
    es.onopen = markOpen;
    for (const t of EVENT_TYPES) {
      es.addEventListener(t, (m) => {
        alive();
        dispatch(opts, t, (m as MessageEvent<string>).data);
      });
    }
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        retry();
      } else {
        // the browser is retrying by itself; show it
        live = false;
        opts.onState('reconnecting', attempt + 1);
      }
    };
  };

  const startFetch = async (): Promise<void> => {
    const ctrl = new AbortController();
    abort = ctrl;
    try {
      const res = await fetch(opts.url, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${opts.token ?? ''}` },
        signal: ctrl.signal,
        cache: 'no-store',
      });
      if (!res.ok || !res.body) throw new Error(`event stream answered ${res.status}`);
      markOpen();
      const parser = new SseParser();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const m of parser.push(value)) {
          alive();
          dispatch(opts, m.event, m.data);
        }
      }
    } catch {
      // network error or abort: handled below
    }
    if (!ctrl.signal.aborted) retry();
  };

  function start(): void {
    if (closed) return;
    opts.onState(opened ? 'reconnecting' : 'connecting', attempt);
    if (opts.token) void startFetch();
    else startEventSource();
  }

  const watchdog = setInterval(
    () => {
      if (!live || Date.now() - lastActivity < silenceMs) return;
      source?.close();
      abort?.abort();
      retry();
    },
    Math.max(250, Math.min(5000, silenceMs / 3)),
  );

  start();
  return {
    close() {
      closed = true;
      clearInterval(watchdog);
      clearTimeout(timer);
      source?.close();
      abort?.abort();
    },
  };
}
