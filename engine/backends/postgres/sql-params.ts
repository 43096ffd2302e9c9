/** Positional SQL parameters, numbered as they are added: `p.add(value)` returns "$n". */
export class SqlParams {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}
