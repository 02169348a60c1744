/** Unit, contract and integration tests (jest). Slow system suites have their own scripts. */
const aliases = {};
for (const name of ['config', 'templates', 'azure', 'guest', 'emulator', 'cli', 'lifecycle']) {
  aliases[`^@openclawps/${name}$`] = `<rootDir>/packages/${name}/src/index.ts`;
}
aliases['^@openclawps/actions-common$'] = '<rootDir>/actions/common/index.ts';

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/actions', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/test/system/', '/test/e2e/', '/test/reliability/'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
    ],
  },
  moduleNameMapper: aliases,
  testTimeout: 60000,
  maxWorkers: 2,
};
