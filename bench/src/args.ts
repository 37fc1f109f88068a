/**
 * Command-line flags of the smaller benches: `--flag value` pairs. `take` handles one flag and
 * returns false for one it does not know (an error, as is a flag without its value).
 */
export function parseFlags(argv: string[], take: (flag: string, value: () => string) => boolean): void {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    if (!take(flag, value)) throw new Error(`unknown option ${flag}`);
  }
}

export function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected a positive integer, got ${text}`);
  return n;
}

/** A comma-separated list of positive integers: `--clients 5000,20000`. */
export const positiveInts = (flag: string, text: string): number[] => text.split(',').map((part) => positiveInt(flag, part));
