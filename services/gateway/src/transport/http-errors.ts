import { ProtocolError } from '@matchcast/protocol';

// Shared with the API service: the one implementation lives in @matchcast/runtime.
export { endSocket, errorResponder, notFound, onClientError } from '@matchcast/runtime';

/** A request target as a URL, or BAD_REQUEST: `new URL()` throws on targets such as `//[`. */
export function parseTarget(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://gateway');
  } catch (error) {
    throw new ProtocolError('BAD_REQUEST', 'request target is not a valid URL', { cause: error });
  }
}

