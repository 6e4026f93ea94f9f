/** Two projects: unit specs beside the code, e2e specs in test/ against real Postgres, Redis and Chromium. */
const transform = {
  '^.+\\.ts$': 'ts-jest',
  // These ship ES modules only (Node 20 requires them natively; jest needs them transpiled):
  // content-disposition 3 (@fastify/static, for Swagger UI's assets) and request-filtering-agent.
  '/node_modules/(content-disposition|request-filtering-agent)/.+\\.js$': [
    'ts-jest',
    { tsconfig: { allowJs: true, isolatedModules: true } },
  ],
};
const transformIgnorePatterns = [
  '/node_modules/(?!(content-disposition|request-filtering-agent)/)',
];

module.exports = {
  testTimeout: 120000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      roots: ['<rootDir>/src'],
      testMatch: ['**/*.spec.ts'],
      transform,
      transformIgnorePatterns,
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.e2e-spec.ts'],
      transform,
      transformIgnorePatterns,
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
