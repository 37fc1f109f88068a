export { TokenVerifier, validateKeys, ANONYMOUS, MIN_HS_SECRET_BYTES, type AuthConfig, type Identity } from './verifier';
export { readAuthConfig, hasKeys } from './config';
export { mintToken, type MintOptions } from './mint';
export { ROLES, type Role } from './roles';
