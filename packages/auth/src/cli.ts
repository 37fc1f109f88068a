#!/usr/bin/env node
/**
 * `make token USER=alice ROLES=admin,service [TTL=3600]`: prints an HS256 token for trying the
 * API and the sockets by hand. The secret is AUTH_JWT_SECRET, else the one `make demo` wrote
 * to .demo-data/dev-auth-secret.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ID_PATTERN } from '@matchcast/protocol';
import { mintToken } from './mint';
import { MIN_HS_SECRET_BYTES } from './verifier';

export const DEMO_SECRET_FILE = join('.demo-data', 'dev-auth-secret');

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  // Empty arguments count as not given (`make token` passes ROLES and TTL even when unset).
  const [argSubject, argRoles, argTtl] = process.argv.slice(2).map((arg) => arg || undefined);
  const subject = argSubject ?? process.env.TOKEN_USER;
  const roles = argRoles ?? process.env.TOKEN_ROLES ?? '';
  const ttl = argTtl ?? process.env.TOKEN_TTL ?? '3600';
  if (!subject || !ID_PATTERN.test(subject)) fail(`USER must match ${ID_PATTERN.source}`);
  if (!/^\d+$/.test(ttl) || Number(ttl) < 1 || Number(ttl) > 86_400 * 30) fail('TTL must be 1..2592000 seconds');
  const secret = process.env.AUTH_JWT_SECRET || (existsSync(DEMO_SECRET_FILE) ? readFileSync(DEMO_SECRET_FILE, 'utf8').trim() : '');
  if (!secret) fail(`set AUTH_JWT_SECRET, or run \`make demo\` first (it writes ${DEMO_SECRET_FILE})`);
  if (Buffer.byteLength(secret) < MIN_HS_SECRET_BYTES) fail(`the secret must be at least ${MIN_HS_SECRET_BYTES} bytes (the services refuse shorter ones)`);
  const roleList = roles.split(',').map((role) => role.trim()).filter(Boolean);
  // The services' AUTH_* settings, so the token passes their verifier as configured.
  const token = await mintToken(secret, {
    subject,
    roles: roleList,
    ttlSeconds: Number(ttl),
    rolesClaim: process.env.AUTH_ROLES_CLAIM || 'roles',
    ...(process.env.AUTH_JWT_ISSUER ? { issuer: process.env.AUTH_JWT_ISSUER } : {}),
    ...(process.env.AUTH_JWT_AUDIENCE ? { audience: process.env.AUTH_JWT_AUDIENCE } : {}),
  });
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
