import { test, expect, hydrated, loggedInContext } from "./fixtures";

test("Run now on release-engineer shows the run go queued → running → finished without a reload", async ({ page, request }) => {
  // Slow the serving fallback down (about 4 s of streaming, one word a
  // second) so "running" is seen by the page's one-second refresh.
  const res = await request.get("/api/v1/config");
  const etag = res.headers()["etag"];
  const doc = await res.json();
  doc.config.providers.openrouter.scripts["deepseek/deepseek-v3.2"] = "slow(1)";
  const put = await request.put("/api/v1/config", {
    headers: { "if-match": etag },
    data: { config: doc.config, message: "slow the fallback for the demo" },
  });
  expect(put.status()).toBe(200);

  await page.goto("/jobs");
  await hydrated(page);
  const row = page.locator('tr[data-job="release-check"]');
  await expect(row).toContainText("every 3 minutes");
  await row.getByRole("button", { name: "Run now" }).click();

  const newRun = page.getByTestId("new-run");
  await expect(newRun).toContainText("manual:release-check:1");
  await expect(newRun.locator("[data-status]")).toHaveAttribute("data-status", /queued|running/);
  await expect(newRun.locator("[data-status]")).toHaveAttribute("data-status", "running", { timeout: 15_000 });
  await expect(row).toContainText("running since");
  await page.screenshot({ path: "test-results/jobs-running.png", fullPage: true });
  await expect(newRun.locator("[data-status]")).toHaveAttribute("data-status", "ok", { timeout: 20_000 });
  await expect(newRun).toContainText("openrouter/deepseek/deepseek-v3.2");
  await expect(row).toContainText("last: ok");

  // The run's page: the attempt timeline shows the handoff and the fallback.
  await newRun.getByRole("link", { name: "manual:release-check:1" }).click();
  await expect(page.locator("h1")).toContainText("manual:release-check:1");
  await expect(page.locator("table.timeline tr[data-decision]")).toHaveCount(5);
  await expect(page.locator("table.timeline tr[data-decision=harness_handoff]")).toContainText("harness_crashed");
  await expect(page.locator("table.timeline tr[data-decision=candidate_succeeded]")).toContainText("openrouter/deepseek/deepseek-v3.2");
  await expect(page.locator("ol.transcript")).toContainText("Check the release queue");
  // The log lines that named the run, the router's decision lines among them.
  await expect(page.locator("ol.run-log")).toContainText("[model-fallback/decision] model fallback decision: decision=harness_handoff");
  await page.screenshot({ path: "test-results/run-detail.png", fullPage: true });
});

test("the runs page filters by status and works without JavaScript", async ({ browser, server, request }) => {
  const qa = await request.post("/api/v1/jobs/qa-regression/run");
  const { runId } = await qa.json();
  const ok = await request.post("/api/v1/jobs/release-check/run");
  expect(ok.status()).toBe(202);
  // Wait on the API until both have ended.
  await expect.poll(async () => (await (await request.get("/api/v1/runs?status=queued")).json()).runs.length).toBe(0);
  await expect.poll(async () => (await (await request.get("/api/v1/runs?status=running")).json()).runs.length).toBe(0);

  const context = await loggedInContext(browser, server.url, { javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${server.url}/runs?status=error`);
  await expect(page.locator("tr[data-run]")).toHaveCount(1);
  await expect(page.locator(`tr[data-run="${runId}"]`)).toContainText("harness_crashed");
  await page.goto(`${server.url}/runs`);
  await expect(page.locator("tr[data-run]")).toHaveCount(2);
  await context.close();
});
