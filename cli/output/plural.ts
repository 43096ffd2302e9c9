/** "1 memory", "2 memories": counts in messages read as English. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
