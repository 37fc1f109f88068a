/** One jest run for everything: unit tests beside each package, end-to-end and chaos tests in tests/. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/services', '<rootDir>/tests'],
  testMatch: ['**/test/**/*.test.ts', '<rootDir>/tests/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  moduleNameMapper: { '^@matchcast/(protocol|db|runtime|testkit)$': '<rootDir>/packages/$1/src',
    '^@matchcast/chaos$': '<rootDir>/services/chaos/src' },
  testTimeout: 60_000,
  maxWorkers: 2,
};
