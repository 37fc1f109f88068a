/**
 * Test tiers, one jest project each (`pnpm test:<tier> [paths and jest options]`, or `jest --selectProjects <tier>`):
 *
 *   unit         packages/<name>/test/unit, services/<name>/test/unit — pure code: no Postgres,
 *                Redis, child process, socket or browser; runs from source in seconds, no build
 *   integration  the other tests in packages/<name>/test and services/<name>/test — throwaway
 *                real Postgres and Redis servers, child processes
 *   e2e          tests/e2e — the built services as processes, clients over WS/SSE, the scoreboard
 *                page in Chromium (`make test-tools` installs it; `make test` does it first)
 *   chaos        tests/chaos — killing and pausing Postgres, Redis, listeners and gateways
 *   deploy       tests/deploy and tests/docs — chart, manifests, compose, images, docs vs. code
 *   fuzz         tests/fuzz — property-based fuzzing of a real gateway process
 *   compose      tests/compose — a running docker-compose.yml stack; only when MATCHCAST_COMPOSE_STACK
 *                is set, as `make test-compose` (scripts/test-compose.sh) does after bringing it up
 *
 * A bare `jest` (`make test`, `pnpm test`) runs every project. `pnpm test:<tier>` names its tier in
 * MATCHCAST_TIER, not with --selectProjects: that option takes every word after it for another
 * project's name, so the paths given after it were ignored and the whole tier ran. A new test folder under tests/
 * must be added to a project here, or it is not run. testTimeout and maxWorkers are global
 * options: they stay at the top level, not per project.
 */
const shared = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  moduleNameMapper: { '^@matchcast/(protocol|db|runtime|testkit|client|auth)$': '<rootDir>/packages/$1/src',
    '^@matchcast/chaos$': '<rootDir>/services/chaos/src',
    // ESM-ready sources (packages/client) import siblings as './x.js'; jest runs the .ts.
    '^(\\.{1,2}/.*)\\.js$': '$1' },
};

const tier = (displayName, roots, testMatch, extra = {}) => ({ ...shared, displayName, roots, testMatch, ...extra });
const besidePackages = ['<rootDir>/packages', '<rootDir>/services'];

const projects = [
  tier('unit', besidePackages, ['**/test/unit/**/*.test.ts']),
  tier('integration', besidePackages, ['**/test/**/*.test.ts'], {
    testPathIgnorePatterns: [...shared.testPathIgnorePatterns, '/test/unit/'],
  }),
  tier('e2e', ['<rootDir>/tests/e2e'], ['**/*.test.ts']),
  tier('chaos', ['<rootDir>/tests/chaos'], ['**/*.test.ts']),
  tier('deploy', ['<rootDir>/tests/deploy', '<rootDir>/tests/docs'], ['**/*.test.ts']),
  tier('fuzz', ['<rootDir>/tests/fuzz'], ['**/*.test.ts']),
  ...(process.env.MATCHCAST_COMPOSE_STACK ? [tier('compose', ['<rootDir>/tests/compose'], ['**/*.test.ts'])] : []),
];

module.exports = {
  projects: process.env.MATCHCAST_TIER ? projects.filter((project) => project.displayName === process.env.MATCHCAST_TIER) : projects,
  testTimeout: 60_000,
  // One test file at a time: most start their own Postgres, Redis and service processes, and two
  // at once on a 2-core machine (a chaos test beside a browser test) took one to 74 s where it
  // takes 11-22 s alone, and timing-bound tests then failed one run in two or three.
  maxWorkers: 1,
};
