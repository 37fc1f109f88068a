/**
 * Type-level: the client's wire types (src/wire.ts, restated so the client ships with no
 * dependency) are the same types as @matchcast/protocol's. Any divergence is a compile error
 * here; test/unit/wire-types.test.ts compiles this file.
 */
import type * as Protocol from '@matchcast/protocol';
import type * as Wire from '../../src/wire';

/** True only when A and B are the same type (not merely assignable either way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Flattens intersections, member by member of a union, so structurally equal shapes compare equal. */
type Flat<T> = T extends unknown ? { [K in keyof T]: T[K] } : never;
/** A protocol client message as JSON carries it: `resume` is an optional object, not a parsed Map. */
type AsJson<M> = M extends { resume: Map<string, number> } ? Flat<Omit<M, 'resume'> & { resume?: Record<string, number> }> : Flat<M>;

type Assert<T extends true> = T;

export type Checks = [
  Assert<Equal<Wire.ErrorCode, Protocol.ErrorCode>>,
  Assert<Equal<Wire.MatchStatus, Protocol.MatchStatus>>,
  Assert<Equal<Wire.EventType, Protocol.ClientEventType>>,
  Assert<Equal<Wire.Ref, Protocol.Ref>>,
  Assert<Equal<Wire.MatchSnapshot, Protocol.MatchSnapshot>>,
  Assert<Equal<Wire.DeliveredMessage, Protocol.DeliveredMessage>>,
  Assert<Equal<Flat<Wire.ControlMessage>, Flat<Protocol.ServerMessage>>>,
  Assert<Equal<Flat<Wire.ClientMessage>, AsJson<Protocol.ClientMessage>>>,
];
