/** Two projects: unit specs beside the code, e2e specs in test/ against real Postgres, Redis and Chromium. */
const ts = { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] };
module.exports = {
  projects: [
    { displayName: 'unit', testEnvironment: 'node', roots: ['<rootDir>/src'], testMatch: ['**/*.spec.ts'], transform: ts },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.e2e-spec.ts'],
      transform: ts,
      globalSetup: '<rootDir>/test/global-setup.ts',
      testTimeout: 120000,
    },
  ],
};
