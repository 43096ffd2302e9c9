/**
 * Storage backends other than the embedded LMDB registry. engine/index.ts re-exports this file;
 * `[persistence] backend = "postgres"` selects this one (cli/config/server-options.ts).
 */
export {
  openPostgresEngine,
  PostgresEngine,
  type PostgresEngineDeps,
} from './postgres/postgres-engine.ts';
export {
  POSTGRES_DEFAULTS,
  SHARED_LIMIT_OPTIONS,
  validatePostgresOptions,
  type PostgresEngineOptions,
} from './postgres/postgres-options.ts';
export {
  DEFAULT_APP_ROLE,
  migratePostgres,
  type MigrationReport,
  type PostgresMigrateOptions,
} from './postgres/migrate.ts';
export { MIGRATIONS, SCHEMA_VERSION, type VectorStorage } from './postgres/schema-migrations.ts';
export {
  pgNotificationConnection,
  type NotificationConnection,
} from './postgres/notification-connection.ts';
