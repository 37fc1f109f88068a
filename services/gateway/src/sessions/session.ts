import { ProtocolError, baseChannel, type PresenceTransport, isOwnChannelStream, isPrivateLeagueEvent, isPrivateStream, privateLeagueOf, routeEvent, type ClientMessage, type OutboxEvent } from '@matchcast/protocol';
import { unavailable } from '@matchcast/db';
import { TokenBucket, type Logger } from '@matchcast/runtime';
import { handOver } from '../delivery/fanout';
import { ReplayFrames, type EventFrames } from '../delivery/frames';
import type { SubscriptionRegistry } from '../delivery/registry';
import type { Subscriber } from '../delivery/subscriber';
import type { Identity, TokenVerifier } from '@matchcast/auth';
import { authorizeChannel, mayAccess, ownersNeeded, type KnownOwners } from './authorize';
import { ALL_PUBLIC, type LeagueAccess, type Revocation } from './league-access';
import type { PurchaseOwners } from './purchase-owners';
import type { Caller, Replayer } from './replay';
import type { UserSlot } from '../transport/user-slot';

/** The outbox reads sessions need (the Replayer, or a fake in unit tests). */
export type History = Pick<Replayer, 'replay' | 'changedSince' | 'committedHeads'>;

/** Transactions rarely run longer than this between an event's creation and its commit. */
const SINCE_MARGIN_MS = 5000;
/**
 * Per connection, the subscribes that cost the database what a well-behaved client does not
 * repeat: READ_BURST at once, then READS_PER_SECOND; past that, RATE_LIMITED at once, before any
 * read. Each takes from the pool every client's resumes share, and one connection's requests
 * run one after another:
 * - one that resumes (`since`, `resume`): where memory does not reach back, a `since` look-up
 *   and stream replays on the outbox (2,500 of them on a gateway a second old took 20 s to
 *   answer and read the outbox 4,000 times). A client resumes once per connection;
 * - one that named a match, team, league or purchase the database does not have: a read
 *   every time, since a missing id is not remembered (it may be created a moment later) — a
 *   flood of subscribes to made-up matches was a read per message. A client names what exists;
 * - one that adds a user or purchase channel: the first local subscriber of a private stream
 *   has its head read (on the sequencer's pool, which gap fills and catch-ups need), and the
 *   last one's unsubscribe forgets it, so subscribe and unsubscribe of one's own user:<id> in
 *   turn was a read per pair of messages. A client subscribes its own streams once.
 */
const READ_BURST = 10;
const READS_PER_SECOND = 1;
const READ_BUDGET_MESSAGE =
  `too many subscribes that resume, name what does not exist or add user or purchase channels (${READ_BURST} at once, then ${READS_PER_SECOND} a second); resume once per connection`;
/** setTimeout's longest delay; a later expiry is re-armed from there. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface SessionLimits {
  maxChannels: number;
  maxReplayEvents: number;
  /** How far back `since` may reach: the outbox keeps no more than this. */
  historyRetentionMs: number;
}

export type SubscribeRequest = Extract<ClientMessage, { action: 'subscribe' }>;

/** A subscriber with an identity: what every transport hands to sessions. */
export interface Client extends Subscriber {
  /** Who the client is; replaced by a `refresh` with a new token for the same user. */
  identity: Identity;
  readonly transport: PresenceTransport;
  /** When the connection opened (unix ms). */
  readonly connectedAt: number;
  /** The address group it connected from (addressGroup): whose turn its reads take. */
  readonly addressGroup: string;
  /** Its place under the per-user cap (admission's), for a `refresh` that makes an anonymous connection a user's. */
  readonly userSlot?: UserSlot;
}

/** What sessions report; the gateway's metrics fit it. */
export interface SessionMetrics {
  clientErrors: { inc(labels: { code: string }): void };
  replays: { inc(): void };
}

/** The delivered position of each stream: where a resume's replay ends and live delivery begins. */
export interface StreamPositions {
  lastSeq(stream: string): number;
  /** Resolves once lastSeq is known for these streams (a private stream's is learnt when first subscribed here). */
  known(streams: readonly string[]): Promise<void>;
}

/**
 * What clients ask of the gateway, whatever the transport: subscribe (with resume and
 * since), unsubscribe, ping, refresh. Owns each client's life between open() and closed(),
 * so nothing of a closed client survives it (channel sets, replays, expiry timers).
 */
export class Sessions {
  private readonly expiries = new Map<Client, NodeJS.Timeout>();
  /** Made at a connection's first subscribe that may cost one (see READ_BURST); goes with the client. */
  private readonly readBudgets = new WeakMap<Client, TokenBucket>();
  /** Replayed events' frames, built once for all clients replaying the same event. */
  private readonly replayFrames = new ReplayFrames();

  constructor(
    private readonly registry: SubscriptionRegistry,
    private readonly positions: StreamPositions,
    private readonly replayer: History,
    private readonly verifier: TokenVerifier,
    private readonly limits: SessionLimits,
    private readonly metrics: SessionMetrics,
    private readonly logger: Logger,
    /** The buyers of purchases, for purchase:<id> channels. */
    private readonly purchaseOwners?: Pick<PurchaseOwners, 'known' | 'load'>,
    /** Private leagues: the league of match and team channels, each league's privacy and members. */
    private readonly leagueAccess?: LeagueAccess,
  ) {
    // A match or team first read here (or read in another league than before: moved) may have
    // subscribers granted without knowing its league (an id not existing yet): decided again.
    leagueAccess?.onPlaced((leagues) => {
      for (const league of leagues) if (leagueAccess.isPrivate(league)) this.revoke({ league, membersKnown: true });
    });
  }

  /** What decisions about league, team and match channels are made with (every league public without it). */
  private get leagues() {
    return this.leagueAccess ?? ALL_PUBLIC;
  }

  /**
   * What a decision on these names needs: the buyers of the purchases among them and the
   * league states (none for an admin), read together (one query each) for those not cached;
   * synchronous when nothing is read, so a subscribe of cached channels stays within its turn.
   * For a `client`, a read that finds an id missing takes from its read budget, and none starts
   * when that is spent — unless the request already took its one (`paid`): a subscribe adding
   * its own purchase channel was charged twice, and refused at the budget's last read.
   */
  private lookUps(identity: Identity, names: string[], client?: Client, paid = false): KnownOwners | undefined | Promise<KnownOwners | undefined> {
    const { purchaseOwners, leagueAccess } = this;
    const ids = purchaseOwners ? ownersNeeded(identity, names) : [];
    const cached = ids.length > 0 ? purchaseOwners!.known(ids) : undefined;
    const readOwners = ids.length > 0 && cached === undefined;
    const readLeagues = leagueAccess !== undefined && !identity.roles.has('admin') && leagueAccess.missing(names) !== undefined;
    if (!readOwners && !readLeagues) return cached;
    if (client && !paid && this.readBudgets.get(client)?.available() === false) throw new ProtocolError('RATE_LIMITED', READ_BUDGET_MESSAGE);
    return Promise.all([readOwners ? purchaseOwners!.load(ids) : cached, readLeagues ? leagueAccess!.load(names) : undefined]).then(([owners]) => {
      const missed = (readOwners && purchaseOwners!.known(ids) === undefined) || (readLeagues && leagueAccess!.missing(names) !== undefined);
      if (missed && client) this.spend(client);
      return owners;
    });
  }

  /**
   * Applies an event's news about league access (observe) before it is fanned out: when a member
   * was removed, a league turned private or a private league's match was first seen (or seen in
   * another league than read here), every open subscription to that league's channels that is no
   * longer granted ends at once, each with FORBIDDEN_CHANNEL naming the channel, and the client
   * gets nothing more of it. Where the league's members are not known here, every non-admin's
   * ends: a member subscribes again and is granted after one read. Teams the event names whose
   * league is not read here as it says are read and decided again (recheckTeams). Costs nothing
   * for other events beyond observe's look-ups.
   */
  observe(event: OutboxEvent): void {
    const access = this.leagueAccess;
    if (!access) return;
    const revocation = access.observe(event);
    if (revocation) this.revoke(revocation);
    const unread = revocation?.user === undefined ? revocation?.unread : undefined;
    if (revocation && unread) {
      // What a client subscribed while its read was under way was decided without this match:
      // once read (again: it may have moved league), every subscription to it is decided again.
      const { league } = revocation;
      access.load(unread, true).then(
        () => this.revoke({ league, membersKnown: true }),
        (error: unknown) => this.logger.warn({ err: error, league }, 'reading a league for a re-check failed'),
      );
    }
    this.recheckTeams(event);
  }

  /**
   * Whether an event of a team's or league's own stream (announcements, the league's table and
   * access changes) would go to subscribers here while that team's league, or that league's
   * state, is not read here (or stale): they were granted it before it existed, as public. Its
   * delivery waits for readPlacement (StreamGate), which ends their subscriptions where the
   * team or league turns out to be a private one's they are not members of.
   */
  needsPlacement(event: OutboxEvent): boolean {
    const access = this.leagueAccess;
    if (!access || !(event.stream.startsWith('team:') || event.stream.startsWith('league:'))) return false;
    if (access.missing([event.stream]) === undefined) return false;
    return (this.registry.subscribers(event.stream)?.size ?? 0) > 0 || this.registry.hasTopicSubscribers(event.stream);
  }

  /**
   * Reads a team's or league's placement for needsPlacement (onPlaced decides the subscriptions
   * again). A failed read is logged and the events go on as they would have before (the ids
   * stay public until read, as when subscribed).
   */
  readPlacement(stream: string): Promise<void> {
    return this.leagueAccess!.loadForEvent(stream).catch((error: unknown) => this.logger.warn({ err: error, stream }, 'reading a stream\'s league before its events failed'));
  }

  /**
   * A subscription to a team is decided by the team's own league, as read here. When an event
   * says a team may be another league's than read (unreadTeams: a team created after the
   * subscription, moved league, or a visiting club in a league's table), the subscribed ones are
   * read again and every non-admin subscription to them that the team's league does not grant
   * ends. Nothing ends before the read: a club of a public league playing a private cup keeps
   * its followers (the cup's events reach only its members: audience).
   */
  private recheckTeams(event: OutboxEvent): void {
    const access = this.leagueAccess!;
    const teams = access.unreadTeams(event)?.filter((name) => (this.registry.subscribers(name)?.size ?? 0) > 0 || this.registry.hasTopicSubscribers(name));
    if (!teams?.length) return;
    access.load(teams, true).then(
      () => {
        const leagues = new Set(teams.map((name) => access.leagueOf({ kind: 'team', id: name.slice('team:'.length) })));
        for (const owner of leagues) if (owner !== undefined) this.revoke({ league: owner, membersKnown: true });
      },
      (error: unknown) => this.logger.warn({ err: error, stream: event.stream }, 'reading teams for a re-check failed'),
    );
  }

  private revoke(revocation: Revocation): void {
    const access = this.leagueAccess!;
    const { league } = revocation;
    const unread = revocation.user === undefined ? revocation.unread : undefined;
    const lost = (identity: Identity, name: string): boolean => {
      if (revocation.user !== undefined) return access.belongsTo(name, league);
      if (unread) return unread.includes(baseChannel(name)) && !(revocation.membersKnown && access.isMember(league, identity.userId));
      return access.belongsTo(name, league) && !(revocation.membersKnown && mayAccess(identity, name, undefined, access));
    };
    for (const subscriber of this.registry.clients()) {
      const client = subscriber as Client;
      if (client.identity.roles.has('admin')) continue;
      if (revocation.user !== undefined && client.identity.userId !== revocation.user) continue;
      for (const name of [...client.channels].filter((channel) => lost(client.identity, channel))) {
        this.registry.unsubscribe(client, name);
        this.reject(client, new ProtocolError('FORBIDDEN_CHANNEL', `"${name}" is no longer granted: only members of this private competition may see it`, { channel: name }));
      }
    }
  }

  /**
   * Who may have a private league's match event, on every channel it is routed to (match, team,
   * league): its members and admins — decided per event, not by the subscription, which another
   * league may have granted: a team's own (a club of a public league in a private cup keeps its
   * followers, who get only its public events), or the league a match was read in before it
   * moved into this one. Undefined (every subscriber, on every channel) for any other event.
   */
  audience(event: OutboxEvent): ((channel: string, subscriber: Subscriber) => boolean) | undefined {
    const access = this.leagueAccess;
    const league = access && privateLeagueOf(event);
    if (!access || league === undefined) return undefined;
    return (_channel, subscriber) => {
      const { identity } = subscriber as Client;
      return identity.roles.has('admin') || access.isMember(league, identity.userId);
    };
  }

  open(client: Client): void {
    this.registry.add(client);
    this.watchExpiry(client);
  }

  closed(client: Client): void {
    this.registry.remove(client);
    clearTimeout(this.expiries.get(client));
    this.expiries.delete(client);
  }

  async handle(client: Client, message: ClientMessage): Promise<void> {
    switch (message.action) {
      case 'subscribe':
        try {
          return await this.subscribe(client, message);
        } catch (error) {
          // Refused whole: the error answers this message in place of `subscribed`, and says so.
          return this.reject(client, error, message.channels);
        }
      case 'unsubscribe':
        for (const channel of message.channels) this.registry.unsubscribe(client, channel);
        client.send({ type: 'unsubscribed', channels: message.channels });
        return;
      case 'ping':
        client.send({ type: 'pong', timestamp: new Date().toISOString() });
        return;
      case 'refresh':
        return this.refresh(client, message.token);
    }
  }

  /** Sends an error message with its stable code (and the channels of the subscribe it refuses); the connection lives on. */
  reject(client: Client, error: unknown, refusedChannels?: string[]): void {
    const failure = ProtocolError.from(unavailable(error) ?? error);
    if (failure.code === 'INTERNAL') this.logger.error({ err: error, client_id: client.id }, 'request failed');
    this.metrics.clientErrors.inc({ code: failure.code });
    client.send({
      type: 'error',
      code: failure.code,
      message: failure.message,
      ...(failure.stream ? { stream: failure.stream } : {}),
      ...(failure.channel ? { channel: failure.channel } : {}),
      ...(refusedChannels ? { channels: refusedChannels } : {}),
    });
  }

  /**
   * Everything a subscribe must pass before anything changes (and, for SSE, before the 200) —
   * the channel limit and the one authorization decision for every channel and every `resume`
   * key, given the buyers of the purchases it names (owners()).
   */
  check(identity: Identity, current: ReadonlySet<string>, request: SubscribeRequest, owners?: KnownOwners): string[] {
    const added = request.channels.filter((name) => !current.has(name));
    if (current.size + added.length > this.limits.maxChannels) {
      throw new ProtocolError('TOO_MANY_CHANNELS', `at most ${this.limits.maxChannels} channels per connection`);
    }
    for (const name of [...added, ...request.resume.keys()]) authorizeChannel(identity, name, owners, this.leagues);
    return added;
  }

  /** check() after looking up the buyers it needs: what SSE endpoints run before their 200. */
  async authorize(identity: Identity, current: ReadonlySet<string>, request: SubscribeRequest): Promise<string[]> {
    return this.check(identity, current, request, await this.lookUps(identity, [...request.channels, ...request.resume.keys()]));
  }

  async subscribe(client: Client, request: SubscribeRequest): Promise<void> {
    const reads = request.since !== undefined || request.resume.size > 0 || request.channels.some((name) => isPrivateStream(name) && !client.channels.has(name));
    if (reads && !this.spend(client)) throw new ProtocolError('RATE_LIMITED', READ_BUDGET_MESSAGE);
    const looked = this.lookUps(client.identity, [...request.channels, ...request.resume.keys()], client, reads);
    const owners = looked instanceof Promise ? await looked : looked;
    if (!this.registry.has(client)) return;
    const added = this.check(client.identity, client.channels, request, owners);
    const channels = new Set([...client.channels, ...added]);
    const alive = () => this.registry.has(client);
    // Only streams that can reach this client's channels are replayed: the rest cost nothing.
    const resume = new Map([...request.resume].filter(([stream]) => mightReach(stream, channels)));
    // A private stream's position is learnt when its first local subscriber comes: wait for it.
    const learning = [...channels].filter(isPrivateStream);
    const since = request.since;
    // A claim beyond what this gateway delivered is checked against the database (below).
    const ahead = [...resume].filter(([stream, seq]) => seq > this.positions.lastSeq(stream)).map(([stream]) => stream);
    const refused: ProtocolError[] = [];
    const holds = since !== undefined || learning.length > 0 || ahead.length > 0;
    const held = holds
      ? await this.hold(client, added, () =>
          Promise.all([
            this.positions.known(learning),
            ahead.length === 0 ? undefined : this.refuseClaimsBeyondHead(client, resume, ahead, refused),
            since === undefined ? undefined : this.expandSince(client, channels, resume, since),
          ]),
        )
      : [];
    if (!alive()) return;
    // Mark every resumed stream before the first await, so no live event of any of them
    // can overtake its replay.
    const replays: { stream: string; afterSeq: number; head: number }[] = [];
    /** Per resumed stream, the seq up to which the client has it or a replay will bring it. */
    const covered = new Map<string, number>();
    for (const [stream, afterSeq] of resume) {
      const head = this.positions.lastSeq(stream);
      covered.set(stream, Math.max(afterSeq, head));
      if (afterSeq >= head) {
        if (afterSeq > head) (client.seenUpTo ??= new Map()).set(stream, afterSeq);
      } else if (head - afterSeq > this.limits.maxReplayEvents) {
        covered.set(stream, afterSeq);
        refused.push(new ProtocolError('RESUME_TOO_OLD', `${stream} is ${head - afterSeq} events behind; reload state`, { stream }));
      } else {
        (client.resuming ??= new Map()).set(stream, []);
        replays.push({ stream, afterSeq, head });
      }
    }
    // A channel taken away during the look-ups (its league's access revoked) stays away: the
    // decision above was made before it.
    if (!holds) for (const name of added) this.registry.subscribe(client, name);
    client.send({ type: 'subscribed', channels: holds ? request.channels.filter((name) => client.channels.has(name)) : request.channels });
    // Events held during the look-up that the client has or a replay brings are dropped; the
    // rest go on as live events would.
    for (const frames of held) {
      if (frames.event.seq > (covered.get(frames.event.stream) ?? 0) && client.channels.has(frames.channel)) handOver(client, frames);
    }
    for (const error of refused) this.reject(client, error);
    for (const { stream, afterSeq, head } of replays) {
      try {
        await this.replay(client, stream, afterSeq, head);
      } catch (error) {
        if (!alive()) return;
        this.reject(client, error);
        // Cut short by the database (not by its history being gone): the stream's later events
        // lie past a gap, and delivered they would move the client's position (its seq, an SSE
        // token) past it, so the resume it is asked to retry would skip the gap. The connection
        // ends instead; its reconnect resumes from what it had.
        if (!historyGone(error)) return client.close(ProtocolError.from(unavailable(error) ?? error).code);
      }
    }
    // Replays run stream after stream: until this, a newer event of one stream says nothing
    // about another's, so a client must not move its `since` past them.
    if ((request.resume.size > 0 || request.since !== undefined) && alive()) {
      client.send({ type: 'resumed', channels: request.channels.filter((name) => client.channels.has(name)) });
    }
  }

  /** The client as its reads' caller: there while the registry has it. */
  private caller(client: Client): Caller {
    return { group: client.addressGroup, alive: () => this.registry.has(client) };
  }

  /** Takes one from the client's read budget; false when it is spent. */
  private spend(client: Client): boolean {
    let budget = this.readBudgets.get(client);
    if (!budget) this.readBudgets.set(client, (budget = new TokenBucket(READS_PER_SECOND, READ_BURST)));
    return budget.take();
  }

  /**
   * Runs the look-ups a subscribe needs first (`since`, user stream positions) with the client
   * already subscribed and its live events held: an event the look-ups cannot see yet
   * (committed after they ran) comes from the hold instead of being lost. Returns the held
   * events; on failure the early subscription is undone.
   */
  private async hold(client: Client, added: string[], lookUps: () => Promise<unknown>): Promise<EventFrames[]> {
    const held: EventFrames[] = [];
    client.holding = held;
    for (const name of added) this.registry.subscribe(client, name);
    try {
      await lookUps();
      return held;
    } catch (error) {
      // Undo the early subscription; what was held for the channels the client had before goes on.
      client.holding = undefined;
      for (const name of added) this.registry.unsubscribe(client, name);
      for (const frames of held) if (client.channels.has(frames.channel)) handOver(client, frames);
      throw error;
    } finally {
      client.holding = undefined;
    }
  }

  /**
   * A resume seq may run ahead of this gateway (the client had it from a faster one), but never
   * ahead of the stream's committed head: such a position is from another history (a restored
   * database, a corrupt store). Trusting it would silence the stream for that client until the
   * seq is reached, so it is refused with RESUME_TOO_OLD — the client reloads state.
   */
  private async refuseClaimsBeyondHead(client: Client, resume: Map<string, number>, streams: string[], refused: ProtocolError[]): Promise<void> {
    const heads = await this.replayer.committedHeads(streams, this.caller(client));
    if (heads === undefined) return;
    for (const stream of streams) {
      const head = heads.get(stream) ?? 0;
      const claimed = resume.get(stream) ?? 0;
      if (claimed <= head) continue;
      resume.delete(stream);
      refused.push(new ProtocolError('RESUME_TOO_OLD', `${stream} has no seq ${claimed} (its head is ${head}); reload state`, { stream }));
    }
  }

  /** Adds to `resume` the streams that changed since `since` and reach the client. */
  private async expandSince(client: Client, channels: ReadonlySet<string>, resume: Map<string, number>, since: string): Promise<void> {
    const changed = await this.replayer.changedSince(this.clampSince(since), SINCE_MARGIN_MS, sinceScope(channels, resume), this.caller(client));
    for (const { stream, afterSeq, routing } of changed ?? []) {
      // A channel the client holds was authorized when subscribed (private streams are only those).
      if ((channels.has(stream) || mayAccess(client.identity, stream, undefined, this.leagues)) && reaches(routing, channels)) resume.set(stream, afterSeq);
    }
  }

  /**
   * Replays a stream's events in (afterSeq, head] from the outbox, then goes live. Live
   * events of the stream wait in the client's `resuming` buffer meanwhile; everything up to
   * `head` comes from the replay and everything after from the buffer, so the seam has no
   * gap and no duplicate. A stream whose events do not reach the client's channels stops
   * after its first row.
   */
  private async replay(client: Client, stream: string, afterSeq: number, head: number): Promise<void> {
    let first = true;
    let cutShort = false;
    this.metrics.replays.inc();
    try {
      await this.replayer.replay(stream, afterSeq, head, this.caller(client), (event: OutboxEvent) => {
        if (first && !reaches(event, client.channels)) return false;
        first = false;
        const admits = this.audience(event);
        const frames = this.replayFrames.forClient(event, client.channels, admits && ((channel) => admits(channel, client)));
        if (frames) client.deliver(frames);
        return true;
      });
    } catch (error) {
      cutShort = !historyGone(error);
      throw error;
    } finally {
      const waiting = client.resuming?.get(stream) ?? [];
      client.resuming?.delete(stream);
      if (client.resuming?.size === 0) client.resuming = undefined;
      // Cut short, what waited lies past a gap: never delivered (the connection ends, see subscribe).
      if (!cutShort) for (const frames of waiting) if (client.channels.has(frames.channel)) client.deliver(frames);
    }
  }

  /**
   * A new token for the same user, before the old one expires: the connection stays, the
   * expiry moves, and channels the new token no longer grants are dropped.
   */
  private async refresh(client: Client, token: string): Promise<void> {
    const identity = await this.verifier.verify(token);
    const current = client.identity.userId;
    if (current !== undefined && identity.userId !== current) {
      throw new ProtocolError('UNAUTHORIZED', 'a refresh token must be for the same user');
    }
    // The connection's own read budget: its made-up ids are read again on every refresh, which
    // is within the message rate, so a refresh flood read as often as a subscribe flood did.
    const looked = this.lookUps(identity, [...client.channels], client);
    const owners = looked instanceof Promise ? await looked : looked;
    if (!this.registry.has(client)) return;
    // An anonymous connection becoming a user's counts against that user's cap from now on, as
    // at the door (TOO_MANY_CONNECTIONS past it; the connection stays anonymous): else any number
    // of anonymous connections, from any addresses, refreshed to one token passed the cap. The
    // place is the connection's own slot, freed with it.
    if (current === undefined) {
      await client.userSlot?.claim(identity.userId);
      if (!this.registry.has(client)) return;
    }
    client.identity = identity;
    const lost = [...client.channels].filter((name) => !mayAccess(identity, name, owners, this.leagues));
    for (const name of lost) this.registry.unsubscribe(client, name);
    if (lost.length > 0) client.send({ type: 'unsubscribed', channels: lost });
    this.watchExpiry(client);
    client.send({ type: 'refreshed', expires_at: identity.expiresAtMs === undefined ? null : new Date(identity.expiresAtMs).toISOString() });
  }

  /**
   * Closes the connection when its token expires (TOKEN_EXPIRED), unless a refresh moved the
   * expiry: past its `exp` and the clock tolerance, as long as the door and `refresh` accept it.
   */
  private watchExpiry(client: Client): void {
    clearTimeout(this.expiries.get(client));
    this.expiries.delete(client);
    if (client.identity.expiresAtMs === undefined) return;
    const expiresAt = client.identity.expiresAtMs + this.verifier.clockToleranceMs;
    const timer = setTimeout(() => {
      this.expiries.delete(client);
      if (Date.now() < expiresAt) return this.watchExpiry(client);
      this.metrics.clientErrors.inc({ code: 'TOKEN_EXPIRED' });
      client.close('TOKEN_EXPIRED');
    }, Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - Date.now())));
    timer.unref();
    this.expiries.set(client, timer);
  }

  /** `since` never reaches before the history window (nothing older is kept) nor after now. */
  private clampSince(since: string): string {
    const now = Date.now();
    const at = Math.min(now, Math.max(now - this.limits.historyRetentionMs, Date.parse(since)));
    return new Date(at).toISOString();
  }
}

/** A replay that ended on RESUME_TOO_OLD: the client reloads the stream, and may have what comes after. */
const historyGone = (error: unknown): boolean => error instanceof ProtocolError && error.code === 'RESUME_TOO_OLD';

/**
 * Whether a stream's events can be routed to any of these channels, judged by name alone:
 * a private stream (user, purchase) or a league, team or all stream only to its own channel; a match stream
 * to its own channel or to any match-wide channel (team, league, live, all) — the first
 * replayed row decides those.
 */
function mightReach(stream: string, channels: ReadonlySet<string>): boolean {
  const bases = baseChannels(channels);
  if (bases.has(stream)) return true;
  if (!stream.startsWith('match:')) return false;
  for (const name of bases) if (!isPrivateStream(name) && !name.startsWith('match:')) return true;
  return false;
}

/** A topic channel is judged by its base channel wherever only names are known (before an event's type is): a superset. */
function baseChannels(channels: ReadonlySet<string>): ReadonlySet<string> {
  for (const name of channels) if (name.includes('/')) return new Set([...channels].map(baseChannel));
  return channels;
}

/**
 * Whether a stream's events reach these channels: its route, with `live:all` as a match may go
 * live, and a topic channel as its base (other events of the stream may be of its topic; the
 * replay picks each event's channel by its topics).
 */
function reaches(event: Pick<OutboxEvent, 'stream' | 'match_id' | 'data'>, channels: ReadonlySet<string>): boolean {
  // A private league's match never reaches live:all (routeEvent), whatever its status.
  if (event.stream.startsWith('match:') && channels.has('live:all') && !isPrivateLeagueEvent(event)) return true;
  const bases = baseChannels(channels);
  return routeEvent(event).some((name) => bases.has(name));
}

/**
 * Which streams a `since` looks at: match streams when any channel takes match events (all but
 * private channels), and by name the channels that are streams of their own (user:<id>,
 * purchase:<id>, and league:<id>, team:<id>, all for their league_table and announcements).
 */
function sinceScope(channels: ReadonlySet<string>, resume: ReadonlyMap<string, number>) {
  const privateStreams = [...channels].filter(isPrivateStream);
  const named = [...privateStreams, ...new Set([...baseChannels(channels)].filter(isOwnChannelStream))];
  return { known: [...resume.keys()], matchStreams: channels.size > privateStreams.length, namedStreams: named };
}
