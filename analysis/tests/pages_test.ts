/**
 * The dashboards in a real browser: Debian's Chromium driven by
 * playwright-core (no browser download). Every page loads without a console
 * error or a failed request; the numbers on a page equal the question API's
 * answers for the same view and the ground truth computed from the inputs;
 * filters live in the URL; suppressed cells show as suppressed; the cluster
 * timeline is for analysts only. Each page's screenshot is saved.
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { parquetReadObjects } from "npm:hyparquet@1.33.0";
import { PAGES } from "../src/pages/catalog.ts";
import {
  expectedSuccess,
  type GenCluster,
  generateClusters,
  onpremArchive,
  writeSaasExport,
} from "./population.ts";
import { importSaasExport, startService, type TestService } from "./support.ts";

const READER = "reader-token-0123456789";
const ANALYST = "analyst-token-0123456789";
const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const SCREENSHOTS = new URL("../../docs/screenshots/", import.meta.url).pathname;
const HOSTILE = `Failed installing cluster. Reason: <img src=x onerror="window.__xss=1">`;

type Row = Record<string, unknown>;

/** Ground truth's inputs: SaaS and on-prem clusters, two on-prem ones on a rare version. */
function population(): { saas: GenCluster[]; onprem: GenCluster[] } {
  const saas = generateClusters("saas", 60);
  const onprem = generateClusters("onprem", 42);
  onprem[40].openshiftVersion = "4.15.2";
  onprem[41].openshiftVersion = "4.15.2";
  return { saas, onprem };
}

async function seed(service: TestService, inputs: ReturnType<typeof population>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "saas-export-" });
  try {
    await writeSaasExport(dir, inputs.saas, { lifecycle: true });
    await importSaasExport(service, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  for (const [i, c] of inputs.onprem.entries()) {
    const bytes = await onpremArchive(c, {
      deploymentType: i % 2 ? "MCE" : "ACM",
      failureMessage: i === 2 ? HOSTILE : undefined,
    });
    await service.ingest.accept(bytes, { kind: "archive", channel: "upload", orgLabel: "org-a" });
  }
  await service.ingest.settled();
}

async function api(service: TestService, path: string, token = READER): Promise<Response> {
  return await fetch(`${service.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
}

/** Every panel's table as rows of raw values, with the API address it claims to show. */
async function panelsOf(page: Page): Promise<Array<{ api: string; rows: Row[] }>> {
  return await page.$$eval("section.panel[data-api]", (sections) =>
    sections.map((s) => ({
      api: s.getAttribute("data-api")!,
      rows: [...s.querySelectorAll("tbody tr")].map((tr) =>
        Object.fromEntries(
          [...tr.querySelectorAll("td[data-col]")].map((td) => [
            td.getAttribute("data-col"),
            JSON.parse(td.getAttribute("data-value")!),
          ]),
        )
      ),
    })));
}

/** Loads `path` and fails on any console error, page error or failed request. */
async function visit(page: Page, url: string): Promise<string[]> {
  const problems: string[] = [];
  const onConsole = (m: { type(): string; text(): string }) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  };
  const onError = (e: Error) => problems.push(`page error: ${e.message}`);
  const onFailed = (r: { url(): string }) => problems.push(`failed request: ${r.url()}`);
  const onResponse = (r: { url(): string; status(): number }) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  };
  page.on("console", onConsole);
  page.on("pageerror", onError);
  page.on("requestfailed", onFailed);
  page.on("response", onResponse);
  try {
    await page.goto(url, { waitUntil: "load" });
  } finally {
    page.off("console", onConsole);
    page.off("pageerror", onError);
    page.off("requestfailed", onFailed);
    page.off("response", onResponse);
  }
  return problems;
}

async function signIn(page: Page, service: TestService, token: string): Promise<void> {
  await page.context().clearCookies();
  await page.goto(`${service.url}/login`);
  await page.fill("input[name=token]", token);
  await Promise.all([page.waitForURL(`${service.url}/`), page.click("button[type=submit]")]);
}

Deno.test("the dashboards in Chromium: every page, its numbers, its filters, its access", async (t) => {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium is not at ${CHROMIUM}: install Debian's chromium (CI does) or set CHROMIUM_PATH`,
    );
  }
  const inputs = population();
  const service = await startService({
    tokens: { readers: new Set([READER]), analysts: new Set([ANALYST]) },
  });
  let browser: Browser | undefined;
  try {
    await seed(service, inputs);
    await Deno.mkdir(SCREENSHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM });
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();

    await t.step(
      "without a token the pages ask to sign in, and a wrong token is refused",
      async () => {
        const res = await fetch(`${service.url}/pages/versions`);
        assert.equal(res.status, 401);
        assert.match(await res.text(), /name="token"/);
        await page.goto(`${service.url}/login`);
        await page.fill("input[name=token]", "not-a-known-token");
        await page.click("button[type=submit]");
        assert.match(await page.textContent("p.error") ?? "", /not known/);
      },
    );

    await t.step("a bad filter is a 400 page that says which, never a crash", async () => {
      for (
        const [query, said] of [
          ["from=yesterday", /from must be a date/],
          ["source=everywhere", /source must be/],
          ["manual=sometimes", /manual must be/],
        ] as const
      ) {
        const res = await api(service, `/pages/versions?${query}`);
        assert.equal(res.status, 400, query);
        assert.match(await res.text(), said);
      }
      const missing = await api(service, "/pages/no-such-page");
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
    });

    await signIn(page, service, READER);

    await t.step("every page loads cleanly, and every table equals the API's answer", async () => {
      const paths = ["/", ...PAGES.map((p) => `/pages/${p.id}`)];
      for (const path of paths) {
        for (const view of ["", "?source=split"]) {
          const problems = await visit(page, `${service.url}${path}${view}`);
          assert.deepEqual(problems, [], `${path}${view}`);
          const panels = await panelsOf(page);
          assert.ok(panels.length > 0, `${path} has panels`);
          for (const panel of panels) {
            const answer = await (await api(service, panel.api)).json();
            const expected = answer.rows.map((r: Row) =>
              Object.fromEntries(Object.keys(panel.rows[0] ?? {}).map((k) => [k, r[k] ?? null]))
            );
            assert.deepEqual(panel.rows, expected, `${path}${view}: ${panel.api}`);
          }
          if (!view) {
            const name = path === "/" ? "overview" : path.split("/").at(-1);
            await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
          }
        }
      }
    });

    await t.step("the numbers shown are the ground truth of the inputs", async () => {
      await visit(page, `${service.url}/pages/versions?source=split`);
      const [byVersion] = await panelsOf(page);
      for (const source of ["saas", "onprem"] as const) {
        const clusters = inputs[source].filter((c) =>
          c.openshiftVersion.startsWith("4.18.") && c.emailDomain !== "redhat.com"
        );
        const row = byVersion.rows.find((r) => r.key === "4.18" && r.source === source)!;
        const truth = expectedSuccess(clusters);
        assert.equal(row.n, truth.n, source);
        assert.equal(row.clusters_installed, truth.clusters_installed, source);
        assert.equal(row.success_rate, truth.success_rate, source);
      }
      // The funnel's last step counts the clusters that ever installed.
      await visit(page, `${service.url}/pages/funnel?source=onprem`);
      const [funnel] = await panelsOf(page);
      const installed = funnel.rows.find((r) => r.step === "Installed")!;
      const truth = inputs.onprem.filter((c) =>
        c.emailDomain !== "redhat.com" && c.results.includes("installed")
      ).length;
      assert.equal(installed.clusters, truth);
    });

    await t.step("a changed filter changes the URL and the numbers", async () => {
      await visit(page, `${service.url}/pages/versions`);
      const before = await panelsOf(page);
      await Promise.all([
        page.waitForURL(/source=onprem/),
        page.selectOption("select[name=source]", "onprem"),
      ]);
      assert.match(page.url(), /\/pages\/versions\?source=onprem$/);
      const after = await panelsOf(page);
      assert.notDeepEqual(after[0].rows, before[0].rows);
      const onprem = inputs.onprem.filter((c) =>
        c.openshiftVersion.startsWith("4.18.") && c.emailDomain !== "redhat.com"
      );
      assert.equal(after[0].rows.find((r) => r.key === "4.18")!.n, expectedSuccess(onprem).n);
      await Promise.all([
        page.waitForURL(/platform=vsphere/),
        page.selectOption("select[name=platform]", "vsphere"),
      ]);
      assert.match(page.url(), /source=onprem/);
      assert.match(page.url(), /platform=vsphere/);
      // A host filter (the reference's manufacturer control): only on-prem hosts are HPE here.
      await visit(page, `${service.url}/pages/versions`);
      await Promise.all([
        page.waitForURL(/vendor=HPE/),
        page.selectOption("select[name=vendor]", "HPE"),
      ]);
      const hpe = await panelsOf(page);
      assert.equal(hpe[0].rows.find((r) => r.key === "4.18")!.n, expectedSuccess(onprem).n);
      await visit(page, `${service.url}/pages/versions?source=onprem&platform=vsphere`);
      // The same link in a fresh page shows the same view.
      const again = await context.newPage();
      await again.goto(page.url());
      assert.deepEqual(await panelsOf(again), await panelsOf(page));
      await again.close();
    });

    await t.step("a cell of fewer than k clusters shows as suppressed, never as zero", async () => {
      await visit(page, `${service.url}/pages/versions?source=onprem`);
      const cell = page.locator("section.panel").first().locator("tr", { hasText: "4.15" });
      assert.match(await cell.textContent() ?? "", /suppressed/);
      const values = await cell.locator("td[data-col=n]").getAttribute("data-value");
      assert.equal(values, "null");
      assert.match(await page.textContent("body") ?? "", /4\.15 \(suppressed\)/);
    });

    await t.step("text from archives is shown as text, never run", async () => {
      await visit(page, `${service.url}/pages/failures?internal=include`);
      assert.equal(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined);
      // Shown as the text it is (numbers blanked by the failure grouping).
      assert.ok(
        (await page.textContent("body"))!.includes('<img src=x onerror="window.__xss=<n>">'),
      );
      assert.equal(await page.locator("main img").count(), 0);
    });

    await t.step("charts answer a hover with the value", async () => {
      await visit(page, `${service.url}/pages/platforms`);
      const bar = page.locator('figure.chart [ecmeta_ssr_type="chart"]').first();
      await bar.hover({ force: true });
      await page.waitForSelector(".tooltip:not([hidden])");
      assert.match(await page.textContent(".tooltip") ?? "", /: /);
    });

    await t.step("each chart's rows download as CSV and Parquet", async () => {
      await visit(page, `${service.url}/pages/versions`);
      const csvHref = await page.locator("a", { hasText: "CSV" }).first().getAttribute("href");
      const parquetHref = await page.locator("a", { hasText: "Parquet" }).first()
        .getAttribute("href");
      const jsonHref = await page.locator("a", { hasText: "JSON" }).first().getAttribute("href");
      const json = await (await page.request.get(`${service.url}${jsonHref}`)).json();
      const csv = await page.request.get(`${service.url}${csvHref}`);
      assert.equal(csv.status(), 200);
      assert.match(csv.headers()["content-disposition"], /attachment; filename=.*\.csv/);
      assert.equal((await csv.text()).trim().split("\r\n").length, json.rows.length + 1);
      const parquet = await page.request.get(`${service.url}${parquetHref}`);
      assert.equal(parquet.status(), 200);
      const bytes = new Uint8Array(await parquet.body());
      const rows = await parquetReadObjects({ file: bytes.buffer as ArrayBuffer });
      assert.equal(rows.length, json.rows.length);
      const byKey = (r: Row) => String(r.key);
      assert.deepEqual(
        rows.map((r) => [byKey(r), r.success_rate ?? null]).sort(),
        json.rows.map((r: Row) => [byKey(r), r.success_rate ?? null]).sort(),
      );
    });

    await t.step(
      "the cluster timeline refuses a reader and shows an analyst everything, logged",
      async () => {
        const res = await page.request.get(`${service.url}/clusters`);
        assert.equal(res.status(), 403);
        const cluster = inputs.onprem[3];
        assert.equal(
          (await api(service, `/api/v1/questions/cluster-timeline?cluster=${cluster.id}`)).status,
          403,
        );
        await signIn(page, service, ANALYST);
        assert.deepEqual(await visit(page, `${service.url}/clusters?cluster=${cluster.id}`), []);
        const attempts = page.locator('section[data-question="cluster-attempts"] tbody tr');
        assert.equal(await attempts.count(), cluster.results.length);
        const events = page.locator('section[data-question="cluster-timeline"] tbody tr');
        assert.ok(await events.count() >= cluster.results.length);
        assert.ok(service.audit.some((l) => l.question === "cluster-timeline" && l.via === "page"));
        await page.screenshot({ path: `${SCREENSHOTS}timeline.png`, fullPage: true });
      },
    );
  } finally {
    await browser?.close();
    await service.close();
  }
});
