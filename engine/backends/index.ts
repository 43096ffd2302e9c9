/**
 * Storage backends other than the embedded LMDB registry. engine/index.ts re-exports this file.
 * (Selecting a backend by configuration, `[persistence] backend`, is not wired yet.)
 */
export {
  openPostgresEngine,
  PostgresEngine,
  type PostgresEngineDeps,
} from './postgres/postgres-engine.ts';
export {
  POSTGRES_DEFAULTS,
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
