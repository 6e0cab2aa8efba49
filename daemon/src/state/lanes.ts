/**
 * Runs `fn` on each item, at most `lanes` at a time, in item order as lanes free up; rejects with the first failure
 * (lanes already running finish their item, none starts another). Written here rather than taken from p-limit (only
 * a transitive dependency of the dev tools): the two callers need this loop and nothing else.
 */
export async function inLanes<T>(
  items: readonly T[],
  lanes: number,
  fn: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < items.length && !failed; i = next++) {
      try {
        await fn(items[i], i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
}
