/**
 * Entry point of a benchmark child process: `child.ts <task> <json params>`. Runs the task,
 * writes its result (JSON) to params.resultFile, then ends the process with SIGKILL, so the
 * engine gets no chance to drain its applier or checkpoint: nothing after the measurement
 * costs time, and for the replay benchmark the kill is the simulated crash.
 *
 * (A normal exit is not an option anyway: process.exit() while an LMDB write transaction of the
 * applier is in flight hangs for good with lmdb 3.5.6: exit joins the libuv thread pool while
 * lmdb's write worker, on that pool, waits for a JS callback that can no longer run.)
 *
 * With ENGRAM_BENCH_PROFILE_DIR set (run.ts --profile), the task runs under the V8 sampling
 * profiler (node:inspector, so no exit is needed to get the profile) and the .cpuprofile is
 * written there before the kill.
 */
import { writeFileSync } from 'node:fs';
import { engineWritesTask, httpClientTask, rawWritesTask } from './benchmarks/durable-writes.ts';
import { catchUpTask } from './benchmarks/index-catch-up.ts';
import { ingestTask } from './benchmarks/ingest.ts';
import { engineRamTask, rawRamTask } from './benchmarks/memory-footprint.ts';
import { multiTenantTask, rawTenantTask } from './benchmarks/multi-tenant.ts';
import { postgresVsLmdbTask } from './benchmarks/postgres-vs-lmdb.ts';
import { startProfile } from './lib.ts';
import { prefillTask } from './prefill.ts';
import { recallQualityTask } from './benchmarks/recall-quality.ts';
import { replayOpenTask, replayPrepareTask } from './benchmarks/replay.ts';

type Task = (params: never) => unknown;

const TASKS: Record<string, Task> = {
  'durable-writes:engine': engineWritesTask,
  'durable-writes:raw': rawWritesTask,
  'durable-writes:http-client': httpClientTask,
  'replay:prepare': replayPrepareTask,
  'replay:open': replayOpenTask,
  'index-catch-up:run': catchUpTask,
  'postgres-vs-lmdb:run': postgresVsLmdbTask,
  'recall-quality:run': recallQualityTask,
  'multi-tenant:run': multiTenantTask,
  'multi-tenant:raw': rawTenantTask,
  prefill: prefillTask,
  'memory-footprint:engine': engineRamTask,
  'memory-footprint:raw': rawRamTask,
  'ingest:run': ingestTask,
};

const [name, json] = process.argv.slice(2);
const task = name === undefined ? undefined : TASKS[name];
if (!task || json === undefined) {
  console.error(`usage: child.ts <${Object.keys(TASKS).join('|')}> <json params>`);
  process.exit(2);
}
const params = JSON.parse(json) as { resultFile: string };
const stopProfile = await startProfile(name!);
try {
  const result = await (task as (p: unknown) => unknown)(params);
  writeFileSync(params.resultFile, JSON.stringify(result));
  await stopProfile();
} catch (error) {
  console.error(error);
  process.kill(process.pid, 'SIGKILL');
}
process.kill(process.pid, 'SIGKILL');
