/**
 * The [embedder] section -> embedder factories for Registry.open (deps.embedders). The API key
 * is read here, at the edge, from the variable named by embedder.openai.api_key_env: the engine
 * never reads the environment, and the key never appears in the file or in `config show`.
 * The "onnx" embedder is a local model: its options are resolved here, and loadModelEmbedders
 * loads it (async, once) before the server starts, so a broken model fails the start.
 */
import {
  HashEmbedder,
  OnnxEmbedder,
  OpenAiEmbedder,
  type OnnxEmbedderOptions,
  type RegistryDeps,
} from '../../engine/index.ts';
import type { ConfigValues } from './config-schema.ts';

export type EmbedderFactories = NonNullable<RegistryDeps['embedders']>;

export interface EmbedderSetup {
  factories: EmbedderFactories;
  /** Things worth telling the operator at start (a missing key, say). */
  warnings: string[];
  /** The local model to load when embedder.onnx.enabled; see loadModelEmbedders. */
  onnx?: Required<OnnxEmbedderOptions>;
}

export function embedderSetup(v: ConfigValues, env: NodeJS.ProcessEnv): EmbedderSetup {
  const hashDimension = v['embedder.hash.dimension'];
  // A space records its dimension: an existing space keeps it, a new one gets the configured one.
  const factories: EmbedderFactories = {
    hash: (dimension) => new HashEmbedder(dimension ?? hashDimension),
  };
  const warnings: string[] = [];
  if (v['embedder.openai.enabled']) {
    const keyVariable = v['embedder.openai.api_key_env'];
    const apiKey = env[keyVariable];
    if (apiKey === undefined || apiKey === '') {
      warnings.push(
        `embedder "openai": ${keyVariable} is not set, so requests to ${v['embedder.openai.base_url']} carry no API key`,
      );
    }
    const options = {
      baseUrl: v['embedder.openai.base_url'],
      model: v['embedder.openai.model'],
      // The model answers one dimension whatever the space says; the catalog reports a mismatch.
      dimension: v['embedder.openai.dimension'],
      batchSize: v['embedder.openai.batch_size'],
      timeoutMs: v['embedder.openai.timeout_ms'],
      retries: v['embedder.openai.retries'],
      ...(apiKey ? { apiKey } : {}),
    };
    factories.openai = () => new OpenAiEmbedder(options);
  }
  const onnx = v['embedder.onnx.enabled']
    ? {
        modelDir: v['embedder.onnx.model_dir'],
        maxTokens: v['embedder.onnx.max_tokens'],
        batchSize: v['embedder.onnx.batch_size'],
      }
    : undefined;
  return { factories, warnings, ...(onnx ? { onnx } : {}) };
}

/**
 * The factories with the local model loaded: one session shared by every "onnx" space. Fails
 * with ENG_EMBEDDER_UNAVAILABLE (naming the directory and the reason) when it cannot load.
 */
export async function loadModelEmbedders(setup: EmbedderSetup): Promise<EmbedderFactories> {
  if (!setup.onnx) return setup.factories;
  const onnx = await OnnxEmbedder.load(setup.onnx);
  return { ...setup.factories, onnx: () => onnx };
}
