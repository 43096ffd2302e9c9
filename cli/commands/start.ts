/** `engram start`: configuration -> server; writes the pid file; stops cleanly on SIGINT/SIGTERM. */
import { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import { openBootstrapSpaces, type OpenedSpace } from '../bootstrap-spaces.ts';
import { addConfigFlags, flagOverrides } from '../config/config-flags.ts';
import { embedderSetup, loadModelEmbedders } from '../config/embedders.ts';
import { loadConfig } from '../config/load-config.ts';
import {
  toEngineOptions,
  toHttpSettings,
  toPostgresOptions,
  toSecurityOptions,
} from '../config/server-options.ts';
import { EXIT } from '../exit-codes.ts';
import { plural } from '../output/plural.ts';
import { startProgress } from '../output/progress.ts';
import { pidFilePath, removePidFile, runningServerPid, writePidFile } from '../pid-file.ts';

function warn(message: string): void {
  process.stderr.write(`engram: warning: ${message}\n`);
}

function describeOpened(spaces: readonly OpenedSpace[]): string {
  return spaces
    .map((s) =>
      s.state === 'quarantined'
        ? `${s.id} (QUARANTINED: ${s.reason})`
        : `${s.id} (${s.created ? 'created' : `${plural(s.memories ?? 0, 'memory', 'memories')}, recovered in ${s.ms} ms`})`,
    )
    .join(', ');
}

async function runStart(opts: Record<string, unknown>): Promise<void> {
  const config = loadConfig({
    configPath: opts.config as string | undefined,
    flags: flagOverrides(opts),
    warn,
  });
  const v = config.values;
  const dataRoot = v['persistence.data_root'];
  const running = runningServerPid(dataRoot);
  if (running !== undefined) {
    throw new CliError(
      `engram is already running on data root ${dataRoot} (pid ${running}); stop it with: engram stop --data-root ${dataRoot}`,
    );
  }
  const postgres = toPostgresOptions(v);
  const embedders = embedderSetup(v, process.env);
  embedders.warnings.forEach(warn);
  const http = toHttpSettings(v);
  const bootstrap = v['memory_spaces.bootstrap_spaces'];
  let opened: OpenedSpace[] = [];

  // Loaded here, not at the top: the other commands never need fastify and gRPC.
  const { startServer } = await import('../../server/main.ts');
  const server = await startServer({
    engine: toEngineOptions(v),
    ...(postgres ? { postgres } : {}),
    host: v['server.host'],
    port: v['server.port'],
    ...(v['server.grpc_host'] === '' ? {} : { grpcHost: v['server.grpc_host'] }),
    grpcPort: v['server.grpc_port'],
    logLevel: v['server.log_level'],
    http,
    // The server refuses a non-loopback address with auth_mode "none" unless --insecure.
    security: { ...toSecurityOptions(v), insecure: opts.insecure === true },
    // A local ONNX model loads before the server starts: a broken one fails the start.
    embedders: await loadModelEmbedders(embedders),
    beforeListen: async (engine) => {
      opened = await openBootstrapSpaces(engine, bootstrap, {
        embedder: http.defaultEmbedder ?? null,
        progress: startProgress('opening spaces', new Set(bootstrap).size),
      });
    },
  });
  writePidFile(dataRoot, process.pid);

  const { discovery } = server.engine;
  const lines = [
    `engram listening on ${server.url} (HTTP), ${server.grpcUrl} (gRPC)`,
    `${server.engine.backend === 'lmdb' ? 'data root' : 'backend'} ${server.engine.location}: ${plural(discovery.spaces, 'space')} found in ${discovery.ms} ms` +
      (discovery.skipped.length === 0
        ? ''
        : `, ${discovery.skipped.length} other entries skipped (${discovery.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})`),
    opened.length === 0
      ? 'no spaces opened at start; each space recovers on first use'
      : `opened at start: ${describeOpened(opened)}; other spaces recover on first use`,
    `config ${config.file.loaded ? config.file.path : '(none: defaults, env and flags)'}; pid ${process.pid} in ${pidFilePath(dataRoot)}`,
  ];
  process.stderr.write(`${lines.join('\n')}\n`);

  const shutdown = (signal: string): void => {
    server.logger.info({ signal }, 'shutting down');
    server.stop().then(
      () => {
        removePidFile(dataRoot);
        process.exit(EXIT.ok);
      },
      (error: unknown) => {
        server.logger.error({ err: error }, 'shutdown failed');
        removePidFile(dataRoot);
        process.exit(EXIT.failure);
      },
    );
  };
  // `once`: a second signal during a slow shutdown gets the default action and ends the process.
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

export function startCommand(): Command {
  const command = new Command('start').description(
    'start the server on the data root (HTTP and gRPC); runs until stopped',
  );
  addConfigFlags(command, [
    'server.host',
    'server.port',
    'server.grpc_port',
    'persistence.data_root',
    'server.log_level',
    'persistence.durability',
  ]);
  command.option(
    '--insecure',
    'allow listening on a non-loopback address with [security] auth_mode = "none" (see docs/security.md)',
  );
  return command.action((opts: Record<string, unknown>) => runStart(opts));
}
