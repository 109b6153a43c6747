import { test, expect, hydrated } from "./fixtures";

const fallbackCell = (page, id: string) =>
  page.locator(`tr[data-agent="${id}"] td[data-field="fallback"]`);

test("rollback restores the previous value as a new revision", async ({ page }) => {
  await page.goto("/");
  await hydrated(page);
  await fallbackCell(page, "release-engineer").getByRole("button", { name: "none", exact: true }).click();
  await expect(fallbackCell(page, "release-engineer")).toHaveAttribute("data-value", "none");

  await page.getByRole("link", { name: "Config" }).click();
  await hydrated(page);
  await expect(page.locator("tr[data-revision]")).toHaveCount(2);
  await expect(page.locator('tr[data-revision="2"]')).toContainText("release-engineer: embeddedHarness fallback=none");

  // The change itself, as a diff.
  await page.locator('tr[data-revision="2"]').getByRole("link", { name: "changes" }).click();
  await expect(page.locator('li.change[data-path="agents.entries.release-engineer.embeddedHarness"]')).toBeVisible();
  // Side by side: the three added lines appear only on the right.
  await expect(page.locator(".side-by-side tr.added")).toHaveCount(3);
  await expect(page.locator(".side-by-side tr.added").nth(1)).toContainText('"fallback": "none"');
  await page.screenshot({ path: "test-results/config.png", fullPage: true });

  await page.locator('tr[data-revision="1"]').getByRole("button", { name: "Roll back to #1" }).click();
  await expect(page.locator("tr[data-revision]")).toHaveCount(3);
  await expect(page.locator('tr[data-revision="3"]')).toContainText("rollback to revision #1");
  await expect(page.locator('tr[data-revision="3"]')).toHaveClass(/head/);

  await page.getByRole("link", { name: "Overview" }).click();
  await expect(fallbackCell(page, "release-engineer")).toHaveAttribute("data-value", "pi");
});

test("a stale save gets the conflict view and overwrites nothing", async ({ page, request }) => {
  await page.goto("/config");
  await hydrated(page);
  const editor = page.getByRole("textbox", { name: "Config text" });
  const text = await editor.inputValue();
  // The operator edits builder's harness in the editor…
  await editor.fill(text.replace('"builder": {', '"builder": {\n        // strict, see ticket 42\n        "embeddedHarness": {"fallback": "codex"},'));
  // …while someone else changes release-engineer through the API.
  const res = await request.patch("/api/v1/agents/release-engineer/harness", { data: { fallback: "none" } });
  expect(res.ok()).toBeTruthy();

  await page.getByRole("textbox", { name: "Change message" }).fill("builder codex-only");
  await page.getByRole("button", { name: "Save as new revision" }).click();

  const conflict = page.locator('[data-code="conflict"]');
  await expect(conflict).toContainText("Not saved: the config changed since you opened it.");
  await expect(conflict.locator('li.change[data-path="agents.entries.release-engineer.embeddedHarness"]')).toBeVisible();
  // The operator's text is still there, and nothing was overwritten.
  await expect(editor).toHaveValue(/ticket 42/);
  const agents = await (await request.get("/api/v1/agents")).json();
  const byId = Object.fromEntries(agents.agents.map((a) => [a.id, a]));
  expect(byId["release-engineer"].fallback.value).toBe("none");
  expect(byId["builder"].fallback.value).toBe("pi");
  expect(agents.revision.id).toBe(2);
  await page.screenshot({ path: "test-results/config-conflict.png", fullPage: true });
});

test("an invalid edit is refused with its problems at their paths", async ({ page }) => {
  await page.goto("/config");
  await hydrated(page);
  const editor = page.getByRole("textbox", { name: "Config text" });
  const text = await editor.inputValue();
  await editor.fill(text.replace('"ollama-cloud/glm-5.1"', '"ollama-cloud/glm-9"'));
  await page.getByRole("button", { name: "Save as new revision" }).click();
  const alert = page.getByRole("alert");
  await expect(alert).toContainText("agents.defaults.model.fallbacks[1]");
  await expect(alert).toContainText("does not list model `glm-9`");
  await expect(page.locator("tr[data-revision]")).toHaveCount(1);
});
