// Opens each dashboard page in headless Chromium as a person would, and reports what it saw as JSON:
// console errors, page errors, any request that left the local server, every chart (rendered? how many
// shapes?), every headline tile and table cell. Saves a full-page screenshot per page.
//   NODE_PATH=dashboards/node_modules node tests/dashboards/browse.cjs <base-url> <screenshot-dir> <page>...
"use strict";
const path = require("node:path");
const { chromium } = require("playwright-core");

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

async function visit(browser, base, file, shots) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const seen = { file, console_errors: [], page_errors: [], external_requests: [], failed_requests: [] };
  page.on("console", (m) => m.type() === "error" && seen.console_errors.push(m.text()));
  page.on("pageerror", (e) => seen.page_errors.push(String(e)));
  page.on("requestfailed", (r) => seen.failed_requests.push(r.url()));
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(base)) return route.continue();
    seen.external_requests.push(url);
    return route.abort();
  });
  const response = await page.goto(`${base}/${file}`, { waitUntil: "load" });
  seen.status = response.status();
  // Every chart says it finished drawing (ECharts "finished"); an empty one never does.
  await page
    .waitForFunction(
      () => [...document.querySelectorAll(".chart")].every((c) => c.dataset.rendered === "true"),
      null,
      { timeout: 15000 },
    )
    .catch(() => {});
  Object.assign(
    seen,
    await page.evaluate(() => ({
      title: document.querySelector("h1")?.textContent,
      charts: [...document.querySelectorAll(".chart")].map((c) => ({
        query: c.dataset.query,
        points: Number(c.dataset.points),
        rendered: c.dataset.rendered === "true",
        // bars and lines are <path> elements in the SVG renderer
        shapes: c.querySelectorAll("svg path").length,
        text: c.textContent.slice(0, 200),
      })),
      tiles: [...document.querySelectorAll(".tile")].map((t) => ({
        headline: t.dataset.headline,
        currency: t.dataset.currency || null,
        label: t.querySelector(".label")?.textContent,
        value: t.querySelector(".value")?.textContent,
      })),
      tables: [...document.querySelectorAll("table[data-query]")].map((t) => ({
        query: t.dataset.query,
        rows: [...t.querySelectorAll("tbody tr")].map((r) =>
          Object.fromEntries([...r.querySelectorAll("td")].map((td) => [td.dataset.col, td.textContent])),
        ),
      })),
      dbt_tests: document.querySelector("[data-dbt-tests]")?.dataset.dbtTests ?? null,
    })),
  );
  const shot = path.join(shots, file.replace(/\.html$/, ".png"));
  await page.screenshot({ path: shot, fullPage: true });
  seen.screenshot = shot;
  await context.close();
  return seen;
}

async function main() {
  const [base, shots, ...files] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  try {
    const pages = [];
    for (const file of files) pages.push(await visit(browser, base, file, shots));
    process.stdout.write(JSON.stringify({ chromium: browser.version(), pages }));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
