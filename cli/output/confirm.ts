/**
 * A yes/no question on stderr, answered on stdin. Stdin that is not a terminal is read too (so
 * `echo y | engram space delete x` works); an empty answer or the end of input means no.
 */
import { createInterface } from 'node:readline/promises';

export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  try {
    process.stderr.write(`${question} [y/N] `);
    const answer = await new Promise<string>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(''));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
