// Shared with the API service: the one implementation lives in @matchcast/runtime.
export { clientAddress } from '@matchcast/runtime';
