// The Redis tests (tests/redis): against real redis-server processes that each test file
// starts on a free loopback port in a temporary directory (scripts/redis-server.js). The
// global setup installs redis-server with apt-get when missing (as root on Debian/Ubuntu).
// One file at a time: the fault tests run child processes and restart servers, and the
// machine is small.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests/redis'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/tests/redis/global-setup.js',
  maxWorkers: 1,
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleNameMapper: { '^replaykit$': '<rootDir>/lib/index.ts' },
};
