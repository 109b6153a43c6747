import { test, expect, hydrated, login, addUser, ADMIN_PASSWORD } from "./fixtures";

// Roles in the console: what each sees, what the server refuses anyway,
// tokens, logout. Every page load is a real server render plus hydration.

test("a page without a session goes to the login page and back after it", async ({ anonymous, server }) => {
  await anonymous.goto("/jobs");
  await expect(anonymous).toHaveURL(/\/login\?next=%2Fjobs/);
  await anonymous.getByLabel("User name").fill("admin");
  await anonymous.getByLabel("Password").fill("wrong password, surely");
  await anonymous.getByRole("button", { name: "Log in" }).click();
  await expect(anonymous.getByRole("alert")).toContainText("wrong user name or password");
  await anonymous.getByLabel("User name").fill("admin");
  await anonymous.getByLabel("Password").fill(ADMIN_PASSWORD);
  await anonymous.getByRole("button", { name: "Log in" }).click();
  await expect(anonymous).toHaveURL(`${server.url}/jobs`);
  await expect(anonymous.getByRole("heading", { name: "Jobs" })).toBeVisible();
});

test("a viewer sees no Run now or flip controls and gets 403 when posting anyway", async ({ page, anonymous, server }) => {
  await addUser(page, server.url, "vera", "viewer", "vera-password-123");
  await login(anonymous, server.url, "vera", "vera-password-123");
  await anonymous.goto("/jobs");
  await hydrated(anonymous);
  await expect(anonymous.getByTestId("role")).toHaveText("viewer");
  await expect(anonymous.locator("tr[data-job=qa-regression]")).toBeVisible();
  await expect(anonymous.getByRole("button", { name: "Run now" })).toHaveCount(0);
  await anonymous.goto("/");
  await hydrated(anonymous);
  await expect(anonymous.getByRole("button", { name: "none" })).toHaveCount(0);
  await expect(anonymous.getByRole("link", { name: "Access" })).toHaveCount(0);
  // Posting anyway, as the page's own origin would: refused by the server.
  const res = await anonymous.request.post(`${server.url}/console/fn/run_job`, {
    form: { job: "qa-regression" },
    headers: { origin: server.url },
  });
  expect(res.status()).toBe(403);
  const flip = await anonymous.request.patch(`${server.url}/api/v1/agents/builder/harness`, {
    data: { fallback: "none" },
  });
  expect(flip.status()).toBe(403);
});

test("an operator can run a job and flip a fallback", async ({ page, anonymous, server }) => {
  await addUser(page, server.url, "otto", "operator", "otto-password-123");
  await login(anonymous, server.url, "otto", "otto-password-123");
  await anonymous.goto("/jobs");
  await hydrated(anonymous);
  await anonymous.locator("tr[data-job=qa-regression]").getByRole("button", { name: "Run now" }).click();
  await expect(anonymous.getByTestId("new-run")).toContainText("manual:qa-regression:1");
  const res = await anonymous.request.patch(`${server.url}/api/v1/agents/builder/harness`, {
    data: { fallback: "none" },
  });
  expect(res.status()).toBe(200);
  await expect(anonymous.getByRole("link", { name: "Access" })).toHaveCount(0);
});

test("an admin creates a token, sees it once, revokes it; the audit log shows it", async ({ page, server }) => {
  await page.goto("/access");
  await hydrated(page);
  await page.getByLabel("Name").first().fill("ci-deploy");
  await page.getByRole("button", { name: "Create token" }).click();
  const shown = page.getByTestId("new-token");
  await expect(shown).toContainText("ci-deploy");
  const secret = (await shown.locator("code.secret").textContent())!.trim();
  expect(secret).toMatch(/^sy_/);
  const who = await page.request.get(`${server.url}/api/v1/whoami`, {
    headers: { authorization: `Bearer ${secret}` },
  });
  expect((await who.json()).name).toBe("token:ci-deploy");
  await page.reload();
  await hydrated(page);
  await expect(page.getByText(secret)).toHaveCount(0);
  const row = page.getByTestId("tokens").getByRole("row", { name: /ci-deploy/ });
  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(row).toContainText("revoked");
  const after = await page.request.get(`${server.url}/api/v1/whoami`, {
    headers: { authorization: `Bearer ${secret}` },
  });
  expect(after.status()).toBe(401);
  await page.goto("/access?action=token");
  await expect(page.getByTestId("audit")).toContainText("token.revoke");
  await expect(page.getByTestId("audit")).toContainText("token.create");
});

test("logout ends the session", async ({ page, server }) => {
  await page.goto("/");
  await hydrated(page);
  await expect(page.getByTestId("whoami")).toHaveText("user:admin");
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login\?loggedOut=1/);
  await page.goto("/runs");
  await expect(page).toHaveURL(/\/login\?next=%2Fruns/);
  const res = await page.request.get(`${server.url}/api/v1/whoami`);
  expect(res.status()).toBe(401);
});
