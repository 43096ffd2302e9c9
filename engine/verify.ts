/**
 * Offline integrity check of a data root (`engram verify`), changing nothing: per space, every
 * log segment record by record (checksums, LSN order, decodable bodies), the warm tier against
 * the log records it claims to have applied, and the HNSW snapshot (checksum, and its labels
 * against the warm tier's vectors). It holds the data-root lock while it runs, so it refuses a
 * root a server is using (and no server starts meanwhile). Records above the warm tier's
 * applied LSN are pending, not damage; a torn last record is what recovery trims: a warning.
 * No console output here: the CLI renders the report.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { DataRootLock } from './data-root-lock.ts';
import { EngramError } from './errors.ts';
import { nodeFileSystem } from './file-system.ts';
import { decodeEntry, type LogEntry } from './log-entry.ts';
import { isValidSpaceId, type SpaceId } from './space-id.ts';
import { readSpaceMeta, SPACE_META_FILE } from './space-meta.ts';
import { HnswIndex, INDEX_MANIFEST } from './vector/hnsw-index.ts';
import { decodeRecordAt, findNextValidRecord } from './wal/wal-record.ts';
import { parseSegmentName, segmentPath } from './wal/wal-segment.ts';
import { WarmStore } from './warm/warm-store.ts';

export interface SpaceVerifyReport {
  space: string;
  ok: boolean;
  wal: { segments: number; records: number; firstLsn: number | null; lastLsn: number };
  warm: { appliedLsn: number; memories: number } | null;
  index: { snapshotLsn: number; labels: number } | null;
  /** What is broken; empty when ok. */
  damage: string[];
  /** What recovery repairs by itself (a torn tail, a missing snapshot). */
  warnings: string[];
}

export interface VerifyReport {
  ok: boolean;
  dataRoot: string;
  spaces: SpaceVerifyReport[];
}

/** The net effect of the log on one memory, up to the warm tier's applied LSN. */
interface LoggedState {
  lsn: number;
  deleted: boolean;
  vectorCrc: number | null;
}

interface WalFacts {
  entries: Array<{ lsn: number; entry: LogEntry }>;
  firstLsn: number | null;
  lastLsn: number;
  segments: number;
}

/**
 * The largest record any server may have written (the top of wal_record_bytes_max's range): a
 * root written with a raised limit must not read as damaged.
 */
const RECORD_BYTES_MAX = 64 * 1024 * 1024;

/** The memories a log entry changes. */
function idsOf(entry: LogEntry): string[] {
  switch (entry.kind) {
    case 'put':
      return [entry.record.id];
    case 'update':
    case 'delete':
      return [entry.id];
    case 'demote':
    case 'promote':
      return entry.items.map((item) => item.id);
    default:
      return [];
  }
}

const vectorCrc = (vector: Float32Array): number =>
  crc32(Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength));

async function checkWal(dir: string, report: SpaceVerifyReport): Promise<WalFacts> {
  const walDir = join(dir, 'wal');
  const firsts = (await readdir(walDir).catch(() => []))
    .map(parseSegmentName)
    .filter((lsn): lsn is number => lsn !== undefined)
    .sort((a, b) => a - b);
  const facts: WalFacts = { entries: [], firstLsn: null, lastLsn: 0, segments: firsts.length };
  let expected: number | undefined;
  const max = RECORD_BYTES_MAX;
  for (const [position, first] of firsts.entries()) {
    const path = segmentPath(walDir, first);
    const buf = await readFile(path);
    if (expected !== undefined && first !== expected)
      report.damage.push(`log segment ${path} starts at LSN ${first}, expected ${expected}`);
    expected = first;
    for (let offset = 0; offset < buf.length;) {
      const result = decodeRecordAt(buf, offset, max);
      if (!result.ok) {
        const last = position === firsts.length - 1;
        if (last && findNextValidRecord(buf, offset + 1, max) === -1)
          report.warnings.push(
            `log segment ${path} has a torn tail at offset ${offset} (${result.reason}); recovery trims it`,
          );
        else
          report.damage.push(
            `log segment ${path} is damaged at offset ${offset}: ${result.reason}`,
          );
        break;
      }
      const { record } = result;
      if (record.lsn !== expected) {
        report.damage.push(
          `log segment ${path} holds LSN ${record.lsn} at offset ${offset}, expected ${expected}`,
        );
        break;
      }
      try {
        facts.entries.push({ lsn: record.lsn, entry: decodeEntry(record.type, record.payload) });
      } catch (error) {
        report.damage.push(
          `log record LSN ${record.lsn} passes its checksum but cannot be decoded: ${(error as Error).message}`,
        );
      }
      facts.firstLsn ??= record.lsn;
      facts.lastLsn = record.lsn;
      expected += 1;
      offset += record.bytes;
    }
  }
  report.wal = {
    segments: facts.segments,
    records: facts.entries.length,
    firstLsn: facts.firstLsn,
    lastLsn: facts.lastLsn,
  };
  return facts;
}

function loggedStates(facts: WalFacts, appliedLsn: number): Map<string, LoggedState> {
  const states = new Map<string, LoggedState>();
  for (const { lsn, entry } of facts.entries) {
    if (lsn > appliedLsn) break; // pending: not applied yet, not damage
    if (entry.kind === 'put')
      states.set(entry.record.id, {
        lsn,
        deleted: false,
        vectorCrc: entry.vector ? vectorCrc(entry.vector) : null,
      });
    else if (entry.kind === 'update') {
      const state = states.get(entry.id);
      if (state && !state.deleted) state.lsn = lsn;
    } else if (entry.kind === 'delete')
      states.set(entry.id, { lsn, deleted: true, vectorCrc: null });
  }
  return states;
}

/** Warm records against the log; returns the labels of the live vectors. */
function checkWarm(
  warm: WarmStore,
  facts: WalFacts,
  report: SpaceVerifyReport,
): Map<number, string> {
  const view = warm.readView();
  const labels = new Map<number, string>();
  try {
    const appliedLsn = view.appliedLsn();
    let memories = 0;
    const seen = new Set<string>();
    for (const { record, vector } of view.memories()) {
      memories += 1;
      seen.add(record.id);
      if (record.hasVector !== (vector !== null))
        report.damage.push(
          `warm record "${record.id}" says hasVector=${record.hasVector} but its vector is ${vector ? 'present' : 'missing'}`,
        );
      const label = warm.labelOf(record.id);
      if (vector && label === undefined)
        report.damage.push(`warm memory "${record.id}" has a vector but no index label`);
      if (vector && label !== undefined) labels.set(label, record.id);
      if (record.lsn > appliedLsn)
        report.damage.push(
          `warm record "${record.id}" is at LSN ${record.lsn}, above the applied LSN ${appliedLsn}`,
        );
    }
    if (facts.lastLsn > 0 && facts.lastLsn < appliedLsn)
      report.warnings.push(
        `the log ends at LSN ${facts.lastLsn}, below the warm tier (${appliedLsn}); recovery restarts it`,
      );
    for (const [id, state] of loggedStates(facts, appliedLsn)) {
      const record = warm.getRecord(id);
      // A demoted memory lives in the cold tier (its catalog is in the same environment).
      const lsn = record?.lsn ?? warm.coldLocation(id)?.lsn;
      if (state.deleted) {
        if (lsn !== undefined)
          report.damage.push(`memory "${id}" was deleted at LSN ${state.lsn} but is still stored`);
      } else if (lsn === undefined) {
        report.damage.push(
          `memory "${id}" (LSN ${state.lsn}) is missing from the warm and cold tiers`,
        );
      } else if (lsn !== state.lsn) {
        report.damage.push(`memory "${id}" is stored at LSN ${lsn}, the log says ${state.lsn}`);
      } else if (record) {
        const vector = warm.getVector(id);
        if ((vector ? vectorCrc(vector) : null) !== state.vectorCrc)
          report.damage.push(`the vector of warm memory "${id}" differs from the logged one`);
      }
    }
    // Capacity checks and stats read the counts kept beside the tiers, never a walk.
    const { kept, walked } = warm.countsKeptAndWalked();
    for (const tier of ['records', 'cold'] as const)
      if (kept[tier] !== undefined && kept[tier] !== walked[tier])
        report.damage.push(
          `the warm tier keeps a ${tier} count of ${kept[tier]} but holds ${walked[tier]}`,
        );
    report.warm = { appliedLsn, memories };
  } finally {
    view.done();
  }
  return labels;
}

async function checkIndex(
  dir: string,
  dimension: number,
  warm: WarmStore,
  facts: WalFacts,
  labels: Map<number, string>,
  report: SpaceVerifyReport,
): Promise<void> {
  const indexDir = join(dir, 'index');
  let manifest: { lsn: number; file: string; bytes: number; crc32: number };
  try {
    manifest = JSON.parse(
      await readFile(join(indexDir, INDEX_MANIFEST), 'utf8'),
    ) as typeof manifest;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      if (labels.size > 0)
        report.warnings.push('no index snapshot: it is rebuilt from the warm tier at open');
      return;
    }
    report.damage.push(
      `index manifest ${INDEX_MANIFEST} is unreadable: ${(error as Error).message}`,
    );
    return;
  }
  const bytes = await readFile(join(indexDir, manifest.file)).catch(() => undefined);
  if (!bytes || bytes.length !== manifest.bytes || crc32(bytes) !== manifest.crc32) {
    report.damage.push(
      `index snapshot ${manifest.file} fails its checksum (${bytes ? `${bytes.length} bytes` : 'missing'})`,
    );
    return;
  }
  const loaded = await HnswIndex.load(nodeFileSystem, indexDir, dimension, {
    m: 16,
    efConstruction: 200,
    efSearch: 50,
  });
  if (!loaded.ok) {
    report.damage.push(`index snapshot cannot be loaded: ${loaded.reason}`);
    return;
  }
  if (facts.firstLsn !== null && facts.firstLsn > loaded.lsn + 1)
    report.damage.push(
      `the log starts at LSN ${facts.firstLsn} but the index snapshot needs LSN ${loaded.lsn + 1}`,
    );
  // Memories changed after the snapshot are replayed into the index at open: not compared.
  const replayed = new Set<number>();
  for (const { lsn, entry } of facts.entries) {
    if (lsn <= loaded.lsn) continue;
    for (const id of idsOf(entry)) {
      const label = warm.labelOf(id);
      if (label !== undefined) replayed.add(label);
    }
  }
  const live = new Set(loaded.index.liveLabels());
  for (const label of live)
    if (!labels.has(label) && !replayed.has(label))
      report.damage.push(`index label ${label} has no memory with a vector in the warm tier`);
  for (const [label, id] of labels)
    if (!live.has(label) && !replayed.has(label))
      report.damage.push(`warm memory "${id}" (label ${label}) is missing from the index snapshot`);
  report.index = { snapshotLsn: loaded.lsn, labels: live.size };
}

async function verifySpace(dataRoot: string, id: string): Promise<SpaceVerifyReport> {
  const dir = join(dataRoot, id);
  const report: SpaceVerifyReport = {
    space: id,
    ok: false,
    wal: { segments: 0, records: 0, firstLsn: null, lastLsn: 0 },
    warm: null,
    index: null,
    damage: [],
    warnings: [],
  };
  try {
    const meta = await readSpaceMeta(nodeFileSystem, dir, id as SpaceId);
    const facts = await checkWal(dir, report);
    const warm = WarmStore.open(join(dir, 'warm'));
    try {
      const labels = checkWarm(warm, facts, report);
      const dimension = warm.dimension() ?? meta.dimension;
      if (dimension !== null && dimension !== undefined)
        await checkIndex(dir, dimension, warm, facts, labels, report);
    } finally {
      await warm.close();
    }
  } catch (error) {
    report.damage.push((error as Error).message);
  }
  report.ok = report.damage.length === 0;
  return report;
}

/** Verifies every space of `dataRoot` (or one). ENG_DATA_ROOT_LOCKED while a server holds it. */
export async function verifyDataRoot(
  dataRoot: string,
  options: { space?: string; onSpace?: (id: string) => void } = {},
): Promise<VerifyReport> {
  const names = await spaceDirs(dataRoot);
  const lock = DataRootLock.acquire(dataRoot);
  try {
    const ids =
      options.space === undefined ? names : names.filter((name) => name === options.space);
    if (options.space !== undefined && ids.length === 0)
      throw new EngramError('ENG_SPACE_NOT_FOUND', `No space "${options.space}" in ${dataRoot}`);
    const spaces: SpaceVerifyReport[] = [];
    for (const id of ids) {
      const hasMeta = await readFile(join(dataRoot, id, SPACE_META_FILE)).then(
        () => true,
        () => false,
      );
      if (!hasMeta) continue;
      options.onSpace?.(id);
      spaces.push(await verifySpace(dataRoot, id));
    }
    return { ok: spaces.every((space) => space.ok), dataRoot, spaces };
  } finally {
    lock.release();
  }
}

/** Directories of `dataRoot` named like spaces (verify and migrate look at these). */
export async function spaceDirs(dataRoot: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dataRoot, { withFileTypes: true });
  } catch (cause) {
    throw new EngramError(
      'ENG_OPTIONS_INVALID',
      `Cannot read data root ${dataRoot}: ${(cause as Error).message}`,
      { cause },
    );
  }
  return entries
    .filter((entry) => entry.isDirectory() && isValidSpaceId(entry.name))
    .map((entry) => entry.name)
    .sort();
}
