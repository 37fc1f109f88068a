import type { ServerResponse } from 'node:http';

/**
 * Headers on the scoreboard page and its scripts (express.static's setHeaders). The page sets its
 * own Content-Security-Policy in a <meta>; what a <meta> cannot say is said here: no page of
 * another site may frame it (the organiser's announcement form would otherwise be open to
 * clickjacking), and browsers take each file as the type it is served as.
 */
export function setPageHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', "frame-ancestors 'none'");
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
}
