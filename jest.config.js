// One jest run over every TypeScript package. Unit tests sit beside their
// modules (*.test.ts); integration and end-to-end suites live in test/.
// Tests are type-checked separately (tsconfig.tests.json); ts-jest only transpiles.
const tsJest = ["ts-jest", { tsconfig: `${__dirname}/tsconfig.tests.json`, diagnostics: false }];

function project(name, dir, extra = {}) {
  return {
    displayName: name,
    rootDir: dir,
    testEnvironment: "node",
    testMatch: ["<rootDir>/**/*.test.ts"],
    testPathIgnorePatterns: ["/node_modules/", "/dist/"],
    transform: { "^.+\\.ts$": tsJest },
    ...extra,
  };
}

module.exports = {
  testTimeout: 60000,
  projects: [
    project("common", "services/common"),
    project("upload", "services/upload"),
    project("scheduler", "services/scheduler"),
    project("gateway", "gateway"),
    project("e2e", "test", { slowTestThreshold: 60 }),
  ],
};
