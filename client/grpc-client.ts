/**
 * A small typed client for Engram's gRPC API (docs/grpc.md, proto/engram/v1/): promise-based
 * unary calls, and streams as async iterables with back-pressure (send() waits while the
 * transport is full; responses are read as the caller iterates). Messages are the proto's own
 * shapes (proto/engram/v1/messages.ts); well-known.ts converts metadata Structs and Timestamps.
 *
 * A failed call rejects with EngramGrpcError: the gRPC status, its message, and the engine's
 * stable error code from the trailing metadata (`engram-error-code`) when the server sent one.
 *
 * It depends on @grpc/grpc-js and the contract in proto/ only: no engine, no server code.
 */
import {
  Client,
  credentials,
  Metadata,
  status as GrpcStatus,
  type CallOptions as GrpcCallOptions,
  type ChannelOptions,
  type ClientDuplexStream,
  type ClientReadableStream,
  type MethodDefinition,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { engramServiceDefinition } from '../proto/engram/v1/engram-proto.ts';
import type {
  CreateApiKeyRequest,
  CreateApiKeyResponse,
  CreateSpaceRequest,
  CreateSpaceResponse,
  DeleteSpaceRequest,
  DeleteSpaceResponse,
  ForgetRequest,
  ForgetResponse,
  GetMemoryRequest,
  GetMemoryResponse,
  HealthRequest,
  HealthResponse,
  ListApiKeysRequest,
  ListApiKeysResponse,
  ListSpacesRequest,
  ListSpacesResponse,
  RecallRequest,
  RecallResponse,
  RememberRequest,
  RememberResponse,
  RevokeApiKeyRequest,
  RevokeApiKeyResponse,
  SpaceEventMessage,
  StoreRequest,
  StreamingRecallRequest,
  StreamingRecallResponse,
  StreamingRememberRequest,
  StreamingRememberResponse,
  StreamRequest,
} from '../proto/engram/v1/messages.ts';

export type * from '../proto/engram/v1/messages.ts';
export { fromStruct, fromTimestamp, toStruct, toTimestamp } from '../proto/engram/v1/well-known.ts';

export const SPACE_METADATA_KEY = 'x-memory-space';
export const ERROR_CODE_METADATA_KEY = 'engram-error-code';

export interface GrpcClientOptions {
  /** host:port of the server, e.g. 127.0.0.1:50051. */
  target: string;
  /**
   * Sent as `x-memory-space` on every call: the server then routes every request (and every
   * message of a stream) to this space, whatever memory_space_id the messages carry.
   */
  space?: string;
  /** Deadline of a unary call, in ms; default 30 s. Streams have none unless asked for. */
  timeoutMs?: number;
  /** grpc-js channel options (keepalive, message size, ...). */
  channelOptions?: ChannelOptions;
  /** API key (engram_<id>_<secret>), sent as `authorization: Bearer <key>` on every call. */
  apiKey?: string;
}

export interface CallOptions {
  /** x-memory-space for this call (wins over the client's `space`). */
  space?: string;
  /** Deadline in ms from now (unary calls default to the client's timeoutMs). */
  timeoutMs?: number;
  /** Cancels the call (the server sees the cancellation as an aborted signal). */
  signal?: AbortSignal;
  /** API key for this call (wins over the client's `apiKey`). */
  apiKey?: string;
}

/** A call ended with a status other than OK. */
export class EngramGrpcError extends Error {
  override readonly name = 'EngramGrpcError';

  constructor(
    /** The gRPC status code (grpc.status: 3 INVALID_ARGUMENT, 5 NOT_FOUND, ...). */
    readonly status: number,
    /** The engine's error code (ENG_...), when the server sent one. */
    readonly code: string | undefined,
    message: string,
    readonly metadata: Metadata | undefined,
  ) {
    super(message);
  }

  /** The name of the status, e.g. "NOT_FOUND". */
  get statusName(): string {
    return GrpcStatus[this.status] ?? String(this.status);
  }
}

function toClientError(error: unknown): EngramGrpcError | Error {
  const serviceError = error as Partial<ServiceError>;
  if (typeof serviceError.code !== 'number') return error as Error;
  const code = serviceError.metadata?.get(ERROR_CODE_METADATA_KEY)[0];
  return new EngramGrpcError(
    serviceError.code,
    code === undefined ? undefined : String(code),
    serviceError.details ?? serviceError.message ?? 'gRPC call failed',
    serviceError.metadata,
  );
}

/**
 * Iterates a grpc-js readable call, turning its error status into EngramGrpcError. grpc-js
 * emits the status as an 'error' event without marking the stream errored, so an error that
 * came before the iteration started would look like a clean end: `failure` remembers it.
 */
async function* responses<Res>(
  call: ClientReadableStream<Res> | ClientDuplexStream<unknown, Res>,
  failure: () => Error | undefined,
) {
  try {
    for await (const message of call) yield message as Res;
  } catch (error) {
    throw toClientError(error);
  }
  const failed = failure();
  if (failed) throw failed;
}

/**
 * One bidirectional call: send() requests (it waits while the transport's buffer is full), end()
 * when done, and iterate the responses. The iteration ends after the last response, or throws
 * EngramGrpcError when the call fails.
 */
export class BidiStream<Req, Res> implements AsyncIterable<Res> {
  private failure: Error | undefined;

  constructor(private readonly call: ClientDuplexStream<Req, Res>) {
    call.on('error', (error: unknown) => {
      this.failure = toClientError(error);
    });
    // grpc-js pauses the HTTP/2 stream (so flow control reaches the server) only once the
    // application has asked to read; until then it queues every response in memory. Asking for
    // zero bytes starts that: at most a readable buffer of responses waits for the iteration.
    call.read(0);
  }

  /** Resolves once the message is accepted by the transport (at once unless its buffer is full). */
  send(message: Req): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.call.write(message)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        this.call.off('drain', settle);
        this.call.off('close', settle);
        this.call.off('error', settle);
        if (this.failure) reject(this.failure);
        else resolve();
      };
      this.call.on('drain', settle);
      this.call.on('close', settle);
      this.call.on('error', settle);
    });
  }

  /** No more requests (half-close); the server answers what it has and ends the call. */
  end(): void {
    this.call.end();
  }

  /** Cancels the call: requests not yet acknowledged may or may not have been processed. */
  cancel(): void {
    this.call.cancel();
  }

  [Symbol.asyncIterator](): AsyncIterator<Res> {
    return responses<Res>(this.call, () => this.failure);
  }
}

/** A Stream call: the events of one space, as an async iterable. */
export class EventSubscription implements AsyncIterable<SpaceEventMessage> {
  /** Resolves once the server has subscribed (every later write will be delivered). */
  readonly ready: Promise<void>;
  private failure: Error | undefined;

  constructor(private readonly call: ClientReadableStream<SpaceEventMessage>) {
    call.on('error', (error: unknown) => {
      this.failure = toClientError(error);
    });
    this.ready = new Promise((resolve, reject) => {
      call.once('metadata', () => resolve());
      call.once('error', (error: unknown) => reject(toClientError(error)));
      call.once('end', () => resolve());
    });
    this.ready.catch(() => undefined); // the same failure surfaces in the iteration
    call.read(0); // see BidiStream: lets flow control reach the server while nobody iterates
  }

  cancel(): void {
    this.call.cancel();
  }

  [Symbol.asyncIterator](): AsyncIterator<SpaceEventMessage> {
    return responses<SpaceEventMessage>(this.call, () => this.failure);
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class GrpcClient {
  private readonly client: Client;
  private readonly methods: ServiceDefinition;

  constructor(private readonly options: GrpcClientOptions) {
    this.methods = engramServiceDefinition();
    this.client = new Client(
      options.target,
      credentials.createInsecure(),
      options.channelOptions ?? {},
    );
  }

  // ---- unary calls ---------------------------------------------------------------------------

  remember(request: RememberRequest, options?: CallOptions): Promise<RememberResponse> {
    return this.unary('Remember', request, options);
  }

  /** Stores an episode. */
  store(request: StoreRequest, options?: CallOptions): Promise<RememberResponse> {
    return this.unary('Store', request, options);
  }

  recall(request: RecallRequest, options?: CallOptions): Promise<RecallResponse> {
    return this.unary('Recall', request, options);
  }

  forget(request: ForgetRequest, options?: CallOptions): Promise<ForgetResponse> {
    return this.unary('Forget', request, options);
  }

  getMemory(request: GetMemoryRequest, options?: CallOptions): Promise<GetMemoryResponse> {
    return this.unary('GetMemory', request, options);
  }

  createSpace(request: CreateSpaceRequest, options?: CallOptions): Promise<CreateSpaceResponse> {
    return this.unary('CreateSpace', request, options);
  }

  listSpaces(request: ListSpacesRequest = {}, options?: CallOptions): Promise<ListSpacesResponse> {
    return this.unary('ListSpaces', request, options);
  }

  deleteSpace(request: DeleteSpaceRequest, options?: CallOptions): Promise<DeleteSpaceResponse> {
    return this.unary('DeleteSpace', request, options);
  }

  health(request: HealthRequest = {}, options?: CallOptions): Promise<HealthResponse> {
    return this.unary('Health', request, options);
  }

  /** A new API key (admin on "*" needed); `key` is the token, shown in this answer only. */
  createApiKey(request: CreateApiKeyRequest, options?: CallOptions): Promise<CreateApiKeyResponse> {
    return this.unary('CreateApiKey', request, options);
  }

  listApiKeys(
    request: ListApiKeysRequest = {},
    options?: CallOptions,
  ): Promise<ListApiKeysResponse> {
    return this.unary('ListApiKeys', request, options);
  }

  /** Revokes a key by id; calls made with it are refused from the next one on. */
  revokeApiKey(request: RevokeApiKeyRequest, options?: CallOptions): Promise<RevokeApiKeyResponse> {
    return this.unary('RevokeApiKey', request, options);
  }

  // ---- streams -------------------------------------------------------------------------------

  streamingRemember(
    options?: CallOptions,
  ): BidiStream<StreamingRememberRequest, StreamingRememberResponse> {
    return new BidiStream(this.bidi('StreamingRemember', options));
  }

  streamingRecall(
    options?: CallOptions,
  ): BidiStream<StreamingRecallRequest, StreamingRecallResponse> {
    return new BidiStream(this.bidi('StreamingRecall', options));
  }

  /** The events of one space (named by the request, the call's or the client's space). */
  stream(request: StreamRequest, options: CallOptions = {}): EventSubscription {
    const method = this.method<StreamRequest, SpaceEventMessage>('Stream');
    const call = this.client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      this.metadata(options),
      this.callOptions(options, undefined),
    );
    this.cancelOnAbort(options, () => call.cancel());
    return new EventSubscription(call);
  }

  /** Resolves once the channel is connected (or rejects after `timeoutMs`). */
  waitForReady(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    return new Promise((resolve, reject) =>
      this.client.waitForReady(Date.now() + timeoutMs, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  }

  close(): void {
    this.client.close();
  }

  // ---- plumbing ------------------------------------------------------------------------------

  private method<Req, Res>(name: string): MethodDefinition<Req, Res> {
    const method = this.methods[name];
    if (!method) throw new Error(`engram.v1.EngramService has no method ${name}`);
    return method as MethodDefinition<Req, Res>;
  }

  private metadata(options: CallOptions): Metadata {
    const metadata = new Metadata();
    const space = options.space ?? this.options.space;
    if (space !== undefined) metadata.set(SPACE_METADATA_KEY, space);
    const apiKey = options.apiKey ?? this.options.apiKey;
    if (apiKey !== undefined) metadata.set('authorization', `Bearer ${apiKey}`);
    return metadata;
  }

  private callOptions(options: CallOptions, defaultTimeoutMs: number | undefined): GrpcCallOptions {
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    return timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs };
  }

  private cancelOnAbort(options: CallOptions, cancel: () => void): void {
    const { signal } = options;
    if (!signal) return;
    if (signal.aborted) cancel();
    else signal.addEventListener('abort', cancel, { once: true });
  }

  private unary<Req, Res>(name: string, request: Req, options: CallOptions = {}): Promise<Res> {
    const method = this.method<Req, Res>(name);
    return new Promise<Res>((resolve, reject) => {
      const call = this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        this.metadata(options),
        this.callOptions(options, this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
        (error, response) => {
          if (error) reject(toClientError(error));
          else resolve(response as Res);
        },
      );
      this.cancelOnAbort(options, () => call.cancel());
    });
  }

  private bidi<Req, Res>(name: string, options: CallOptions = {}): ClientDuplexStream<Req, Res> {
    const method = this.method<Req, Res>(name);
    const call = this.client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      this.metadata(options),
      this.callOptions(options, undefined),
    );
    this.cancelOnAbort(options, () => call.cancel());
    return call;
  }
}
