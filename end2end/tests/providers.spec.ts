import { test, expect, hydrated, loggedInContext } from "./fixtures";

const provider = (page, id: string) => page.locator(`article.provider[data-provider="${id}"]`);
const modelRow = (page, id: string, model: string) => provider(page, id).locator(`tr[data-model="${model}"]`);

test("a test call that hits a rate limit shows the cooldown; the next test call probes it back", async ({ page }) => {
  await page.goto("/providers");
  await hydrated(page);
  const ollama = provider(page, "ollama-cloud");
  await expect(ollama.getByTestId("health")).toHaveText("healthy");
  await expect(modelRow(page, "ollama-cloud", "glm-5.1")).toContainText("available");

  // The demo's glm-5.1 answers its first call with `429 Retry-After: 90`.
  await modelRow(page, "ollama-cloud", "glm-5.1").getByRole("button", { name: "Test call" }).click();
  const result = page.getByTestId("test-result");
  await expect(result).toHaveAttribute("data-ok", "false");
  await expect(result).toContainText("rate_limit");
  await expect(result).toContainText("candidate_failed");

  // The card shows the cooldown with the time left, without a reload.
  const row = modelRow(page, "ollama-cloud", "glm-5.1");
  await expect(row).toContainText("cooling down");
  await expect(row.getByTestId("cooldown-left")).toHaveText(/^1m \d\ds left$|^\d\ds left$/);
  await expect(ollama.getByTestId("health")).toHaveText("degraded");
  await expect(ollama).toContainText("rate_limit × 1");
  await expect(page.locator("table.decisions tr[data-decision=candidate_failed]").first()).toContainText(
    "ollama-cloud/glm-5.1",
  );
  await page.screenshot({ path: "test-results/providers-cooldown.png", fullPage: true });

  // A second test call bypasses the cooldown (recorded as a probe) and succeeds.
  await row.getByRole("button", { name: "Test call" }).click();
  await expect(result).toHaveAttribute("data-ok", "true");
  await expect(result).toContainText("sim ollama-cloud/glm-5.1 ok");
  await expect(result).toContainText("probe_cooldown_candidate");
  await expect(row).toContainText("available");
  await page.screenshot({ path: "test-results/providers-recovered.png", fullPage: true });
});

test("the providers page renders complete without JavaScript", async ({ browser, server }) => {
  const context = await loggedInContext(browser, server.url, { javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${server.url}/providers`);
  // Three provider cards, and the Codex app-server's health card beside them.
  await expect(page.locator("article[data-provider]")).toHaveCount(3);
  await expect(page.locator("article[data-harness]")).toHaveCount(1);
  await expect(page.locator("article[data-harness]")).toContainText("Check handshake");
  await expect(provider(page, "openrouter")).toContainText("in-process sim");
  await expect(provider(page, "openai-codex")).toContainText("Codex app-server");
  await context.close();
});
