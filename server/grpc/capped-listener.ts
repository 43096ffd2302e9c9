/**
 * The gRPC listening socket, owned here rather than by grpc-js so that open connections are
 * bounded: grpc-js (1.14) has no option for that. A plain net.Server with `maxConnections`
 * accepts the TCP connections (node closes those beyond the bound on accept, before any byte is
 * read) and hands the others to grpc-js through its public connection injector, which serves
 * them exactly as its own listener would (same handlers, options and shutdown).
 */
import { createServer, type Server as NetServer } from 'node:net';
import type { Server, ServerCredentials } from '@grpc/grpc-js';

export interface CappedListener {
  /** The port bound (the chosen one when 0 was asked for). */
  port: number;
  /** Stops accepting; connections already handed over are closed by grpc-js's own shutdown. */
  close(): Promise<void>;
}

export async function listenCapped(
  server: Server,
  credentials: ServerCredentials,
  options: {
    host: string;
    port: number;
    maxConnections: number;
    /** Errors after listening (a failed accept, EMFILE say): reported, never a crash. */
    onError: (error: Error) => void;
  },
): Promise<CappedListener> {
  const injector = server.createConnectionInjector(credentials);
  const listener: NetServer = createServer((socket) => injector.injectConnection(socket));
  listener.maxConnections = options.maxConnections;
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen({ host: options.host, port: options.port }, () => {
      listener.off('error', reject);
      listener.on('error', options.onError);
      resolve();
    });
  });
  const address = listener.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () =>
      new Promise<void>((resolve) => {
        if (!listener.listening) return resolve();
        listener.close(() => resolve());
      }),
  };
}
