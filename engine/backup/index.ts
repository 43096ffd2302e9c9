/** Backup, restore, export/import support, offline verify and migrate: re-exported by engine/index.ts. */
export type { SnapshotMemory, SnapshotSettings, SpaceSnapshot } from '../space-snapshot.ts';
export type { LoadReport } from '../space-load.ts';
export { BACKUP_DIR, BACKUP_NAME, isValidBackupName, type BackupHeader } from './backup-format.ts';
export { verifyBackup, type BackupSummary } from './backup-reader.ts';
export { BackupStore, type BackupInfo } from './backup-store.ts';
export { restoreBackup, type RestoreOptions, type RestoreReport } from './restore-backup.ts';
export { spaceDirs, verifyDataRoot, type SpaceVerifyReport, type VerifyReport } from '../verify.ts';
export { migrateDataRoot, type MigrateOptions, type MigrateReport } from '../migrate.ts';
