import { ProtocolError } from '@matchcast/protocol';
import { ConnectionLimits } from '../../src/transport/connection-limits';
import { UserSlot } from '../../src/transport/user-slot';

/** A cluster-wide count whose answers the test gives, in order: true = taken, false = the user is at the cap. */
function heldCluster() {
  const pending: ((answer: boolean) => void)[] = [];
  const released: string[] = [];
  let n = 0;
  return {
    pending,
    released,
    take: (userId: string) =>
      new Promise<(() => void) | undefined>((resolve) => {
        const id = `${userId}#${n++}`;
        pending.push((taken) => resolve(taken ? () => void released.push(id) : undefined));
      }),
  };
}

const limits = (maxPerUser: number, cluster?: ReturnType<typeof heldCluster>) =>
  new ConnectionLimits({ maxPerAddress: 0, perAddressPerSecond: 0, maxPerUser }, cluster);

describe('a connection\'s per-user slot (UserSlot over ConnectionLimits)', () => {
  it('holds one place, taken once (a second claim, as a later refresh, takes none), freed once', async () => {
    const cap = limits(1);
    const slot = new UserSlot(cap);
    await slot.claim('u');
    await slot.claim('u');
    await expect(new UserSlot(cap).claim('u')).rejects.toMatchObject({ code: 'TOO_MANY_CONNECTIONS' });
    slot.free();
    slot.free();
    await new UserSlot(cap).claim('u');
    await expect(new UserSlot(cap).claim('u')).rejects.toBeInstanceOf(ProtocolError);
  });

  it('takes no place for an anonymous connection, and one when a refresh makes it a user\'s', async () => {
    const cap = limits(1);
    const slot = new UserSlot(cap);
    await slot.claim(undefined);
    await new UserSlot(cap).claim('u');
    await expect(slot.claim('u')).rejects.toMatchObject({ code: 'TOO_MANY_CONNECTIONS' });
  });

  it('counts this process\'s place before the cluster answers, so admissions waiting on Redis together cannot pass the cap here', async () => {
    const cluster = heldCluster();
    const cap = limits(1, cluster);
    const first = new UserSlot(cap).claim('u');
    await expect(new UserSlot(cap).claim('u')).rejects.toMatchObject({ code: 'TOO_MANY_CONNECTIONS' });
    cluster.pending.shift()!(true);
    await first;
  });

  it('refuses when the cluster is full, and frees this process\'s place then', async () => {
    const cluster = heldCluster();
    const cap = limits(2, cluster);
    const refused = new UserSlot(cap).claim('u');
    cluster.pending.shift()!(false);
    await expect(refused).rejects.toMatchObject({ code: 'TOO_MANY_CONNECTIONS', message: expect.stringContaining('per user') });
    // Both places here are free again: two more pass this process's count.
    const two = [new UserSlot(cap).claim('u'), new UserSlot(cap).claim('u')];
    for (const answer of cluster.pending.splice(0)) answer(true);
    await Promise.all(two);
  });

  it('frees at once a place whose claim completes after the connection closed', async () => {
    const cluster = heldCluster();
    const cap = limits(1, cluster);
    const slot = new UserSlot(cap);
    const claim = slot.claim('u');
    slot.free();
    cluster.pending.shift()!(true);
    await claim;
    expect(cluster.released).toEqual(['u#0']);
    // And here too: another connection of the user is admitted.
    const next = new UserSlot(cap).claim('u');
    cluster.pending.shift()!(true);
    await next;
  });
});
