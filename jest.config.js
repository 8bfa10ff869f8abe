/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  // The Redis tests need a real redis-server and run on their own: jest.redis.config.js.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/tests/redis/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleNameMapper: { '^replaykit$': '<rootDir>/lib/index.ts' },
};
