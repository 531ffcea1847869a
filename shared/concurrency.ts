import pLimit from 'p-limit';

/**
 * Runs `work` over `items` with at most `limit` in flight (p-limit). The first failure
 * rejects, and items not yet started are dropped: work after a failure would only be
 * redone by the re-run that the failure calls for.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const run = pLimit(Math.max(1, limit));
  await Promise.all(
    items.map((item) =>
      run(() => work(item)).catch((error: unknown) => {
        run.clearQueue();
        throw error;
      }),
    ),
  );
}
