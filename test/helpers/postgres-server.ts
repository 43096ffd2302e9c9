/**
 * A real PostgreSQL server for the tests that need several connections and real roles (RLS,
 * LISTEN/NOTIFY between servers). Debian's PostgreSQL 15 has no pgvector: these tests use the
 * float4-array storage and say so.
 *
 * - ENGRAM_TEST_PG_URL set (CI: .ci/run starts a throwaway cluster): use it; it must connect
 *   as a superuser (the tests create roles and databases).
 * - unset while CI=true: fail loudly, never skip.
 * - unset locally: start the same throwaway cluster (initdb into a temp dir, pg_ctl on
 *   127.0.0.1) if PostgreSQL 15 is installed, else skip with the reason.
 * Each test file gets its own database; role names carry the process id, because roles are
 * shared by the whole cluster and test files run in parallel.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import pg from 'pg';

export interface PostgresServer {
  /** Superuser URL of this file's own database. */
  adminUrl: string;
  /** The same database, connecting as `role` (trust authentication on 127.0.0.1). */
  urlAs(role: string): string;
  /** Runs SQL as the superuser on this file's database. */
  admin(sql: string, values?: unknown[]): Promise<pg.QueryResult>;
}

const PG_BIN = ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/local/bin'];

function findBinary(name: string): string | undefined {
  for (const dir of PG_BIN) if (existsSync(join(dir, name))) return join(dir, name);
  try {
    return execFileSync('which', [name], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** initdb + pg_ctl start as a non-root user (PostgreSQL refuses to run as root). */
async function startThrowawayCluster(initdb: string): Promise<string> {
  const bin = join(initdb, '..');
  const dir = mkdtempSync(join(tmpdir(), 'engram-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  let run = (file: string, args: string[]): void => {
    execFileSync(file, args, { stdio: 'pipe' });
  };
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
    run = (file, args) => {
      execFileSync('runuser', ['-u', 'postgres', '--', file, ...args], { stdio: 'pipe' });
    };
  }
  const port = await freePort();
  run(join(bin, 'initdb'), ['-D', data, '-U', 'engram_admin', '--auth=trust', '-E', 'UTF8']);
  run(join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-l',
    join(dir, 'server.log'),
    '-o',
    `-k /tmp -h 127.0.0.1 -p ${port} -c fsync=off -c max_connections=200`,
    '-w',
    'start',
  ]);
  after(() => {
    try {
      run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return `postgres://engram_admin@127.0.0.1:${port}/postgres`;
}

/** The server for this test file, or why there is none (only ever outside CI). */
export async function postgresServer(): Promise<{ server?: PostgresServer; skip?: string }> {
  let base = process.env.ENGRAM_TEST_PG_URL;
  if (!base) {
    if (process.env.CI === 'true') {
      throw new Error(
        'ENGRAM_TEST_PG_URL is not set while CI=true: .ci/run must start PostgreSQL 15 and export it',
      );
    }
    const initdb = findBinary('initdb');
    if (!initdb)
      return {
        skip: 'no PostgreSQL server: set ENGRAM_TEST_PG_URL, or install postgresql (initdb not found)',
      };
    base = await startThrowawayCluster(initdb);
  }
  const database = `engram_test_${process.pid}_${Date.now().toString(36)}`;
  const root = new pg.Client({ connectionString: base });
  await root.connect();
  try {
    await root.query(`CREATE DATABASE ${database}`);
  } finally {
    await root.end();
  }
  const urlAs = (role: string): string => {
    const url = new URL(base);
    url.username = role;
    url.pathname = `/${database}`;
    return url.toString();
  };
  const adminUrl = urlAs(new URL(base).username);
  const adminPool = new pg.Pool({ connectionString: adminUrl, max: 2 });
  after(() => adminPool.end());
  return {
    server: {
      adminUrl,
      urlAs,
      admin: (sql, values) => adminPool.query(sql, values),
    },
  };
}

/** A role name unique to this process (roles are cluster-wide, test files run in parallel). */
export function roleName(prefix: string): string {
  return `${prefix}_${process.pid}`;
}
