/**
 * The roles matchcast understands, granted by the token's roles claim (AUTH_ROLES_CLAIM):
 *   admin    manage anything; read any user's stream
 *   service  a backend of the app: create notifications for users
 * Every other role is carried but means nothing here.
 */
export const ROLES = { admin: 'admin', service: 'service' } as const;
export type Role = (typeof ROLES)[keyof typeof ROLES];
