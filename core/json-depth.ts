/**
 * How deep parsed JSON nests: JSON.parse takes any depth, but JSON.stringify, structuredClone and
 * every recursive walk overflow the stack at a few thousand levels, so input from the network or
 * a file is held to a depth before anything walks it.
 */

/** Whether parsed JSON `value` nests arrays and objects more than `max` levels deep. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  // A stack of its own, not recursion: the depth is what is in question.
  const stack: [unknown, number][] = [[value, 0]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [v, depth] = top;
    if (typeof v !== 'object' || v === null) continue;
    if (depth === max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}
