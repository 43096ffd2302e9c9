/** A plain memory record for tests of pure functions (recall ranking, spreading, log entries). */
import type { MemoryRecord } from '../../engine/memory.ts';

export function testRecord(id: string, fields: Partial<MemoryRecord> = {}): MemoryRecord {
  return {
    id,
    content: id,
    metadata: {},
    confidence: 0.7,
    memoryType: 'episodic',
    tags: [],
    observedAt: 1,
    suppressed: false,
    storedAt: 1,
    updatedAt: 1,
    lsn: 1,
    hasVector: false,
    ...fields,
  };
}
