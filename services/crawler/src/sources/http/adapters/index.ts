import type { ProviderAdapter } from '../adapter';
import { footballData } from './football-data';
import { generic } from './generic';

/** The providers CRAWLER_HTTP_PROVIDER can name. */
export const ADAPTERS = { 'football-data': footballData, generic } as const satisfies Record<string, ProviderAdapter>;
export type ProviderName = keyof typeof ADAPTERS;
export const PROVIDER_NAMES = Object.keys(ADAPTERS) as ProviderName[];
