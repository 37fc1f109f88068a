/**
 * How each image is built from the one root Dockerfile: the service, and the variable and
 * default of its health port (the HEALTHCHECK reads the variable at run time). Compose and
 * the CI workflow must pass these same build arguments.
 */
export const SERVICE_IMAGES = [
  { service: 'gateway', portVar: 'OPS_PORT', port: 8083 },
  { service: 'notify-listener', portVar: 'LISTENER_PORT', port: 8081 },
  { service: 'crawler', portVar: 'CRAWLER_PORT', port: 8082 },
  { service: 'api', portVar: 'OPS_PORT', port: 8091 },
  { service: 'notifier', portVar: 'OPS_PORT', port: 8092 },
] as const;

/** The Dockerfile's defaults; build arguments equal to them may be left out. */
export const DEFAULT_HEALTH = { portVar: 'PORT', port: 8080 } as const;
