/** Length in Unicode code points, as Postgres's char_length counts. */
export function codePoints(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}
