/**
 * Checks that span keys, or that the engine owns: the backend, space ids, the embedder choice,
 * and the engine's own ranges (run through validateEngineOptions, its messages renamed to the
 * configuration keys the user wrote).
 */
import {
  isEngramError,
  parseSpaceId,
  validateEngineOptions,
  type EngineOptions,
} from '../../engine/index.ts';
import { usageError } from '../cli-error.ts';
import { CONFIG_KEYS, specOf, type ConfigKey } from './config-schema.ts';
import { describeOrigin } from './config-value.ts';
import type { ResolvedConfig } from './load-config.ts';
import { toEngineOptions } from './server-options.ts';

function where(config: ResolvedConfig, key: ConfigKey): string {
  return `${key} (${describeOrigin(config.origins[key])})`;
}

function checkSpaceId(config: ResolvedConfig, key: ConfigKey, id: string): void {
  try {
    parseSpaceId(id);
  } catch (error) {
    if (!isEngramError(error)) throw error;
    throw usageError(`${where(config, key)}: ${error.message}`);
  }
}

function checkEngine(config: ResolvedConfig): void {
  try {
    validateEngineOptions(toEngineOptions(config.values));
  } catch (error) {
    if (!isEngramError(error, 'ENG_OPTIONS_INVALID')) throw error;
    const option = /Option "(\w+)"/.exec(error.message)?.[1] as keyof EngineOptions | undefined;
    const key = CONFIG_KEYS.find((k) => specOf(k).engine === option);
    throw usageError(
      key === undefined
        ? error.message
        : error.message.replace(`Option "${option}"`, where(config, key)),
    );
  }
}

export function validateConfig(config: ResolvedConfig): void {
  const v = config.values;
  if (v['persistence.backend'] === 'postgres') {
    const url = v['persistence.postgres_url'];
    if (url === '') {
      throw usageError(
        `${where(config, 'persistence.backend')} is "postgres", but no connection string is set: set ENGRAM_POSTGRES_URL (or persistence.postgres_url)`,
      );
    }
    if (!/^postgres(ql)?:\/\/./.test(url) || !URL.canParse(url)) {
      // The value holds a password: name the key, never echo it.
      throw usageError(
        `${where(config, 'persistence.postgres_url')} must be a postgres:// or postgresql:// URL`,
      );
    }
  }
  checkSpaceId(config, 'memory_spaces.default_space', v['memory_spaces.default_space']);
  for (const id of v['memory_spaces.bootstrap_spaces']) {
    checkSpaceId(config, 'memory_spaces.bootstrap_spaces', id);
  }
  for (const name of ['openai', 'onnx'] as const) {
    if (v['embedder.default'] === name && !v[`embedder.${name}.enabled`]) {
      throw usageError(
        `${where(config, 'embedder.default')} is "${name}", but embedder.${name}.enabled is false`,
      );
    }
  }
  if (v['embedder.openai.enabled']) {
    const url = v['embedder.openai.base_url'];
    if (!/^https?:\/\/./.test(url) || !URL.canParse(url)) {
      throw usageError(
        `${where(config, 'embedder.openai.base_url')} must be an http(s) URL, got "${url}"`,
      );
    }
    if (v['embedder.openai.model'].trim() === '') {
      throw usageError(`${where(config, 'embedder.openai.model')} must name a model`);
    }
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v['embedder.openai.api_key_env'])) {
    throw usageError(
      `${where(config, 'embedder.openai.api_key_env')} must be the name of an environment variable, got "${v['embedder.openai.api_key_env']}"`,
    );
  }
  checkEngine(config);
}
