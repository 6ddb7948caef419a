// Type declarations of stream.js, the `eventstream` app's EventStream (an ES module that imports
// the `errors` app's client).

import type { ApiClient, ApiError } from "../errors/client.js";

export type StreamState = "connecting" | "open" | "closed";

export interface EventStreamOptions {
  /** "/api/events/" by default. */
  streamPath?: string;
  /** "/api/events/tickets/" by default. */
  ticketPath?: string;
  /** true by default; false opens the stream without a ticket (the same-origin session cookie). */
  useTicket?: boolean;
  /** The first wait before reconnecting, 3000 by default (the service's `retry:`). */
  reconnectDelayMs?: number;
  /** The longest wait (it doubles with each failure in a row, with jitter), 30000 by default. */
  maxReconnectDelayMs?: number;
  /** globalThis.EventSource by default. */
  EventSource?: typeof EventSource;
}

export interface EventsLost {
  lastEventId: string | null;
  message: string;
}

/**
 * The service's Server-Sent Events over EventSource. Each connection uses a fresh single-use
 * ticket (POST ticketPath through the client, so a 401 reaches onAuthError). On any EventSource
 * error the stream closes that EventSource itself, waits and reconnects with a fresh ticket and
 * last_event_id, so nothing is missed; meanwhile the state is "connecting". A 401 on the ticket
 * request ends in "closed".
 */
export class EventStream {
  constructor(client: ApiClient, options?: EventStreamOptions);
  readonly state: StreamState;
  /** The id of the last event received, where a reconnection resumes. */
  readonly lastEventId: string | null;
  /** Connect, unless already connecting or open. */
  open(): this;
  /** State "closed"; no reconnection follows. */
  close(): void;
  /** Events of `type` (e.g. "workspace.created"), data JSON-parsed; returns an unsubscriber. */
  on(type: string, handler: (data: any, event: MessageEvent) => void): () => void;
  onState(handler: (state: StreamState) => void): () => void;
  /** The service's `event: error` (its envelope as an ApiError, status 0); ticket failures. */
  onError(handler: (error: ApiError) => void): () => void;
  /** The service's `event: events_lost`: events were missed and cannot be replayed. */
  onEventsLost(handler: (info: EventsLost) => void): () => void;
}
