/** The engine's public surface: server/ and cli/ import the engine only through this file. */
export { KEYS_DIR, Registry, type RegistryDeps } from './registry.ts';
export { processAlive } from './data-root-lock.ts';
export {
  ERROR_CATALOGUE,
  ERROR_CATEGORIES,
  EngramError,
  isEngramError,
  type ErrorCategory,
  type ErrorCode,
} from './errors.ts';
export { SILENT_LOGGER, type Logger } from './logger.ts';
export {
  DEFAULT_DATA_ROOT,
  ENGINE_DEFAULTS,
  expandHome,
  validateEngineOptions,
  type DurabilityMode,
  type EngineOptions,
  type WalSyncMethod,
} from './options.ts';
export { parseSpaceId, SPACE_ID_RULE, type SpaceId } from './space-id.ts';
export {
  nodeFileSystem,
  writeFileAtomic,
  type FileSystem,
  type OpenWritableOptions,
  type WritableFile,
} from './file-system.ts';
export type {
  Episode,
  ListPage,
  MemoryPatch,
  MemoryRecord,
  MemoryType,
  MemoryView,
  RecallHit,
  RecallMode,
  RememberInput,
} from './memory.ts';
export type {
  CallOptions,
  ConsolidationSettings,
  ForgetOptions,
  RecallFilter,
  CreateSpaceOptions,
  ListOptions,
  RecallOptions,
  SpaceHandle,
  SpaceState,
  SpaceStats,
  SpaceSummary,
  StorageEngine,
  ServedEngine,
  DiscoveryReport,
} from './storage.ts';
export type { SpaceEvent, SpaceEventListener, SpaceEventType } from './events.ts';
export type { Embedder } from './embed/embedder.ts';
export { HashEmbedder } from './embed/hash-embedder.ts';
export { OpenAiEmbedder, type OpenAiEmbedderOptions } from './embed/openai-embedder.ts';
export {
  OnnxEmbedder,
  ONNX_DEFAULTS,
  ONNX_LIMITS,
  type OnnxEmbedderOptions,
} from './embed/onnx-embedder.ts';
export type { EmbedderFactory } from './embed/embedder-catalog.ts';
export * from './backends/index.ts';
export * from './backup/index.ts';
