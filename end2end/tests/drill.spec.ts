import { test, expect, hydrated } from "./fixtures";

const SPARK = "openai-codex/gpt-5.3-codex-spark";

// Each test has its own server and data dir (fixtures.ts), so the fallback
// changes below never reach another test.

const trailRows = (page) => page.locator('[data-testid="drill-result"] table.timeline tbody tr');
const step = (page, decision: string, candidate: string, reason: string) =>
  trailRows(page)
    .filter({ has: page.locator(`td:nth-child(4) code`, { hasText: new RegExp(`^${decision}$`) }) })
    .filter({ has: page.locator(`td:nth-child(2) code`, { hasText: candidate }) })
    .filter({ has: page.locator(`td:nth-child(5) code`, { hasText: new RegExp(`^${reason}$`) }) });

test("crash drill for release-engineer: fallback none stops the chain, one click to pi hands off", async ({ page, request }) => {
  const none = await request.patch("/api/v1/agents/release-engineer/harness", { data: { fallback: "none" } });
  expect(none.status()).toBe(200);

  await page.goto("/");
  await hydrated(page);
  await page.getByRole("link", { name: "Drill", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Drill" })).toBeVisible();
  await page.getByRole("combobox", { name: "Agent" }).selectOption("release-engineer");
  await page.getByRole("button", { name: "Show" }).click();

  // The agent's settings, with where they come from, next to the drill.
  const settings = page.getByRole("complementary", { name: "Agent settings" });
  await expect(settings.locator('dd[data-field="fallback"]')).toHaveAttribute("data-value", "none");
  await expect(settings.locator('dd[data-field="fallback"] .src')).toHaveText("agent");
  await expect(settings.locator('dd[data-field="runtime"] .src')).toHaveText("inherited");
  await expect(settings.locator(".chain-warnings")).toContainText("fallback: none");

  // The primary is picked; process-layer classes are offered there, and the
  // ones that cannot be injected say why.
  await expect(page.locator(".drill-candidates li.current")).toHaveAttribute("data-candidate", SPARK);
  await expect(page.locator('.inject-option[data-class="run_timeout"] .why')).toContainText("time budget");
  await page.getByRole("radio", { name: "harness_crashed" }).check();
  await page.getByRole("button", { name: "Run drill" }).click();

  await expect(step(page, "candidate_failed", SPARK, "harness_crashed")).toHaveCount(1);
  const outcome = page.getByTestId("drill-outcome");
  await expect(outcome).toHaveAttribute("data-ok", "false");
  await expect(outcome).toContainText("harness_crashed");
  await expect(outcome).toContainText("`embeddedHarness.fallback: none` stopped the chain");
  await expect(outcome).toContainText("never tried: openai-codex/gpt-5.4, ollama-cloud/glm-5.1, openrouter/deepseek/deepseek-v3.2");
  await expect(page).toHaveURL(/inject=harness_crashed/);
  await page.screenshot({ path: "test-results/drill-none.png", fullPage: true });

  await page.getByRole("button", { name: "Change fallback to pi and drill again" }).click();

  await expect(step(page, "skip_candidate", "openai-codex/gpt-5.4", "harness_down")).toHaveCount(1);
  await expect(step(page, "harness_handoff", "ollama-cloud/glm-5.1", "harness_crashed")).toHaveCount(1);
  const served = step(page, "candidate_succeeded", "ollama-cloud/glm-5.1", "none");
  await expect(served).toHaveCount(1);
  await expect(served.locator("td:nth-child(3)")).toHaveText("native");
  await expect(step(page, "candidate_failed", SPARK, "harness_crashed")).toHaveCount(1);
  await expect(outcome).toHaveAttribute("data-ok", "true");
  await expect(outcome).toContainText("ollama-cloud/glm-5.1");
  await expect(settings.locator('dd[data-field="fallback"]')).toHaveAttribute("data-value", "pi");
  await expect(page.getByRole("button", { name: "Change fallback to pi and drill again" })).toHaveCount(0);
  await page.screenshot({ path: "test-results/drill-pi.png", fullPage: true });

  // A real config revision, written like the Agent page's switch.
  const agent = await (await request.get("/api/v1/agents/release-engineer")).json();
  expect(agent.fallback).toEqual({ value: "pi", source: "agent" });
  const revs = await (await request.get("/api/v1/config/revisions")).json();
  expect(revs[0].message).toBe("release-engineer: embeddedHarness fallback=pi");
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the drill and the fallback change work as plain forms", async ({ page, request }) => {
    await request.patch("/api/v1/agents/release-engineer/harness", { data: { fallback: "none" } });
    await page.goto("/agents/release-engineer");
    await page.getByRole("link", { name: "Drill a failure" }).click();
    await expect(page).toHaveURL(/\/drill\?agent=release-engineer$/);
    await page.getByRole("radio", { name: "harness_crashed" }).check();
    await page.getByRole("button", { name: "Run drill" }).click();
    await expect(step(page, "candidate_failed", SPARK, "harness_crashed")).toHaveCount(1);
    await expect(page.getByTestId("drill-outcome")).toContainText("`embeddedHarness.fallback: none` stopped the chain");

    // A native form post; the server redirects back to the same drill.
    await page.getByRole("button", { name: "Change fallback to pi and drill again" }).click();
    await expect(page).toHaveURL(/inject=harness_crashed/);
    await expect(step(page, "harness_handoff", "ollama-cloud/glm-5.1", "harness_crashed")).toHaveCount(1);
    await expect(page.getByTestId("drill-outcome")).toHaveAttribute("data-ok", "true");
    await expect(page.locator("body[data-hydrated]")).toHaveCount(0);
  });
});
