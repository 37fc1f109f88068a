// Shared with the API service: the one implementation lives in @matchcast/runtime.
export { OriginPolicy } from '@matchcast/runtime';
