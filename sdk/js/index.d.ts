// Types for @switchboard/client, the JavaScript client of Switchboard's chat API.
// Hand-written; the authority for what the SDK exports. Runtime code: ./src/*.js.

// ---------------------------------------------------------------- errors

/** Every failure the server reports, and the SDK's own (code starting with `client_`). */
export class SwitchboardError extends Error {
  /** The server's error code (`conversation_ended`, `payload_too_large`, `rate_limited`, `not_found`, …)
   *  or one of the SDK's: `client_closed` (the client was closed), `client_timeout`, `network_error`,
   *  `client_transport` (the operation needs a transport that is not in use, e.g. agents need the socket). */
  readonly code: string;
  readonly message: string;
  /** The request field the error is about, if any (`content_type`, `values.reason`). */
  readonly field: string | null;
  /** HTTP status, when the error came from a REST call; `null` for socket error frames. */
  readonly status: number | null;
  /** Seconds to wait, for `rate_limited`. */
  readonly retryAfterSecs: number | null;
  constructor(init: { code: string; message?: string; field?: string | null; status?: number | null; retryAfterSecs?: number | null });
}

// ---------------------------------------------------------------- wire objects

export type ContentType = 'text/plain' | 'text/markdown' | 'application/json';

/** One entry of a conversation's log, as the server sends it (snake_case, as on the wire). */
export interface LogEvent {
  conversation_id?: string;
  seq: number;
  id: string;
  at: string;
  participant_id: string | null;
  type: string; // 'message' | 'participant.joined' | 'conversation.ended' | 'form' | 'attachment' | 'file.requested' | …
  [field: string]: unknown;
}

export interface MessageEvent extends LogEvent {
  type: 'message';
  content_type: ContentType;
  content: string;
  /** Server-rendered, sanitized HTML for `text/markdown` messages (when the server provides it). */
  html?: string;
  client_token?: string;
}

export interface FormField {
  name: string;
  label?: string;
  type: 'text' | 'number' | 'choice' | 'date' | 'email' | 'boolean';
  required?: boolean;
  choices?: string[];
  min?: number;
  max?: number;
  pattern?: string;
  [k: string]: unknown;
}
export interface FormEvent extends LogEvent {
  type: 'form';
  form_id: string;
  to: 'customer' | 'agent';
  form: { name: string; title?: string; fields: FormField[] };
}

/** What a stored send resolves with. */
export interface Ack { seq: number; id: string; at: string }

export interface Conversation { id: string; state?: string; [k: string]: unknown }
export interface Participant { id: string; role?: string; display_name?: string | null; [k: string]: unknown }

export interface Attachment {
  id: string;
  status: 'uploading' | 'scanning' | 'approved' | 'rejected';
  name?: string;
  content_type?: string;
  size?: number;
  sha256?: string;
  download?: { url: string; expires_at?: string };
  thumbnail?: { url: string; expires_at?: string };
  [k: string]: unknown;
}

export interface TranscriptPage {
  /** The events of this page, in the order asked for. */
  events: LogEvent[];
  /** Whether the server offers a next page in this direction (it does after every full page,
   *  so the next one may be empty; `pages()` then ends without yielding it). */
  hasMore: boolean;
  /** The options that fetch the next page (same direction), or null when there is none. */
  next: TranscriptOptions | null;
  /** With `segments: 'all'`: the conversations of the history, oldest first. */
  segments?: string[];
}

export interface TranscriptOptions {
  order?: 'asc' | 'desc';
  afterSeq?: number;
  beforeSeq?: number;
  /** 1 to 500 (server default 100). */
  limit?: number;
  /** 'all': a continued chat's whole history, oldest segment first (each event with its
   *  `conversation_id`); page it with `after` / `before` (`cnv_…:SEQ`) instead of seqs. */
  segments?: 'current' | 'all';
  after?: string;
  before?: string;
}

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'offline' | 'ended' | 'closed';
export type Transport = 'auto' | 'websocket' | 'longpoll';

// ---------------------------------------------------------------- options

export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface ReconnectOptions {
  /** First delay, ms (default 500). */
  initialDelayMs?: number;
  /** Largest delay, ms (default 15000). */
  maxDelayMs?: number;
  /** Growth factor (default 2). Each delay is picked at random in [delay/2, delay] (jitter). */
  factor?: number;
}

export interface ClientOptions {
  /** Origin of the server, e.g. `https://chat.example.com` (default: the page's origin in browsers). */
  baseUrl?: string;
  /** WebSocket constructor (default `globalThis.WebSocket`). */
  WebSocket?: WebSocketConstructor;
  /** fetch (default `globalThis.fetch`). */
  fetch?: typeof fetch;
  reconnect?: ReconnectOptions;
  /** Time a request or a socket open may take before it counts as failed, ms (default 15000). */
  timeoutMs?: number;
  /** Listen to the browser's `online`/`offline`/`visibilitychange` (default: when `window` exists). */
  watchBrowser?: boolean;
}

export interface ChatClientOptions extends ClientOptions {
  token: string;
  conversationId: string;
  /** Last seq already seen: the stream resumes after it (no gap, no duplicate). Default: 0 (from the start). */
  lastSeq?: number;
  /** 'auto' (default): WebSocket, falling back to long-poll after `fallbackAfter` failed opens. */
  transport?: Transport;
  /** Failed socket opens in a row before 'auto' falls back to long-poll (default 3). */
  fallbackAfter?: number;
  /** Long-poll wait, seconds (default 25). */
  pollWaitSecs?: number;
}

export interface StartOptions extends Omit<ChatClientOptions, 'token' | 'conversationId' | 'lastSeq'> {
  entryPointId: string;
  displayName?: string;
  attributes?: Record<string, unknown>;
  recordId?: string;
  /** Continue an ended chat (persistent chat): its customer token and id. The new chat's
   *  `pages({segments: 'all'})` then carries the past. */
  continueFrom?: { token: string; conversationId: string; rehydration?: 'entire_past_session' | 'from_segment' };
  /** Connect right away (default true). */
  connect?: boolean;
}

export interface SendOptions {
  contentType?: ContentType;
  /** Idempotency token; generated (crypto.randomUUID) when absent. */
  clientToken?: string;
}

export interface UploadOptions {
  /** File name (default: `blob.name`). */
  name?: string;
  /** MIME type (default: `blob.type`). */
  contentType?: string;
  /** Answer to a `file.requested` event. */
  requestId?: string;
  onProgress?: (sent: number, total: number) => void;
  signal?: AbortSignal;
}
export interface UploadResult { attachment: Attachment; event: LogEvent }

export interface Snapshot { baseUrl: string; token: string; conversationId: string; lastSeq: number }

// ---------------------------------------------------------------- events

export interface ChatEvents {
  /** Every log event once, in seq order (own sends included). */
  event: LogEvent;
  message: MessageEvent;
  form: FormEvent;
  /** `file.requested`: the agent asks for a file; answer with `uploadFile(blob, {requestId})`. */
  file_requested: LogEvent;
  attachment: LogEvent;
  typing: { participantId: string; text?: string };
  queue_position: { position: number; estimatedWaitSecs: number | null };
  state: ConnectionState;
  /** `conversation.ended` was delivered. */
  ended: LogEvent;
  /** The socket's `hello` (also after each reconnect). */
  hello: { conversation: Conversation; participant: Participant; lastSeq: number };
  /** A problem with no call to reject: a refused token or an erased chat (the client closes), a refused frame without a ref. */
  error: SwitchboardError;
  /** The transport changed ('longpoll' after the socket failed to open `fallbackAfter` times while REST worked). */
  transport: 'websocket' | 'longpoll';
}

export interface Offer {
  id: string; task_id: string; conversation_id: string; queue_id: string; agent_id: string;
  state: string; created_at: string; expires_at: string;
}

export interface AgentEvents {
  offer: Offer;
  /** `unknown`: the offer was gone when the socket came back (it lapsed or was taken meanwhile). */
  offer_closed: { offer: Offer; state: 'accepted' | 'declined' | 'expired' | 'revoked' | 'unknown' };
  /** Emitted for every chat the client did not know yet: in each `hello` (also the first) and live. */
  assigned: { conversationId: string };
  /** Also emitted when a reconnect's `hello` no longer lists a chat. Its seq tracking is dropped. */
  released: { conversationId: string };
  /** Every event of every assigned conversation, once, in seq order per conversation. */
  event: LogEvent & { conversation_id: string };
  message: MessageEvent & { conversation_id: string };
  form: FormEvent & { conversation_id: string };
  presence: { activity: string; available: boolean };
  agent_input: { conversationId: string; text: string };
  flow_run: { runId: string; conversationId: string; flow: string; state: string; step: string | null; vars: Record<string, unknown> };
  typing: { conversationId: string; participantId: string; text?: string };
  hello: { agent: Record<string, unknown>; conversations: { conversation_id: string; last_seq: number }[]; offers: Offer[] };
  state: ConnectionState;
  error: SwitchboardError;
}

type Unsubscribe = () => void;

declare class Emitter<E> {
  on<K extends keyof E>(type: K, fn: (payload: E[K]) => void): Unsubscribe;
  off<K extends keyof E>(type: K, fn: (payload: E[K]) => void): void;
  once<K extends keyof E>(type: K, fn: (payload: E[K]) => void): Unsubscribe;
}

// ---------------------------------------------------------------- customer

export class ChatClient extends Emitter<ChatEvents> {
  /** Starts a new chat on a public entry point, then (by default) connects. What arrives while
   *  connecting is emitted in the task after the promise resolves, so listeners added right
   *  after `await ChatClient.start(…)` get every event from `conversation.created` on. */
  static start(opts: StartOptions): Promise<ChatClient>;
  /** A client for an existing chat (e.g. from `snapshot()` after a page refresh). Call `connect()`. */
  static resume(opts: ChatClientOptions): ChatClient;
  constructor(opts: ChatClientOptions);

  readonly conversationId: string;
  readonly token: string;
  readonly baseUrl: string;
  /** The last seq delivered to listeners. */
  readonly lastSeq: number;
  readonly state: ConnectionState;
  /** 'websocket' or 'longpoll': what carries events now. */
  readonly transport: 'websocket' | 'longpoll';
  /** Sends not yet stored (waiting while offline, or in flight). */
  readonly pendingSends: number;
  /** The participant (from the start answer or the socket's hello). */
  readonly participant: Participant | null;
  readonly conversation: Conversation | null;

  /** Opens the stream; resolves once it is open (first `hello` or first poll answered). */
  connect(): Promise<void>;
  /** Sends a message; resolves with the stored `{seq, id, at}`. Queued while offline,
   *  retried with the same client token across reconnects; rejects with SwitchboardError. */
  send(content: string | object, opts?: SendOptions): Promise<Ack>;
  /** Tells the others you are typing (at most one frame per 2 s unless the preview changed).
   *  `previewText` (≤ 200 characters) reaches the agents only, as a sneak peek of the draft. */
  typing(previewText?: string): void;
  /** Receipts go by REST with a client token (stored once), retried on network trouble. */
  markDelivered(messageId: string): Promise<Ack>;
  markRead(messageId: string): Promise<Ack>;
  transcript(opts?: TranscriptOptions): Promise<TranscriptPage>;
  /** Every page, in order (`for await (const page of chat.pages({order:'desc'}))`). */
  pages(opts?: TranscriptOptions): AsyncIterableIterator<TranscriptPage>;
  /** The chat's place in line (REST). */
  queuePosition(): Promise<{ position: number | null; estimatedWaitSecs: number | null }>;
  uploadFile(blob: Blob, opts?: UploadOptions): Promise<UploadResult>;
  declineFileRequest(requestId: string): Promise<unknown>;
  attachment(attachmentId: string): Promise<Attachment>;
  submitForm(formId: string, values: Record<string, unknown>): Promise<unknown>;
  /** Ends the conversation (the stream then delivers `conversation.ended`). */
  end(): Promise<void>;
  /** Asks the server for a pong now; resolves true if it answered. Reconnects if it did not. */
  ping(): Promise<boolean>;
  /** Closes the client for good: pending sends reject with `client_closed`. */
  close(): void;
  snapshot(): Snapshot;
  /** Authenticated REST call: `request('GET', '/conversations/cnv_…')` (path under /api/v1). */
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
}

// ---------------------------------------------------------------- agent

export interface AgentClientOptions extends ClientOptions {
  token: string;
  /** Where each conversation resumes: `{cnv_…: lastSeq}` (default: what the server's hello says). */
  lastSeqs?: Record<string, number>;
}

export class AgentClient extends Emitter<AgentEvents> {
  /** `POST /api/v1/agents/login`, then a client with the agent token (not connected yet). */
  static login(opts: ClientOptions & { login: string; password: string }): Promise<AgentClient>;
  constructor(opts: AgentClientOptions);

  readonly token: string;
  readonly baseUrl: string;
  readonly agent: Record<string, unknown> | null;
  readonly state: ConnectionState;
  /** Sends not yet stored (waiting for the socket, or in flight). */
  readonly pendingSends: number;
  /** Pending offers, by id. */
  readonly offers: ReadonlyMap<string, Offer>;
  /** Assigned conversations and the last seq delivered for each. */
  readonly conversations: ReadonlyMap<string, { lastSeq: number }>;

  connect(): Promise<void>;
  /** Over the socket when open, else REST. Resolves with the agent. */
  setActivity(activity: string): Promise<unknown>;
  /** Over the socket when open, else REST. Rejects with `conflict` if the offer lapsed or was taken;
   *  with `network_error` if the socket dropped before the answer (check `offers` / `assigned` after reconnecting). */
  accept(offerId: string): Promise<Offer>;
  decline(offerId: string): Promise<Offer>;
  /** Queued while the socket is down (agents send over the socket only); same guarantees as ChatClient.send. */
  send(conversationId: string, content: string | object, opts?: SendOptions): Promise<Ack>;
  typing(conversationId: string): void;
  markDelivered(conversationId: string, messageId: string): Promise<Ack>;
  markRead(conversationId: string, messageId: string): Promise<Ack>;
  transcript(conversationId: string, opts?: TranscriptOptions): Promise<TranscriptPage>;
  pages(conversationId: string, opts?: TranscriptOptions): AsyncIterableIterator<TranscriptPage>;
  conversation(conversationId: string): Promise<Conversation>;
  /** What the console offers: queues and agents (for transfers), flows, canned responses. */
  directory(): Promise<{
    queues: { id: string; name: string }[];
    agents: { id: string; name: string; activity: string; available: boolean; load: number; capacity: number }[];
    flows: { name: string; version: number; description?: string; side?: string; params: { name: string; required: boolean; default?: unknown }[] }[];
    canned_responses: { id: string; title: string; text: string }[];
  }>;
  /** To a queue (id or name) or a named agent. */
  transfer(conversationId: string, to: { queueId?: string; queue?: string; agentId?: string }): Promise<unknown>;
  end(conversationId: string): Promise<unknown>;
  requestFile(conversationId: string, body?: { record_id?: string; [k: string]: unknown }): Promise<unknown>;
  uploadFile(conversationId: string, blob: Blob, opts?: UploadOptions): Promise<UploadResult>;
  attachment(conversationId: string, attachmentId: string): Promise<Attachment>;
  submitForm(conversationId: string, formId: string, values: Record<string, unknown>): Promise<unknown>;
  launchFlow(flow: string, conversationId: string, params?: Record<string, unknown>): Promise<unknown>;
  ping(): Promise<boolean>;
  /** Closes the socket for good (the token stays valid). */
  close(): void;
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
}

export const VERSION: string;
