/** The storage conformance suite against the embedded backend: the Registry over LMDB, in temp dirs. */
import { Registry, type StorageEngine } from '../../engine/index.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { runStorageConformance } from './storage-conformance.ts';

const dataRoots = new WeakMap<StorageEngine, string>();

async function openAt(dataRoot: string): Promise<StorageEngine> {
  const registry = await Registry.open({ dataRoot });
  dataRoots.set(registry, dataRoot);
  return registry;
}

runStorageConformance('embedded LMDB registry', {
  open: async () => openAt(await tempDir('engram-conformance-')),
  reopen: async (previous) => {
    const dataRoot = dataRoots.get(previous);
    if (dataRoot === undefined) throw new Error('reopen() was given an engine open() did not make');
    return openAt(dataRoot);
  },
});
