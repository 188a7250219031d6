// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    // Generated media (`.ts` MPEG-TS files) and run data are not TypeScript.
    ignores: [
      "dist/**",
      "node_modules/**",
      "coverage/**",
      "*.config.js",
      "*.config.ts",
      ".bench/**",
      ".streamqc-eval/**",
      "data/**",
      "tmp/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Build scripts in plain JavaScript (run by `npm run build` before anything is compiled).
        projectService: { allowDefaultProject: ["scripts/*.mjs"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Unused names hide dead code; a leading underscore marks a deliberate one.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Floating promises lose errors from decoders and deliveries: every promise is awaited or voided on purpose.
      "@typescript-eslint/no-floating-promises": "error",
      // process.env is read in config/ only, so configuration is validated in one place.
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "Read the environment in src/config/ only." },
      ],
    },
  },
  {
    files: ["src/config/**", "test/**", "scripts/**"],
    rules: { "no-restricted-properties": "off" },
  },
);
