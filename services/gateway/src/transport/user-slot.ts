/** Counts users' open connections against WS_MAX_CONNECTIONS_PER_USER (ConnectionLimits). */
export interface UserCap {
  /** One more connection of the user, or throws TOO_MANY_CONNECTIONS; the release is safe to call twice. */
  takeUser(userId: string): Promise<() => void>;
}

/**
 * A connection's one place under the per-user cap, and its only owner: claimed at the door for
 * the token's user, or later by a `refresh` that makes an anonymous connection a user's, and
 * freed once, when the connection closes (admission's release).
 */
export class UserSlot {
  private releaseTaken: (() => void) | undefined;
  private freed = false;

  constructor(private readonly cap: UserCap) {}

  /** Takes the user's place unless the connection holds one (or is anonymous); throws TOO_MANY_CONNECTIONS past the cap. */
  async claim(userId: string | undefined): Promise<void> {
    if (userId === undefined || this.releaseTaken || this.freed) return;
    const release = await this.cap.takeUser(userId);
    // Closed while Redis answered: the place goes at once.
    if (this.freed) return release();
    this.releaseTaken = release;
  }

  /** The connection closed (safe twice; a claim still under way frees its place when done). */
  free(): void {
    this.freed = true;
    this.releaseTaken?.();
    this.releaseTaken = undefined;
  }
}
