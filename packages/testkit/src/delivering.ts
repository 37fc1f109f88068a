import { waitFor } from './ports';

/**
 * Resolves once a gateway's ops /readyz (`ops`: its base URL, http://host:port) answers 200 in
 * `mode`: its bus path is then in place. Wait for this before a test NOTIFYs or publishes on the
 * bus itself. The broker-mode gauge is no such sign: it names the mode at start, before the
 * LISTEN (Postgres) or SUBSCRIBE (Redis) exists, and a message sent before that is never seen —
 * a test counting its forgeries then waits for ones that never arrive. Readiness needs the LISTEN
 * connection listening, or a listener heartbeat received over the subscription.
 */
export async function deliveringThrough(ops: string, mode: 'redis' | 'postgres', timeoutMs = 20_000): Promise<void> {
  let last = 'no answer';
  await waitFor(
    `the gateway at ${ops} delivering through ${mode}`,
    async () => {
      const res = await fetch(`${ops}/readyz`);
      const body = (await res.json()) as { mode?: string };
      last = `${res.status} ${JSON.stringify(body)}`;
      return res.status === 200 && body.mode === mode ? true : undefined;
    },
    timeoutMs,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; /readyz last answered ${last}`, { cause: error });
  });
}
