/** "Did you mean" for configuration keys and environment variables. */

/** Levenshtein distance, stopping early once it exceeds `limit`. */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length]!;
}

/** camelCase and kebab-case spelled the TOML way: dataRoot, data-root -> data_root. */
export function toSnakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();
}

/**
 * The candidate closest to `name`: the same name in snake_case, the same last segment elsewhere
 * (a key in the wrong section), or the nearest by edit distance (at most 2, or a third of the
 * name for long ones). Undefined when nothing is close.
 */
export function nearestName(
  name: string,
  candidates: readonly string[],
  maxDistance?: number,
): string | undefined {
  const snake = toSnakeCase(name);
  if (snake !== name && candidates.includes(snake)) return snake;
  const leaf = (path: string) => path.slice(path.lastIndexOf('.') + 1);
  const sameLeaf = candidates.filter((c) => leaf(c) === leaf(snake));
  if (sameLeaf.length === 1) return sameLeaf[0];
  const limit = maxDistance ?? Math.max(2, Math.floor(snake.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const distance = editDistance(snake, candidate, limit);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
