import { test, expect, hydrated } from "./fixtures";

test("reorder builder's chain and save it", async ({ page, request }) => {
  await page.goto("/");
  await hydrated(page);
  await page.locator('tr[data-agent="builder"]').getByRole("link", { name: "Builder" }).click();
  await expect(page.getByRole("heading", { name: "Builder" })).toBeVisible();
  // What confines exec on this host, and where the setting comes from.
  const sandbox = page.locator('dd[data-field="sandbox"]');
  await expect(sandbox).toHaveAttribute("data-value", "landlock");
  await expect(sandbox).toContainText(/landlock \(ABI \d+\): writes limited to workspace \+ tmp|landlock cannot be enforced/);
  await expect(sandbox.locator(".src")).toHaveText("built-in");
  const items = page.locator("ol.chain-editor li");
  await expect(items).toHaveCount(4);

  // ollama-cloud/glm-5.1 to the front: the external model becomes the primary.
  await page.getByRole("button", { name: "Move ollama-cloud/glm-5.1 up" }).click();
  await page.getByRole("button", { name: "Move ollama-cloud/glm-5.1 up" }).click();
  await page.getByRole("button", { name: "Remove openrouter/deepseek/deepseek-v3.2" }).click();
  await expect(items).toHaveCount(3);
  await expect(items.first()).toHaveAttribute("data-candidate", "ollama-cloud/glm-5.1");
  await page.getByRole("textbox", { name: "Change message" }).fill("glm first while spark is capped");
  await page.getByRole("button", { name: "Save chain" }).click();
  await expect(page.getByRole("status")).toHaveText("Saved.");

  // The matrix follows the saved chain.
  await expect(page.locator("table.matrix tbody tr").first()).toContainText("ollama-cloud/glm-5.1");
  await page.screenshot({ path: "test-results/agent.png", fullPage: true });

  await page.reload();
  await hydrated(page);
  await expect(items.first()).toHaveAttribute("data-candidate", "ollama-cloud/glm-5.1");
  const builder = await (await request.get("/api/v1/agents/builder")).json();
  expect(builder.primary).toEqual({ value: "ollama-cloud/glm-5.1", source: "agent" });
  expect(builder.fallbacks.value).toEqual(["openai-codex/gpt-5.3-codex-spark", "openai-codex/gpt-5.4"]);
  const revs = await (await request.get("/api/v1/config/revisions")).json();
  expect(revs[0].message).toBe("glm first while spark is capped");

  // Adding a model from the configured providers.
  await page.getByRole("combobox", { name: "Model to add" }).selectOption("openrouter/deepseek/deepseek-v3.2");
  await page.getByRole("button", { name: "Add" }).click();
  await expect(items).toHaveCount(4);
});

test("a stale chain save conflicts instead of overwriting", async ({ page, request }) => {
  await page.goto("/agents/builder");
  await hydrated(page);
  await page.getByRole("button", { name: "Move openai-codex/gpt-5.4 up" }).click();
  await request.patch("/api/v1/agents/qa-engineer/harness", { data: { fallback: "pi" } });
  await page.getByRole("button", { name: "Save chain" }).click();
  await expect(page.locator('[data-code="conflict"]')).toContainText("Not saved");
  const builder = await (await request.get("/api/v1/agents/builder")).json();
  expect(builder.primary.value).toBe("openai-codex/gpt-5.3-codex-spark");
});
