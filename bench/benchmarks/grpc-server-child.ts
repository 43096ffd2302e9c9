/**
 * Server process of the grpc-throughput benchmark: `grpc-server-child.ts <kind> <json params>`.
 *
 * - kind "engine": the product's GrpcServer over a Registry (the given durability) with one
 *   space "bench" of dimension 384 and no embedder (the client sends vectors);
 * - kind "echo": a bare grpc-js server with the same service definition (same proto, same
 *   loader options, so the same decoding work), whose Remember and StreamingRemember answer
 *   every request at once with an acknowledgement of the same shape, no engine behind it.
 *
 * Prints `ready <port>` once listening, then serves until the benchmark SIGKILLs it (no drain,
 * as bench/child.ts: nothing after the measurement costs time). Exits if its parent goes away.
 */
import { pathToFileURL } from 'node:url';
import {
  Server,
  ServerCredentials,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import { Registry, type DurabilityMode } from '../../engine/index.ts';
import { engramServiceDefinition } from '../../proto/engram/v1/engram-proto.ts';
import type {
  RememberRequest,
  RememberResponse,
  StreamingRememberRequest,
  StreamingRememberResponse,
} from '../../proto/engram/v1/messages.ts';
import { toTimestamp } from '../../proto/engram/v1/well-known.ts';
import { GrpcServer } from '../../server/grpc/grpc-server.ts';

export const BENCH_SPACE = 'bench';
export const BENCH_DIMENSION = 384;

interface Params {
  dataRoot?: string;
  durability?: DurabilityMode;
}

async function engineServer(params: Params): Promise<number> {
  const registry = await Registry.open({
    dataRoot: params.dataRoot!,
    durability: params.durability ?? 'fsync',
  });
  await registry.createSpace(BENCH_SPACE, { dimension: BENCH_DIMENSION });
  const server = await GrpcServer.start({ engine: registry, host: '127.0.0.1', port: 0 });
  return server.port;
}

async function echoServer(): Promise<number> {
  let lsn = 0;
  const server = new Server();
  server.addService(engramServiceDefinition(), {
    Remember: (
      call: ServerUnaryCall<RememberRequest, RememberResponse>,
      callback: sendUnaryData<RememberResponse>,
    ) => {
      lsn += 1;
      callback(null, {
        memory_id: call.request.id ?? '',
        memory_space_id: BENCH_SPACE,
        lsn,
        stored_at: toTimestamp(Date.now()),
      });
    },
    StreamingRemember: (
      call: ServerDuplexStream<StreamingRememberRequest, StreamingRememberResponse>,
    ) => {
      call.on('data', (request: StreamingRememberRequest) => {
        lsn += 1;
        call.write({
          correlation_id: request.correlation_id ?? '',
          memory_space_id: BENCH_SPACE,
          stored: {
            memory_id: request.memory?.id ?? '',
            lsn,
            stored_at: toTimestamp(Date.now()),
          },
        });
      });
      call.on('end', () => call.end());
    },
  });
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );
}

async function main(): Promise<void> {
  const [kind, json] = process.argv.slice(2);
  if ((kind !== 'engine' && kind !== 'echo') || json === undefined) {
    console.error('usage: grpc-server-child.ts <engine|echo> <json params>');
    process.exit(2);
  }
  if (process.connected) process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  const params = JSON.parse(json) as Params;
  const port = kind === 'engine' ? await engineServer(params) : await echoServer();
  process.stdout.write(`ready ${port}\n`);
}

// Run only as a program: the benchmark imports this module for its constants.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error('grpc-server-child failed:', error);
    process.exit(1);
  });
}
