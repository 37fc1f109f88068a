/**
 * How deep an event's data may nest (arrays and objects) and still be delivered. Every message
 * type's data is a few levels deep; JSON.stringify recurses and overflows the stack a few
 * thousand levels down, which jsonb (up to ~10,000) and a login with INSERT on a domain table
 * can reach.
 */
export const MAX_EVENT_DATA_DEPTH = 64;

/** Whether a parsed JSON value nests arrays and objects deeper than `maxDepth`; iterative, so no depth exhausts the stack. */
export function nestsDeeperThan(root: unknown, maxDepth: number): boolean {
  const stack: Array<{ value: object; depth: number }> = [];
  if (typeof root === 'object' && root !== null) stack.push({ value: root, depth: 1 });
  for (let item = stack.pop(); item; item = stack.pop()) {
    if (item.depth > maxDepth) return true;
    for (const child of Array.isArray(item.value) ? item.value : Object.values(item.value)) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child as object, depth: item.depth + 1 });
    }
  }
  return false;
}
