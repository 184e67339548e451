// ESLint (flat config) for the TypeScript packages, type-aware through
// tsconfig.tests.json (sources and tests). The rules chosen are the ones that
// catch real defects here: a promise nobody awaits or handles (an unhandled
// rejection ends a Node process) and a promise passed where a plain callback
// is expected. Run by `make lint` after `tsc -b` (imports of @tda/* resolve to
// the built declarations).
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "**/dist/**",
      "**/gen/**",
      "**/node_modules/**",
      "build/**",
      "console/**",
      "bench/**",
      "engine-cpp/**",
      "flink/**",
      "gateway/rest/**",
      "deploy/**",
      "*.js",
      "*.mjs",
    ],
  },
  {
    files: ["services/*/src/**/*.ts", "services/*/test/**/*.ts", "gateway/src/**/*.ts", "test/**/*.ts"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: "./tsconfig.tests.json", tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@typescript-eslint": tseslint.plugin },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
    },
  },
);
