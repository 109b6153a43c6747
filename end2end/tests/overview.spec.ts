import { test, expect, hydrated } from "./fixtures";

const AGENTS = ["adrian-ceo", "builder", "qa-engineer", "release-engineer"];

const row = (page, id: string) => page.locator(`tr[data-agent="${id}"]`);
const fallbackCell = (page, id: string) => row(page, id).locator('td[data-field="fallback"]');

test("lists the four demo agents with their chain and inherited settings", async ({ page }) => {
  await page.goto("/");
  await hydrated(page);
  await expect(page.locator("tbody tr")).toHaveCount(4);
  for (const id of AGENTS) {
    await expect(row(page, id)).toBeVisible();
  }
  const re = row(page, "release-engineer");
  await expect(re).toContainText("gpt-5.3-codex-spark");
  await expect(re.locator("ol.chain li .model")).toHaveText([
    "openai-codex/gpt-5.4",
    "ollama-cloud/glm-5.1",
    "openrouter/deepseek/deepseek-v3.2",
  ]);
  // Which harness serves each candidate: fallback pi hands externals to the native engine…
  await expect(re.locator("ol.chain li .harness")).toHaveText(["codex", "native", "native"]);
  // …while fallback none means they can never run, and the console says so.
  const qa = row(page, "qa-engineer");
  await expect(qa.locator("ol.chain li .harness")).toHaveText(["codex", "never runs", "never runs"]);
  await expect(qa.locator(".chain-warnings")).toContainText(
    "fallback: none — ollama-cloud/glm-5.1 and openrouter/deepseek/deepseek-v3.2 can never run",
  );
  await expect(re.locator(".chain-warnings")).toHaveCount(0);
  await expect(fallbackCell(page, "release-engineer")).toHaveAttribute("data-value", "pi");
  await expect(fallbackCell(page, "release-engineer")).toHaveAttribute("data-source", "defaults");
  await expect(fallbackCell(page, "qa-engineer")).toHaveAttribute("data-value", "none");
  await expect(fallbackCell(page, "qa-engineer")).toHaveAttribute("data-source", "agent");

  await page.screenshot({ path: "test-results/overview.png", fullPage: true });
});

test("flipping release-engineer from pi to none is stored and survives a reload", async ({ page, request }) => {
  await page.goto("/");
  await hydrated(page);
  const cell = fallbackCell(page, "release-engineer");
  await expect(cell).toHaveAttribute("data-value", "pi");

  await cell.getByRole("button", { name: "none", exact: true }).click();
  // Updated in place, without a reload.
  await expect(cell).toHaveAttribute("data-value", "none");
  await expect(cell).toHaveAttribute("data-source", "agent");
  await expect(cell.getByRole("button", { name: "none", exact: true })).toHaveAttribute("aria-pressed", "true");
  // The chain view follows: the external candidates can no longer run.
  await expect(row(page, "release-engineer").locator("ol.chain li .harness")).toHaveText(["codex", "never runs", "never runs"]);
  // Only release-engineer changed.
  await expect(fallbackCell(page, "builder")).toHaveAttribute("data-value", "pi");

  await page.reload();
  await hydrated(page);
  await expect(fallbackCell(page, "release-engineer")).toHaveAttribute("data-value", "none");

  const api = await (await request.get("/api/v1/agents/release-engineer")).json();
  expect(api.fallback).toEqual({ value: "none", source: "agent" });

  // "reset" drops the override and the default shows again.
  await fallbackCell(page, "release-engineer").getByRole("button", { name: "reset" }).click();
  await expect(fallbackCell(page, "release-engineer")).toHaveAttribute("data-source", "defaults");
  await expect(fallbackCell(page, "release-engineer")).toHaveAttribute("data-value", "pi");
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the overview is fully rendered and the switch still works as a form", async ({ page }) => {
    await page.goto("/");
    await expect(page.locator("tbody tr")).toHaveCount(4);
    await expect(page.getByRole("heading", { name: "Fleet" })).toBeVisible();
    await expect(row(page, "builder")).toContainText("ollama-cloud/glm-5.1");
    await expect(page.locator("body[data-hydrated]")).toHaveCount(0);

    // A native form post; the server redirects back to the page.
    await fallbackCell(page, "builder").getByRole("button", { name: "none", exact: true }).click();
    await expect(page).toHaveURL(/\/\??$/);
    await expect(fallbackCell(page, "builder")).toHaveAttribute("data-value", "none");
    await page.screenshot({ path: "test-results/overview-nojs.png", fullPage: true });
  });
});
